// Sharding (runner/shard.hpp): a deterministic, balanced split of the plan, and the part
// each engine's environment names.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <algorithm>
#include <set>

#include "ipcmatrix/runner/config.hpp"
#include "ipcmatrix/runner/parsers.hpp"
#include "ipcmatrix/runner/shard.hpp"

using namespace ipcmatrix;

namespace {

RunConfig sweep() {
  RunConfig cfg;
  cfg.patterns = {"pingpong", "stream", "fan-in"};
  cfg.mechanisms = {"pipe", "unix", "shm"};
  cfg.serializers = {"raw", "json"};
  cfg.sizes = {64, 65536, 1 << 20};
  cfg.loads = {*parse_load_label("50%"), *parse_load_label("sporadic")};
  return cfg;
}

/// Clears the engines' variables for one test, and again after it.
struct CleanEnv {
  CleanEnv() { clear(); }
  ~CleanEnv() { clear(); }
  static void clear() {
    for (const char* v : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                          "JOB_COMPLETION_INDEX", kShardCountEnv})
      ::unsetenv(v);
  }
};

}  // namespace

TEST_SUITE("runner/shard") {
  TEST_CASE("the parts are disjoint, cover the plan, keep load points with their cell, and are balanced") {
    const RunConfig cfg = sweep();
    const std::vector<Cell> cells = plan_cells(cfg, 2);
    REQUIRE(cells.size() > 50);
    // The most expensive unit: a closed-loop cell with the load points that follow it.
    double largest_unit = 0, unit = 0;
    for (const Cell& c : cells) {
      unit = c.load ? unit + expected_cost_s(c, cfg) : expected_cost_s(c, cfg);
      largest_unit = std::max(largest_unit, unit);
    }
    for (const int n : {1, 2, 3, 7}) {
      CAPTURE(n);
      std::set<std::size_t> all;
      std::vector<double> cost;
      for (int i = 0; i < n; ++i) {
        const std::vector<std::size_t> mine = shard_cells(cells, cfg, Shard{i, n, "--shard"});
        CHECK(std::is_sorted(mine.begin(), mine.end()));
        CHECK(mine == shard_cells(cells, cfg, Shard{i, n, "--shard"}));  // the same on every machine
        double c = 0;
        for (const std::size_t k : mine) {
          CHECK(all.insert(k).second);  // in one part only
          c += expected_cost_s(cells[k], cfg);
          // A load point runs in the part of the closed-loop cell it is paced from.
          if (cells[k].load) CHECK(std::find(mine.begin(), mine.end(), k - 1) != mine.end());
        }
        cost.push_back(c);
      }
      CHECK(all.size() == cells.size());
      // Longest-processing-time first: no part exceeds another by more than one unit.
      const auto [lo, hi] = std::minmax_element(cost.begin(), cost.end());
      CHECK(*hi - *lo <= largest_unit);
    }
    // Larger and slower-to-serialize cells are expected to cost more.
    CHECK(expected_cost_s(cells.back(), cfg) > 0);
  }

  TEST_CASE("the part: i/N, a Slurm array's task, a Kubernetes Indexed Job's index, or a clear refusal") {
    const CleanEnv env;
    CHECK_FALSE(resolve_shard("").has_value());
    const auto given = resolve_shard("2/5");
    REQUIRE(given);
    CHECK(given->index == 2);
    CHECK(given->count == 5);
    for (const char* bad : {"5/5", "-1/3", "1/0", "a/b", "3", "1/3/4", "1/20000"}) {
      CAPTURE(bad);
      CHECK_THROWS_AS(check_shard_text(bad), UsageError);
    }
    CHECK_THROWS_AS((void)resolve_shard("auto"), UsageError);  // no engine set a part
    // Slurm: --array=1-3 gives task ids 1..3, the count and the minimum.
    ::setenv("SLURM_ARRAY_TASK_ID", "3", 1);
    ::setenv("SLURM_ARRAY_TASK_COUNT", "3", 1);
    ::setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
    auto s = resolve_shard("auto");
    REQUIRE(s);
    CHECK(s->index == 2);
    CHECK(s->count == 3);
    CHECK(s->source == "slurm");
    CleanEnv::clear();
    // Kubernetes: the index from the Job, the count from the manifest; without it, refused.
    ::setenv("JOB_COMPLETION_INDEX", "0", 1);
    CHECK_THROWS_AS((void)resolve_shard("auto"), UsageError);
    ::setenv(kShardCountEnv, "4", 1);
    s = resolve_shard("auto");
    REQUIRE(s);
    CHECK(s->index == 0);
    CHECK(s->count == 4);
    CHECK(s->source == "kubernetes");
  }

  TEST_CASE("the plan hash changes with any cell and with the order") {
    const std::string h = plan_hash({"a", "b"});
    CHECK(h.size() == 16);
    CHECK(h == plan_hash({"a", "b"}));
    CHECK(h != plan_hash({"b", "a"}));
    CHECK(h != plan_hash({"a", "b", "c"}));
    CHECK(plan_hash({"ab"}) != plan_hash({"a", "b"}));
  }
}
