// Racing's verdicts (runner/race.hpp): which cells stop, which go on, and why.
#include <doctest/doctest.h>

#include "ipcmatrix/runner/race.hpp"

namespace ipcmatrix {

namespace {
RaceEntry throughput(std::vector<double> v, std::string group = "g") { return {std::move(group), true, std::move(v)}; }
RaceEntry latency(std::vector<double> v, std::string group = "g") { return {std::move(group), false, std::move(v)}; }
/// Every repetition ran with the machine in mode `mode` (runner/floor.hpp).
RaceEntry in_mode(RaceEntry e, int mode = 0) {
  e.mode = mode;
  return e;
}
}  // namespace

TEST_SUITE("runner/race") {
  TEST_CASE("a cell alone in its group has nothing to decide") {
    const auto v = judge_race({throughput({5}), throughput({7}, "other")});
    CHECK(v[0].outcome == RaceOutcome::alone);
    CHECK_FALSE(v[0].open);
    CHECK(v[1].outcome == RaceOutcome::alone);
  }

  TEST_CASE("one repetition decides nothing, however wide the gap") {
    const auto v = judge_race({throughput({100}), throughput({1})});
    CHECK(v[0].open);
    CHECK(v[1].open);
    CHECK(v[0].outcome == RaceOutcome::undecided);
  }

  TEST_CASE("within one mode of the machine, one repetition a side settles a gap of 3x, and nothing narrower") {
    // The first pass's cut: 3x behind after one repetition stops; 2.5x races on.
    const auto v = judge_race({in_mode(throughput({100})), in_mode(throughput({30})), in_mode(throughput({40}))});
    CHECK(v[1].outcome == RaceOutcome::beaten);
    CHECK_FALSE(v[1].open);
    CHECK(v[2].open);
    CHECK(v[0].open);  // the best stays open while the 2.5x one is
    const auto two = judge_race({in_mode(latency({10}), 1), in_mode(latency({30}), 1)});
    CHECK(two[0].outcome == RaceOutcome::leading);
    CHECK(two[1].outcome == RaceOutcome::beaten);
    // Measured in two modes, or one of them in no single mode: a mode of the machine can
    // make 3x of nothing, so no cut.
    for (const auto& [a, b] : {std::pair{0, 1}, {0, -1}, {-1, 0}, {-1, -1}}) {
      CAPTURE(a);
      CAPTURE(b);
      const auto moved = judge_race({in_mode(latency({10}), a), in_mode(latency({30}), b)});
      CHECK(moved[0].open);
      CHECK(moved[1].open);
    }
  }

  TEST_CASE("a cell beaten before stays beaten, and cannot be the best its rivals are held against") {
    // Cut on one repetition while the machine was steady; the floor moved since, and the
    // best's later repetitions came out slower: the cut stands, the best leads.
    RaceEntry cut = latency({30});
    cut.beaten_before = true;
    const auto v = judge_race({latency({10, 40, 45}), cut});
    CHECK(v[1].outcome == RaceOutcome::beaten);
    CHECK_FALSE(v[1].open);
    CHECK(v[0].outcome == RaceOutcome::leading);
    CHECK_FALSE(v[0].open);
  }

  TEST_CASE("two repetitions settle a gap of 2x with no overlap, and the best then leads") {
    const auto v = judge_race({throughput({10, 11}), throughput({30, 25})});
    CHECK(v[0].outcome == RaceOutcome::beaten);
    CHECK_FALSE(v[0].open);
    CHECK(v[1].outcome == RaceOutcome::leading);
    CHECK_FALSE(v[1].open);
    // Lower is better for a latency: the same numbers, the other way round.
    const auto l = judge_race({latency({10, 11}), latency({30, 25})});
    CHECK(l[0].outcome == RaceOutcome::leading);
    CHECK(l[1].outcome == RaceOutcome::beaten);
  }

  TEST_CASE("a 3x median gap with one overlapping repetition stays open until the test can call it") {
    // 2 reps each: 30 vs 16 is not 2x apart in every repetition, and 2 + 2 cannot be tested.
    auto v = judge_race({throughput({10, 16}), throughput({30, 40})});
    CHECK(v[0].open);
    CHECK(v[1].open);
    // 3 + 3, fully separated: Mann-Whitney p = 0.10.
    v = judge_race({throughput({10, 16, 12}), throughput({30, 40, 35})});
    CHECK(v[0].outcome == RaceOutcome::beaten);
    CHECK(v[1].outcome == RaceOutcome::leading);
  }

  TEST_CASE("within the tie threshold: open until 3 repetitions each, then tied") {
    auto v = judge_race({throughput({100, 101}), throughput({104, 103})});
    CHECK(v[0].open);
    CHECK(v[1].open);
    v = judge_race({throughput({100, 101, 99}), throughput({104, 103, 105})});
    CHECK(v[0].outcome == RaceOutcome::tied);
    CHECK(v[1].outcome == RaceOutcome::tied);
    CHECK_FALSE(v[0].open);
    CHECK_FALSE(v[1].open);
  }

  TEST_CASE("beyond the threshold but not significant stays open, and the best stays open with it") {
    // Medians 20 vs 12 (1.67x) with overlapping repetitions: neither a lead nor a tie.
    const auto v = judge_race({throughput({12, 25, 11}), throughput({20, 9, 30}), throughput({1, 1.1, 0.9})});
    CHECK(v[0].open);
    CHECK(v[1].open);  // the best, while a challenger is open
    CHECK(v[2].outcome == RaceOutcome::beaten);
  }

  TEST_CASE("groups race apart, and a cell without figures takes no part") {
    const auto v = judge_race(
        {throughput({10, 10}, "a"), throughput({50, 50}, "b"), throughput({}, "a"), throughput({0, 3}, "a")});
    CHECK(v[0].outcome == RaceOutcome::alone);
    CHECK(v[1].outcome == RaceOutcome::alone);
    CHECK(v[2].outcome == RaceOutcome::undecided);
    CHECK_FALSE(v[2].open);
    CHECK_FALSE(v[3].open);  // a non-positive figure cannot be compared
  }

  TEST_CASE("waves: the cheapest groups first, a wave closed once it holds its share of cost") {
    // Cheapest first: b 1, d 2, f 3, a 5 (11 >= 10: the first wave ends), e 20, c 40.
    const std::vector<std::size_t> w = racing_waves({5, 1, 40, 2, 20, 3}, {"a", "b", "c", "d", "e", "f"}, 10);
    CHECK(w == std::vector<std::size_t>{0, 0, 2, 0, 1, 0});
    // Equal costs go by name, so a run's waves do not depend on the order groups came in.
    CHECK(racing_waves({4, 4, 4}, {"z", "x", "y"}, 8) == std::vector<std::size_t>{1, 0, 0});
    // A decided group (no open cell, no cost) rides in the first wave; no group, no wave.
    CHECK(racing_waves({0, 50}, {"a", "b"}, 30) == std::vector<std::size_t>{0, 0});
    CHECK(racing_waves({}, {}, 30).empty());
  }
}

}  // namespace ipcmatrix
