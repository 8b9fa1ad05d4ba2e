// The harness ceiling (src/runner/harness_ceiling.hpp): over a channel that costs a memory
// copy where every participant only sends or only receives, over in-process rings elsewhere.
#include <doctest/doctest.h>

#include "ipcmatrix/pattern/pattern.hpp"
#include "ipcmatrix/runner/config.hpp"
#include "runner/harness_ceiling.hpp"
#include "support/test_support.hpp"

using namespace ipcmatrix;

namespace {

Cell cell(const char* pattern, std::uint64_t size, int procs = 2, Api api = Api::copy) {
  Cell c;
  c.pattern = &find_pattern(pattern);
  c.mechanism = &find_transport("shm");
  c.serializer = "raw";
  c.size_bytes = size;
  c.procs = procs;
  c.api = api;
  return c;
}

RunConfig small() {
  RunConfig cfg;
  cfg.messages = 2000;
  cfg.duration_s = 0;
  cfg.warmup = 100;
  cfg.verify = Verify::full;  // every replayed message is checked as in a cell: a wrong byte fails it
  return cfg;
}

}  // namespace

TEST_SUITE("runner/ceiling") {
  TEST_CASE("producers and consumers only: the ceiling is measured over a recording, every message checked") {
    const RunConfig cfg = small();
    for (const char* pattern : {"stream", "fan-in", "fan-out", "broadcast"}) {
      CAPTURE(pattern);
      const Cell c = cell(pattern, 64, std::string_view(pattern) == "stream" ? 2 : 3);
      const auto ceiling = detail::copy_only_ceiling(c, cfg, make_topology(*c.pattern, c.procs));
      REQUIRE(ceiling.has_value());
      CHECK(*ceiling > 0);
    }
    // The loan api writes and reads the recording in place.
    const Cell loan = cell("stream", 4096, 2, Api::loan);
    CHECK(detail::copy_only_ceiling(loan, cfg, make_topology(*loan.pattern, 2)).has_value());
  }

  TEST_CASE("a round trip or a forwarder needs a live peer: the ring ceiling is used instead") {
    const RunConfig cfg = small();
    const Cell pingpong = cell("pingpong", 64, 2);
    CHECK_FALSE(detail::copy_only_ceiling(pingpong, cfg, make_topology(*pingpong.pattern, 2)));
    const Cell pipeline = cell("pipeline", 64, 3);  // one forwarder
    CHECK_FALSE(detail::copy_only_ceiling(pipeline, cfg, make_topology(*pipeline.pattern, 3)));
    // Messages too large to record 1000 of them (16 MiB in all): the ring ceiling as well.
    const Cell big = cell("stream", std::uint64_t{64} << 10);
    CHECK_FALSE(detail::copy_only_ceiling(big, cfg, make_topology(*big.pattern, 2)));
    // harness_ceiling() answers either way.
    CHECK(detail::harness_ceiling(cell("stream", 64), cfg).has_value());
  }

  TEST_CASE("the ceiling runs in a child: its pools and rings leave nothing in the caller's memory") {
    // In this process, a 1 MiB mesh ceiling's pools (16 MiB a peer) stayed in glibc's thread
    // arenas after it: the coordinator grew to 200 MiB, and each worker's fork copied it.
    RunConfig cfg = small();
    cfg.messages = 50;
    const std::int64_t before = test::resident_kib();
    const auto ceiling = detail::harness_ceiling(cell("mesh", std::uint64_t{1} << 20, 3), cfg);
    REQUIRE(ceiling.has_value());
    CHECK(*ceiling > 0);
    const std::int64_t grown = test::resident_kib() - before;
    MESSAGE("resident set grew by " << grown << " KiB");
    CHECK(grown < 8 * 1024);
  }
}
