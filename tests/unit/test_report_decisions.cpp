// Recommendations: latency advice comes only from latency measurements.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "ipcmatrix/report/decisions.hpp"
#include "ipcmatrix/report/markdown.hpp"

using namespace ipcmatrix;

namespace {

CellResult cell(std::string pattern, std::string mechanism, std::uint64_t p50_ns, double rate = 0) {
  CellResult c;
  c.pattern = std::move(pattern);
  c.mechanism = std::move(mechanism);
  c.serializer = "raw";
  c.status = CellStatus::ok;
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
  TEST_CASE("decisions: what a cell's latency means") {
    CHECK(latency_meaning(cell("pingpong", "shm", 500)) == LatencyMeaning::round_trip);
    CHECK(latency_meaning(cell("stream", "shm", 500)) == LatencyMeaning::saturated);
    // 1000 messages in 1 s from one producer: 1000/s offered and achieved; 2000/s missed.
    CHECK(latency_meaning(cell("stream", "shm", 500, 1000)) == LatencyMeaning::open_loop);
    CHECK(latency_meaning(cell("stream", "shm", 500, 2000)) == LatencyMeaning::open_loop_missed);
    CHECK(measures_latency(cell("pingpong", "pipe", 50'000)));
    CHECK(!measures_latency(cell("fan-in", "shm", 500)));
  }

  TEST_CASE("decisions: a saturated cell's small p50 never wins the latency pick") {
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

  TEST_CASE("decisions: cost next to speed, and the cheapest option within 10%") {
    RunResult r;
    CellResult spin = cell("stream", "shm", 1000);
    spin.wait = Wait::spin;
    spin.throughput.msgs_per_s = 10e6;
    spin.cpu.user_s = 2.0;  // two cores for the whole second
    spin.idle_cpu_percent = 100;
    CellResult hybrid = spin;
    hybrid.wait = Wait::hybrid;
    hybrid.throughput.msgs_per_s = 9.5e6;  // 5% slower
    hybrid.cpu.user_s = 1.2;
    hybrid.idle_cpu_percent = 1;
    CellResult block = spin;
    block.wait = Wait::block;
    block.throughput.msgs_per_s = 5e6;  // far slower: never the cheap alternative
    block.cpu.user_s = 0.5;
    r.cells = {spin, hybrid, block};
    const auto groups = recommend_per_group(r);
    REQUIRE(groups.size() == 1);
    REQUIRE(groups[0].highest_throughput.has_value());
    const Pick& p = *groups[0].highest_throughput;
    CHECK(p.best->wait == Wait::spin);
    REQUIRE(p.cheapest != nullptr);
    CHECK(p.cheapest->wait == Wait::hybrid);
    CHECK(cores_used(spin) == doctest::Approx(2.0));
    const std::string md = markdown_report(r);
    CHECK(md.find("Cheapest within 10%") != std::string::npos);
    CHECK(md.find("100% of a core per idle waiting endpoint") != std::string::npos);
    // Memory is a cost only where it was measured: a file without it says nothing of it.
    CHECK(md.find("resident at most per process") == std::string::npos);
    r.cells[0].peak_rss_kb = 27 * 1024;
    CHECK(markdown_report(r).find("2 CPU cores while measuring, 100% of a core per idle waiting endpoint, 27MiB "
                                  "resident at most per process") != std::string::npos);
    // One core reads as one.
    r.cells[0].cpu.user_s = r.cells[0].cpu.user_s / 2;
    r.cells[0].cpu.sys_s = r.cells[0].cpu.sys_s / 2;
    CHECK(cores_used(r.cells[0]) == doctest::Approx(1.0));
    CHECK(markdown_report(r).find("1 CPU core while measuring") != std::string::npos);
  }

  TEST_CASE("decisions: ties are decided by a test over the repetitions, not by one figure") {
    const auto with_reps = [](CellResult c, std::vector<double> p50s) {
      c.p50_spread = FigureSpread{};
      c.p50_spread->values = std::move(p50s);
      c.p50_spread->n = static_cast<int>(c.p50_spread->values.size());
      c.repetitions = c.p50_spread->n;
      return c;
    };
    // The pick points into the RunResult: each case keeps its own alive while it checks.
    std::vector<RunResult> runs;
    runs.reserve(8);
    const auto latency_pick = [&runs](std::vector<CellResult> cells) {
      runs.emplace_back();
      runs.back().cells = std::move(cells);
      const auto groups = recommend_per_group(runs.back());
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
    // The same medians, but the repetitions overlap: 1.5x apart is no tie (a tie is within
    // 10%), and nothing says which is faster: undecided, with the test's p, as the race
    // leaves it open.
    p = latency_pick({with_reps(cell("pingpong", "shm", 1000), {1000, 1600, 900}),
                      with_reps(cell("pingpong", "unix", 1500), {950, 1500, 1700})});
    CHECK(p.margin == Pick::Margin::untested);
    CHECK(p.next != nullptr);
    CHECK(p.p_value.has_value());
    // And how far apart the repetitions themselves are: shm's (1600 - 900) / 1000, the wider
    // of the two (unix's is 750 / 1500), which the report shows as the reason it stays open.
    CHECK(p.spread == doctest::Approx(0.7));
    {
      RunResult overlap;
      overlap.cells = {with_reps(cell("pingpong", "shm", 1000), {1000, 1600, 900}),
                       with_reps(cell("pingpong", "unix", 1500), {950, 1500, 1700})};
      const std::string md = markdown_report(overlap);
      CHECK(md.find("the repetitions overlap (p = 0.70, 3 reps, spread up to ±70%)") != std::string::npos);
      CHECK(md.find("**tie**") == std::string::npos);
    }
    // One repetition each: ahead, but nothing can say it is not noise.
    p = latency_pick({cell("pingpong", "shm", 1000), cell("pingpong", "unix", 1500)});
    CHECK(p.margin == Pick::Margin::untested);
    CHECK_FALSE(p.p_value.has_value());
    CHECK_FALSE(p.clear_gap);
    // Two repetitions each, 2x apart or more in every one: a lead no test is needed for.
    p = latency_pick({with_reps(cell("pingpong", "shm", 1000), {1000, 1100}),
                      with_reps(cell("pingpong", "unix", 3000), {3000, 2300})});
    CHECK(p.margin == Pick::Margin::lead);
    CHECK(p.clear_gap);
    CHECK_FALSE(p.p_value.has_value());
    // One repetition each, 3x apart: untested, unless the race cut the runner-up there (it
    // knew the machine's floor held still); then a lead, and the report says how.
    CellResult far = cell("pingpong", "unix", 3000);
    p = latency_pick({cell("pingpong", "shm", 1000), far});
    CHECK(p.margin == Pick::Margin::untested);
    far.race = RaceOutcome::beaten;
    p = latency_pick({cell("pingpong", "shm", 1000), far});
    CHECK(p.margin == Pick::Margin::lead);
    CHECK(p.race_cut);
    CHECK_FALSE(p.clear_gap);
    // The race's verdict alone is not enough: the figures must be 3x apart as well.
    CellResult near = cell("pingpong", "unix", 2000);
    near.race = RaceOutcome::beaten;
    p = latency_pick({cell("pingpong", "shm", 1000), near});
    CHECK(p.margin == Pick::Margin::untested);
    {
      RunResult cut;
      cut.cells = {cell("pingpong", "shm", 1000), far};
      const std::string md = markdown_report(cut);
      CHECK(md.find("3x apart or more in every repetition against the runner-up's one, both in one mode of the "
                    "machine: cut by the race") != std::string::npos);
      CHECK(md.find("repetition(s)") == std::string::npos);
    }
    // 3x in the medians but one repetition under 2x: still untested.
    p = latency_pick({with_reps(cell("pingpong", "shm", 1000), {1000, 1100}),
                      with_reps(cell("pingpong", "unix", 3000), {3000, 2100})});
    CHECK(p.margin == Pick::Margin::untested);
    // Within 10% over 3 repetitions each: a tie whatever the test says.
    p = latency_pick({with_reps(cell("pingpong", "shm", 1000), {999, 1000, 1001}),
                      with_reps(cell("pingpong", "unix", 1050), {1049, 1050, 1051})});
    CHECK(p.margin == Pick::Margin::tie);
    // Within 10% over fewer: too few to call a tie (the race would still run them), and the
    // summary says so instead of "tie".
    p = latency_pick({with_reps(cell("pingpong", "shm", 1000), {999, 1000}),
                      with_reps(cell("pingpong", "unix", 1050), {1049, 1050, 1051})});
    CHECK(p.margin == Pick::Margin::untested);
    CHECK(p.repetitions == 2);
    {
      RunResult close;
      close.cells = {cell("pingpong", "shm", 1000), cell("pingpong", "unix", 1050)};
      const std::string md = markdown_report(close);
      CHECK(md.find("within 10% of unix/raw, untested (1 rep; a tie needs 3)") != std::string::npos);
      CHECK(md.find("**tie**") == std::string::npos);
    }
    // The body's lines say what gives more repetitions: --repetitions for a fixed count, a
    // larger budget where the race left the cells short.
    {
      RunResult fixed;
      fixed.cells = {cell("pingpong", "shm", 1000), cell("pingpong", "unix", 1500)};
      std::string md = markdown_report(fixed);
      CHECK(md.find("untested: 1 repetition cannot show it is not noise (run --repetitions 3 or more)") !=
            std::string::npos);
      RunResult raced = fixed;
      for (CellResult& c : raced.cells) c.race = RaceOutcome::undecided;
      md = markdown_report(raced);
      CHECK(md.find("undecided: 1 repetition cannot show it is not noise (the race ended before more: a larger "
                    "--budget gives them)") != std::string::npos);
      CHECK(md.find("--repetitions 3 or more") == std::string::npos);
      raced.cells[1] = cell("pingpong", "unix", 1050);
      raced.cells[1].race = RaceOutcome::undecided;
      md = markdown_report(raced);
      CHECK(md.find("undecided: a tie needs 3 repetitions each, this has 1 (the race ended before more") !=
            std::string::npos);
      // The budget that ended the race after some racing is a note of the summary's, with its count.
      CHECK_FALSE(race_budget_note(raced).has_value());
      raced.environment["race"] = {{"budget_s", 690.0},
                                   {"budget_skipped", 617},
                                   {"summary_racing_repetitions", 640},
                                   {"rest_racing_repetitions", 299}};
      REQUIRE(race_budget_note(raced).has_value());
      CHECK(*race_budget_note(raced) ==
            "the time budget (11 min 30 s) ended the race with 617 racing repetitions not run");
      CHECK(markdown_report(raced).find("**2 undecided** (the time budget (11 min 30 s) ended the race with 617 "
                                        "racing repetitions not run; `--race` and `--budget` give it more)") !=
            std::string::npos);
      // None ran: not a note (the run warns), nor where the budget skipped nothing.
      raced.environment["race"]["summary_racing_repetitions"] = 0;
      raced.environment["race"]["rest_racing_repetitions"] = 0;
      CHECK_FALSE(race_budget_note(raced).has_value());
      raced.environment["race"]["rest_racing_repetitions"] = 5;
      raced.environment["race"]["budget_skipped"] = 0;
      CHECK_FALSE(race_budget_note(raced).has_value());
    }
    // The report says which it is: a tie within 10% over 3 repetitions a side.
    RunResult r;
    r.cells = {with_reps(cell("pingpong", "shm", 1000), {999, 1000, 1001}),
               with_reps(cell("pingpong", "unix", 1050), {1049, 1050, 1051})};
    CHECK(markdown_report(r).find("**tie** with unix/raw (within 10%, 3 reps)") != std::string::npos);
  }

  TEST_CASE("decisions: a load curve's knee is the highest achieved rate within 2x of the low-load p99") {
    const auto point = [](std::string mech, std::string load, double rate, std::uint64_t p99, bool achieved = true) {
      CellResult c = cell("stream", std::move(mech), p99 / 2, rate);
      if (!load.empty()) c.load = parse_load_label(load);
      c.latency_ns.p99 = p99;
      // 1 s window, one producer: messages_sent / s is what it achieved.
      c.messages_sent = static_cast<std::uint64_t>(achieved ? rate : rate / 2);
      return c;
    };
    RunResult r;
    r.cells = {cell("stream", "shm", 500), point("shm", "sporadic", 100, 40'000), point("shm", "10k", 10'000, 50'000),
               point("shm", "50%", 500'000, 79'000), point("shm", "90%", 900'000, 400'000),
               // unix: its 90% point missed its rate; it cannot be the knee however low its p99.
               cell("stream", "unix", 900), point("unix", "sporadic", 100, 60'000), point("unix", "50%", 200'000, 70'000),
               point("unix", "90%", 360'000, 65'000, /*achieved=*/false)};
    const auto curves = load_curves(r);
    REQUIRE(curves.size() == 2);
    REQUIRE(curves[0].points.size() == 4);
    CHECK(curves[0].saturation == &r.cells[0]);
    CHECK(curves[0].points.front()->load->label() == "sporadic");  // lowest offered rate first
    REQUIRE(curves[0].knee != nullptr);
    CHECK(curves[0].knee->load->label() == "50%");  // 79 us <= 2 x 40 us; 400 us is not
    REQUIRE(curves[1].knee != nullptr);
    CHECK(curves[1].knee->load->label() == "50%");
    const std::string md = markdown_report(r);
    CHECK(md.find("## Latency against offered load") != std::string::npos);
    CHECK(md.find("⚠") != std::string::npos);
    CHECK(md.find("**knee**") != std::string::npos);
  }

  TEST_CASE("summary: one row per serializer, and the runner-up is another mechanism, not the pick re-serialized") {
    const auto ser = [](CellResult c, std::string s) {
      c.serializer = std::move(s);
      return c;
    };
    RunResult r;
    // shm/raw is fastest, shm/binary second, unix/raw third: the raw row's runner-up is unix.
    r.cells = {cell("pingpong", "shm", 1'000), ser(cell("pingpong", "shm", 1'100), "binary"),
               cell("pingpong", "unix", 3'000), ser(cell("pingpong", "pipe", 2'000), "binary")};
    const auto ds = decisions(r);
    REQUIRE(ds.size() == 2);
    CHECK(ds[0].serializer == "raw");
    CHECK(ds[0].serializers == 2);
    CHECK(ds[0].pick.best->mechanism == "shm");
    REQUIRE(ds[0].pick.next != nullptr);
    CHECK(ds[0].pick.next->mechanism == "unix");
    CHECK(ds[1].serializer == "binary");
    CHECK(ds[1].pick.best->mechanism == "shm");
    CHECK(ds[1].pick.best->serializer == "binary");
    REQUIRE(ds[1].pick.next != nullptr);
    CHECK(ds[1].pick.next->mechanism == "pipe");
    // Each row was picked from its serializer's cells alone: what the runner races first.
    REQUIRE(ds[0].candidates.size() == 2);
    CHECK(ds[0].candidates[0] == &r.cells[0]);
    CHECK(ds[0].candidates[1] == &r.cells[2]);
    REQUIRE(ds[1].candidates.size() == 2);
    CHECK(ds[1].candidates[0] == &r.cells[1]);
    CHECK(ds[1].candidates[1] == &r.cells[3]);
    const std::string md = markdown_report(r);
    CHECK(md.find("| Latency-critical small messages, `raw` | **shm/raw** |") != std::string::npos);
    CHECK(md.find("| Latency-critical small messages, `binary` | **shm/binary** |") != std::string::npos);
    CHECK(md.find("3.00x ahead of unix/raw") != std::string::npos);
    // One serializer: the row is the use case alone.
    RunResult one;
    one.cells = {cell("pingpong", "shm", 1'000), cell("pingpong", "unix", 3'000)};
    CHECK(markdown_report(one).find("| Latency-critical small messages | **shm/raw** |") != std::string::npos);
  }

  TEST_CASE("summary: low CPU is judged at a fixed offered rate every candidate achieved, not at saturation") {
    const auto with_cpu = [](CellResult c, double per_msg_ns, double rate) {
      c.pattern = "stream";
      c.cpu.per_msg_ns = per_msg_ns;
      c.cpu.user_s = per_msg_ns * 1e-9 * 1000;
      c.rate = rate;
      if (rate > 0) c.load = LoadPoint{LoadPoint::Kind::rate, rate};
      return c;
    };
    RunResult r;
    // At saturation shm spends less per message; at 1k msgs/s offered, unix does (its
    // blocking receiver sleeps where shm's hybrid wait spins).
    r.cells = {with_cpu(cell("stream", "shm", 1'000), 100, 0), with_cpu(cell("stream", "unix", 1'000), 900, 0),
               with_cpu(cell("stream", "shm", 1'000), 20'000, 1000), with_cpu(cell("stream", "unix", 1'000), 5'000, 1000)};
    auto low_cpu = [](const RunResult& rr) {
      for (const Decision& d : decisions(rr))
        if (d.use_case == "Low CPU budget") return d;
      FAIL("no Low CPU budget row");
      return Decision{};
    };
    const Decision at_rate = low_cpu(r);
    CHECK(at_rate.pick.best->mechanism == "unix");
    CHECK(at_rate.pick.best->rate == 1000);
    CHECK(at_rate.basis.find("1.00 k msgs/s per producer offered") != std::string::npos);
    // Without a fixed rate measured, saturation it is, and the basis says so.
    r.cells.resize(2);
    const Decision saturated = low_cpu(r);
    CHECK(saturated.pick.best->mechanism == "shm");
    CHECK(saturated.basis.find("at saturation") != std::string::npos);
  }

  TEST_CASE("warnings: grouped by kind, with the count, one example and the cells folded away") {
    RunResult r;
    for (int i = 0; i < 5; ++i) {
      CellResult c = cell("stream", "shm", 1'000 + i);
      c.size_bytes = 64u << i;
      c.warnings.push_back(fmt::format("short throughput window: {} messages in {:.1f} ms", 100 + i, 0.5 + i));
      r.cells.push_back(c);
    }
    r.cells[2].warnings.push_back("5 spinning participants on 2 CPUs: spinners steal each other's time");
    r.warnings.push_back("the machine's floor moved 40% during the run");
    const std::string md = markdown_report(r);
    const auto from = md.find("## ⚠ Warnings");
    REQUIRE(from != std::string::npos);
    const std::string section = md.substr(from, md.find("\n## ", from + 1) - from);
    CAPTURE(section);
    CHECK(section.find("- **short throughput window** in 5 cells, e.g. `") != std::string::npos);
    CHECK(section.find("<summary>the 5 cells</summary>") != std::string::npos);
    CHECK(section.find("- the machine's floor moved 40% during the run") != std::string::npos);
    CHECK(section.find("spinners steal each other's time") != std::string::npos);
    // One line per kind, whatever the number of cells.
    CHECK(std::count(section.begin(), section.end(), '\n') <= 8);
  }

  TEST_CASE("report: the summary leads with one decision per use case the data covers") {
    const auto sized = [](CellResult c, std::uint64_t size) {
      c.size_bytes = size;
      return c;
    };
    RunResult r;
    r.cells = {cell("pingpong", "shm", 1'000), cell("pingpong", "unix", 9'000),
               sized(cell("stream", "shm", 1'000), 1 << 20), sized(cell("stream", "pipe", 4'000), 1 << 20),
               // closed-loop fan-in: bipc-mq's small queue has the lower p50 but the lower rate.
               cell("fan-in", "bipc-mq", 74'000), cell("fan-in", "shm", 1'000)};
    r.cells[0].cpu.per_msg_ns = 100;
    const auto ds = decisions(r);
    std::vector<std::string> cases;
    for (const auto& d : ds) cases.push_back(d.use_case);
    CHECK(cases == std::vector<std::string>{"Latency-critical small messages", "Bulk transfer", "Fan-in collection"});
    CHECK(ds[0].pick.best->mechanism == "shm");
    CHECK(ds[1].pick.best->mechanism == "shm");
    CHECK(ds[1].basis.find("stream 1MiB") == 0);
    CHECK(ds[2].pick.best->mechanism == "shm");  // by rate, never by a saturated p50
    const std::string md = markdown_report(r);
    const auto summary = md.find("## Summary: what to deploy");
    REQUIRE(summary != std::string::npos);
    CHECK(summary < md.find("## How to read this"));
    CHECK(md.find("| Bulk transfer | **shm/raw** |") != std::string::npos);
    CHECK(md.find("| Broadcast |") == std::string::npos);
    CHECK(markdown_report(r) == md);  // deterministic
    // The tables mark the picks they come from; serialization has a table of its own.
    CHECK(md.find("**best p50**") != std::string::npos);
    CHECK(md.find("**most msgs/s**") != std::string::npos);
    RunResult with_codec = r;
    with_codec.cells[0].serializer = "binary";
    with_codec.cells[0].encode_ns_per_msg = 120;
    with_codec.cells[0].decode_ns_per_msg = 80;
    with_codec.cells[0].wire_bytes_per_msg = 96;
    const std::string md2 = markdown_report(with_codec);
    CHECK(md2.find("## Serialization cost and wire size") != std::string::npos);
    CHECK(md2.find("| binary | random | 64B |") != std::string::npos);
  }

  TEST_CASE("summary: a faster path the pick offers but the run left out is named, and a measured one is not") {
    RunResult r;
    r.cells = {cell("pingpong", "shm", 300), cell("pingpong", "pipe", 30'000)};
    r.config = {{"apis", {"copy"}}, {"waits", {"hybrid"}}};
    r.environment["paths"] = {{"shm", {{"loan", true}, {"spin_wait", true}}},
                              {"pipe", {{"loan", false}, {"spin_wait", false}}}};
    std::string md = markdown_report(r);
    CHECK(md.find("Not measured in this run") != std::string::npos);
    CHECK(md.find("**shm** with zero copy (`--api loan`) or `--wait spin,block,eventfd`") != std::string::npos);
    CHECK(md.find("Zero copy pays") != std::string::npos);
    // A loan cell of shm at any size (--loan-from runs them from 64 KiB up): zero copy was
    // measured where it pays, and only the waits are left to name.
    RunResult loaned = r;
    loaned.cells.push_back(cell("stream", "shm", 1'000));
    loaned.cells.back().size_bytes = 1 << 20;
    loaned.cells.back().api = Api::loan;
    md = markdown_report(loaned);
    CHECK(md.find("**shm** with `--wait spin,block,eventfd`") != std::string::npos);
    CHECK(md.find("zero copy (`--api loan`)") == std::string::npos);
    CHECK(md.find("Zero copy pays") == std::string::npos);
    // Every api and wait measured: nothing to say. A pick without such paths (pipe) never gets a line.
    r.config = {{"apis", {"copy", "loan"}}, {"waits", {"spin", "block", "hybrid", "eventfd"}}};
    CHECK(markdown_report(r).find("Not measured in this run") == std::string::npos);
    r.cells = {cell("pingpong", "pipe", 30'000), cell("pingpong", "unix", 60'000)};
    r.config = {{"apis", {"copy"}}, {"waits", {"hybrid"}}};
    CHECK(markdown_report(r).find("Not measured in this run") == std::string::npos);
  }
}
