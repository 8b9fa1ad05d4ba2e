// Recommendations: latency advice comes only from latency measurements.
#include <doctest/doctest.h>

#include <string>

#include "ipcmatrix/report/markdown.hpp"
#include "ipcmatrix/report/recommend.hpp"

using namespace ipcmatrix;

namespace {

CellResult cell(std::string pattern, std::string mechanism, std::uint64_t p50_ns, double rate = 0) {
  CellResult c;
  c.pattern = std::move(pattern);
  c.mechanism = std::move(mechanism);
  c.serializer = "raw";
  c.status = "ok";
  c.size_bytes = 64;
  c.procs = 2;
  c.rate = rate;
  c.latency_ns.p50 = p50_ns;
  c.latency_ns.count = 1000;
  c.throughput.msgs_per_s = 1e6 / static_cast<double>(p50_ns);
  c.messages_sent = 1000;
  c.messages_received = 1000;
  c.duration_s = 1.0;
  return c;
}

}  // namespace

TEST_SUITE("report") {
  TEST_CASE("recommend: what a cell's latency means") {
    CHECK(latency_meaning(cell("pingpong", "shm", 500)) == LatencyMeaning::round_trip);
    CHECK(latency_meaning(cell("stream", "shm", 500)) == LatencyMeaning::saturated);
    // 1000 messages in 1 s from one producer: 1000/s offered and achieved; 2000/s missed.
    CHECK(latency_meaning(cell("stream", "shm", 500, 1000)) == LatencyMeaning::open_loop);
    CHECK(latency_meaning(cell("stream", "shm", 500, 2000)) == LatencyMeaning::open_loop_missed);
    CHECK(measures_latency(cell("pingpong", "pipe", 50'000)));
    CHECK(!measures_latency(cell("fan-in", "shm", 500)));
  }

  TEST_CASE("recommend: a saturated cell's small p50 never wins the latency pick") {
    RunResult r;
    // The case from the issue: in closed-loop fan-in, a small queue's p50 (74 us) beat shm's
    // deep ring (672 us); that ranks buffers, not mechanisms.
    r.cells = {cell("fan-in", "bipc-mq", 74'000), cell("fan-in", "shm", 672'000),
               cell("stream", "pipe", 9'000, 1000), cell("stream", "shm", 2'000, 1000),
               cell("stream", "unix", 1'000, 5000)};  // fastest p50, but its 5000/s was not achieved
    const auto groups = recommend_per_group(r);
    REQUIRE(groups.size() == 3);
    const RecommendationGroup& fan_in = groups[0];
    CHECK(fan_in.pattern == "fan-in");
    CHECK(!fan_in.lowest_p50.has_value());
    CHECK(fan_in.saturated_only);
    CHECK(fan_in.highest_throughput.has_value());
    const RecommendationGroup& stream = groups[1];
    REQUIRE(stream.lowest_p50.has_value());
    CHECK(stream.lowest_p50->best->mechanism == "shm");
    CHECK(!groups[2].lowest_p50.has_value());  // only the missed-rate cell at 5000/s
    const std::string md = markdown_report(r);
    CHECK(md.find("latency: not ranked") != std::string::npos);
    CHECK(md.find("queueing delay at saturation") != std::string::npos);
    CHECK(md.find("(not achieved)") != std::string::npos);
  }

  TEST_CASE("recommend: cost next to speed, and the cheapest option within 10%") {
    RunResult r;
    CellResult spin = cell("stream", "shm", 1000);
    spin.wait = "spin";
    spin.throughput.msgs_per_s = 10e6;
    spin.cpu.user_s = 2.0;  // two cores for the whole second
    spin.idle_cpu_percent = 100;
    CellResult hybrid = spin;
    hybrid.wait = "hybrid";
    hybrid.throughput.msgs_per_s = 9.5e6;  // 5% slower
    hybrid.cpu.user_s = 1.2;
    hybrid.idle_cpu_percent = 1;
    CellResult block = spin;
    block.wait = "block";
    block.throughput.msgs_per_s = 5e6;  // far slower: never the cheap alternative
    block.cpu.user_s = 0.5;
    r.cells = {spin, hybrid, block};
    const auto groups = recommend_per_group(r);
    REQUIRE(groups.size() == 1);
    REQUIRE(groups[0].highest_throughput.has_value());
    const Pick& p = *groups[0].highest_throughput;
    CHECK(p.best->wait == "spin");
    REQUIRE(p.cheapest != nullptr);
    CHECK(p.cheapest->wait == "hybrid");
    CHECK(cores_used(spin) == doctest::Approx(2.0));
    const std::string md = markdown_report(r);
    CHECK(md.find("Cheapest within 10%") != std::string::npos);
    CHECK(md.find("100% of a core per idle waiting endpoint") != std::string::npos);
  }

  TEST_CASE("recommend: ties are decided by a test over the repetitions, not by one figure") {
    const auto with_reps = [](CellResult c, std::vector<double> p50s) {
      c.p50_spread = FigureSpread{};
      c.p50_spread->values = std::move(p50s);
      c.p50_spread->n = static_cast<int>(c.p50_spread->values.size());
      c.repetitions = c.p50_spread->n;
      return c;
    };
    const auto latency_pick = [](std::vector<CellResult> cells) {
      RunResult r;
      r.cells = std::move(cells);
      const auto groups = recommend_per_group(r);
      REQUIRE(groups.size() == 1);
      REQUIRE(groups[0].lowest_p50.has_value());
      return *groups[0].lowest_p50;
    };
    // 1.5x apart and every repetition of shm beats every one of unix: a lead, p = 0.1.
    Pick p = latency_pick({with_reps(cell("pingpong", "shm", 1000), {990, 1000, 1010}),
                           with_reps(cell("pingpong", "unix", 1500), {1490, 1500, 1510})});
    CHECK(p.best->mechanism == "shm");
    CHECK(p.margin == Pick::Margin::lead);
    REQUIRE(p.p_value.has_value());
    CHECK(*p.p_value == doctest::Approx(0.1));
    // The same medians, but the repetitions overlap: noise, so a tie that lists both.
    p = latency_pick({with_reps(cell("pingpong", "shm", 1000), {1000, 1600, 900}),
                      with_reps(cell("pingpong", "unix", 1500), {950, 1500, 1700})});
    CHECK(p.margin == Pick::Margin::tie);
    CHECK(p.next != nullptr);
    CHECK(p.p_value.has_value());
    // One repetition each: ahead, but nothing can say it is not noise.
    p = latency_pick({cell("pingpong", "shm", 1000), cell("pingpong", "unix", 1500)});
    CHECK(p.margin == Pick::Margin::untested);
    CHECK_FALSE(p.p_value.has_value());
    // Within 10%: a tie whatever the repetitions say.
    p = latency_pick({with_reps(cell("pingpong", "shm", 1000), {999, 1000, 1001}),
                      with_reps(cell("pingpong", "unix", 1050), {1049, 1050, 1051})});
    CHECK(p.margin == Pick::Margin::tie);
    // The report says which it is.
    RunResult r;
    r.cells = {with_reps(cell("pingpong", "shm", 1000), {1000, 1600, 900}),
               with_reps(cell("pingpong", "unix", 1500), {950, 1500, 1700})};
    CHECK(markdown_report(r).find("**tie** with unix/raw") != std::string::npos);
  }
}
