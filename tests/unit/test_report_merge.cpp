// Merge (report/merge.hpp) and the report across machines (report/fleet.hpp): parts of one
// plan join, reruns on one machine pool their histograms and repetitions, machines stay
// apart, and the fleet report says which machine changes a pick.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/model/results.hpp"
#include "ipcmatrix/report/fleet.hpp"
#include "ipcmatrix/report/merge.hpp"
#include "ipcmatrix/util/json_file.hpp"

using namespace ipcmatrix;
namespace fs = std::filesystem;

namespace {

std::string fixture(const char* name) {
  return (fs::path(__FILE__).parent_path().parent_path() / "fixtures" / name).string();
}

/// The fixture as one whole, unsharded run of a plan of its own cells, started at `started`
/// on `host`.
MergePart run_on(const std::string& host, const std::string& started, const std::string& name,
                 bool per_repetition = true) {
  RunResult r = load_results(fixture("results_small.json"));
  r.started_at = started;
  r.environment["hostname"] = host;
  nlohmann::json cells = nlohmann::json::array();
  for (const CellResult& c : r.cells) cells.push_back(cell_id(c));
  r.environment["plan"] = {{"hash", "0123456789abcdef"}, {"cells", cells}};
  // The fixture predates per-repetition figures; a file written today has them (unless
  // per_repetition is false). Three repetitions: the least, the median and the most.
  if (per_repetition)
    for (CellResult& c : r.cells)
      for (std::optional<FigureSpread>* s : {&c.p50_spread, &c.p99_spread, &c.throughput_spread, &c.cpu_per_msg_spread})
        if (s->has_value() && (*s)->values.empty() && (*s)->n == 3) (*s)->values = {(*s)->min, (*s)->median, (*s)->max};
  return {name, std::move(r)};
}

CellResult& cell(RunResult& r, const std::string& pattern, const std::string& mechanism) {
  for (CellResult& c : r.cells)
    if (c.pattern == pattern && c.mechanism == mechanism) return c;
  FAIL("no such cell");
  throw;
}

}  // namespace

TEST_SUITE("report") {
  TEST_CASE("merge: two runs of a plan on one machine pool each cell's histogram and repetitions") {
    const MergePart a = run_on("box", "2026-12-05T10:00:00Z", "a.json");
    const MergePart b = run_on("box", "2026-12-05T11:00:00Z", "b.json");
    RunResult ra = a.result, rb = b.result;
    const CellResult& shm_a = cell(ra, "pingpong", "shm");
    // Make the second run's figures differ, so pooling shows in every figure.
    CellResult& shm_b = cell(rb, "pingpong", "shm");
    shm_b.histogram.record(5'000'000);
    shm_b.latency_ns = summarize(shm_b.histogram);
    const std::vector<RunResult> out = merge_parts({{"a.json", ra}, {"b.json", rb}});
    REQUIRE(out.size() == 1);
    const RunResult& m = out[0];
    CHECK(m.cells.size() == ra.cells.size());
    CHECK(m.environment.at("pooled_cells") == ra.cells.size());
    CHECK(m.environment.at("merged_from").size() == 2);
    CHECK(m.complete);
    RunResult copy = m;
    const CellResult& shm = cell(copy, "pingpong", "shm");
    // Buckets merged, so counts add and the extremes are both runs'.
    CHECK(shm.histogram.count() == shm_a.histogram.count() + shm_b.histogram.count());
    CHECK(shm.latency_ns.count == shm.histogram.count());
    CHECK(shm.latency_ns.max == shm_b.histogram.max());
    // Repetitions and per-repetition figures concatenated, spreads recomputed over all six.
    CHECK(shm.repetitions == 6);
    REQUIRE(shm.p50_spread.has_value());
    CHECK(shm.p50_spread->n == 6);
    CHECK(shm.p50_spread->values.size() == 6);
    CHECK(shm.throughput_spread->values.size() == 6);
    // A one-repetition cell pooled twice has two repetitions, and spreads it did not have.
    const CellResult& unix_cell = cell(copy, "pingpong", "unix");
    CHECK(unix_cell.repetitions == 2);
    REQUIRE(unix_cell.p99_spread.has_value());
    CHECK(unix_cell.p99_spread->n == 2);
  }

  TEST_CASE("merge: a cell that failed in one run and is ok in another is the ok one, with the failure named") {
    MergePart a = run_on("box", "2026-12-05T10:00:00Z", "a.json");
    MergePart b = run_on("box", "2026-12-05T11:00:00Z", "b.json");
    CellResult& bad = cell(a.result, "pingpong", "unix");
    bad.status = CellStatus::error;
    bad.error = "peer died";
    const std::vector<RunResult> out = merge_parts({std::move(a), std::move(b)});
    REQUIRE(out.size() == 1);
    RunResult m = out[0];
    const CellResult& c = cell(m, "pingpong", "unix");
    CHECK(c.ok());
    CHECK(c.repetitions == 1);
    bool named = false;
    for (const std::string& w : c.warnings) named = named || w.find("peer died") != std::string::npos;
    CHECK(named);
    CHECK(!cell(m, "stream", "tcp").ok());  // failed in both: still failed
  }

  TEST_CASE("merge: machines stay apart, each with its own environment, and the same run twice is refused") {
    const std::vector<RunResult> out = merge_parts({run_on("box-a", "2026-12-05T10:00:00Z", "a.json"),
                                                    run_on("box-b", "2026-12-05T10:00:00Z", "b.json"),
                                                    run_on("box-a", "2026-12-05T12:00:00Z", "a2.json")});
    REQUIRE(out.size() == 2);
    CHECK(out[0].environment.at("hostname") == "box-a");
    CHECK(out[0].environment.at("merged_from").size() == 2);  // a.json and its rerun, pooled
    CHECK(out[1].environment.at("hostname") == "box-b");
    CHECK(out[1].environment.at("pooled_cells") == 0);
    for (const CellResult& c : out[1].cells) CHECK(c.repetitions <= 3);  // nothing of box-a in it
    // The same file twice would count its repetitions twice.
    CHECK_THROWS_WITH_AS((void)merge_parts({run_on("box", "2026-12-05T10:00:00Z", "a.json"),
                                            run_on("box", "2026-12-05T10:00:00Z", "copy.json")}),
                         doctest::Contains("given twice"), BadInput);
    // Another plan is refused whichever machine it came from.
    MergePart other = run_on("box-b", "2026-12-05T10:00:00Z", "other.json");
    other.result.environment["plan"]["hash"] = "fedcba9876543210";
    CHECK_THROWS_WITH_AS((void)merge_parts({run_on("box-a", "2026-12-05T10:00:00Z", "a.json"), std::move(other)}),
                         doctest::Contains("another plan"), BadInput);
  }

  TEST_CASE("fleet: machine labels are file-name safe and unique") {
    CHECK(machine_labels({"node 1", "node 1", "", "../x", "ok-2.lan"}) ==
          std::vector<std::string>{"node_1", "node_1-2", "machine", "machine.._x", "ok-2.lan"});
  }

  TEST_CASE("fleet: a pick that holds on every machine, and one a machine changes") {
    MergePart a = run_on("box-a", "2026-12-05T10:00:00Z", "a.json");
    MergePart b = run_on("box-b", "2026-12-05T10:00:00Z", "b.json");
    const MachineAnswer same = machine_answer("box-a", a.result);
    REQUIRE(!same.picks.empty());
    const std::string latency_pick = same.picks.front().mechanism;
    // On box-b the same mechanism's round trip is 100x slower: the other one wins there.
    CellResult& slow = cell(b.result, "pingpong", latency_pick);
    Histogram h;
    for (int i = 0; i < 2000; ++i) h.record(100'000'000);
    slow.histogram = h;
    slow.latency_ns = summarize(h);
    slow.p50_spread.reset();
    slow.p99_spread.reset();
    const std::vector<MachineAnswer> holds = {same, machine_answer("box-a2", a.result)};
    const std::string md_holds = fleet_markdown(holds, "0123456789abcdef");
    CHECK(md_holds.find("**holds**: " + latency_pick + " on every machine") != std::string::npos);
    CHECK(md_holds.find("| [box-a](machines/box-a/PERFORMANCE_REPORT.md) | A |") != std::string::npos);
    CHECK(md_holds.find("| [box-a2](machines/box-a2/PERFORMANCE_REPORT.md) | A |") != std::string::npos);

    const std::vector<MachineAnswer> changed = {same, machine_answer("box-b", b.result)};
    REQUIRE(changed[1].picks.front().mechanism != latency_pick);
    const std::string md = fleet_markdown(changed, "0123456789abcdef");
    CHECK(md.find("**changes**: box-b deploys " + changed[1].picks.front().mechanism) != std::string::npos);
    const nlohmann::json j = fleet_json(changed, "0123456789abcdef");
    CHECK(j.at("machines").size() == 2);
    CHECK(j.at("verdicts").at(0).at("holds") == false);
    CHECK(j.at("verdicts").at(0).at("changes_on").at(0).at("machine") == "box-b");
  }

  TEST_CASE("merge: three runs count each pooled cell once, and old files say what their spreads cover") {
    std::vector<MergePart> runs;
    for (const char* t : {"2026-12-05T10:00:00Z", "2026-12-05T11:00:00Z", "2026-12-05T12:00:00Z"})
      runs.push_back(run_on("box", t, std::string(t) + ".json", /*per_repetition=*/false));
    const std::vector<RunResult> out = merge_parts(std::move(runs));
    REQUIRE(out.size() == 1);
    CHECK(out[0].environment.at("pooled_cells") == out[0].cells.size());
    RunResult m = out[0];
    const CellResult& shm = cell(m, "pingpong", "shm");
    CHECK(shm.repetitions == 9);
    CHECK(shm.p50_spread->n == 3);  // one median per file: all these files list
    bool said = false;
    for (const std::string& w : shm.warnings)
      said = said || w.find("the spreads cover 3 of its 9 repetitions") != std::string::npos;
    CHECK(said);
    // The noisy warning follows the pooled flag: one copy, and only when noisy.
    const auto noisy =
        std::count(shm.warnings.begin(), shm.warnings.end(), "noisy: repetitions differ by more than 10%");
    CHECK(noisy == (shm.noisy ? 1 : 0));
  }

  TEST_CASE("merge: a part that is not one, and a cell in two parts, are refused") {
    for (const nlohmann::json& shard :
         {nlohmann::json{{"index", "x"}, {"count", 2}}, nlohmann::json{{"index", 0}, {"count", 0}},
          nlohmann::json{{"index", 2}, {"count", 2}}, nlohmann::json{{"index", 0}, {"count", 100000}},
          nlohmann::json("0/2")}) {
      CAPTURE(shard.dump());
      MergePart p = run_on("box", "2026-12-05T10:00:00Z", "bad.json");
      p.result.environment["plan"]["shard"] = shard;
      CHECK_THROWS_WITH_AS((void)header_of(p), doctest::Contains("bad.json: environment.plan.shard is not a part"),
                           BadInput);
    }
    MergePart a = run_on("box", "2026-12-05T10:00:00Z", "a.json");
    MergePart b = run_on("box", "2026-12-05T11:00:00Z", "b.json");
    a.result.environment["plan"]["shard"] = {{"index", 0}, {"count", 2}};
    b.result.environment["plan"]["shard"] = {{"index", 1}, {"count", 2}};
    CHECK_THROWS_WITH_AS((void)merge_parts({std::move(a), std::move(b)}), doctest::Contains("disjoint"), BadInput);
  }

  TEST_CASE("merge: an interrupted run and its complete rerun make a whole, and interrupted alone does not") {
    MergePart cut = run_on("box", "2026-12-05T10:00:00Z", "cut.json");
    cut.result.complete = false;
    const std::vector<RunResult> alone = merge_parts({cut});
    REQUIRE(alone.size() == 1);
    CHECK_FALSE(alone[0].complete);
    bool named = false;
    for (const std::string& w : alone[0].warnings)
      named = named || w.starts_with("incomplete merge: part(s) 0 of 1 interrupted");
    CHECK(named);
    const std::vector<RunResult> whole = merge_parts({cut, run_on("box", "2026-12-05T11:00:00Z", "rerun.json")});
    REQUIRE(whole.size() == 1);
    CHECK(whole[0].complete);
  }
}
