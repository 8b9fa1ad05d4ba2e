// The machine's floor (runner/floor.hpp): when two floors say the machine stayed in one mode.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ipcmatrix/runner/floor.hpp"

using namespace ipcmatrix;

namespace {

MachineFloor floor_of(double rtt_ns, double ring_m) {
  MachineFloor f;
  f.cacheline_rtt_ns = rtt_ns;
  f.ring_msgs_per_s = ring_m * 1e6;
  f.ring_mechanism = "shm";
  return f;
}

}  // namespace

TEST_SUITE("runner/floor") {
  TEST_CASE("measure_floor: one CPU gives no floor, and spawns nothing to find out") {
    // Two spinners on one CPU would take turns by time slices until the children timed out.
    CHECK(too_few_cpus_for_floor({0}));
    CHECK_FALSE(too_few_cpus_for_floor({0, 1}));
    CHECK_FALSE(too_few_cpus_for_floor({}));  // unknown: measured unpinned
    CHECK_FALSE(measure_floor({0}).has_value());
  }

  TEST_CASE("same_mode: the ring's own swing within one mode keeps it, a change of mode does not") {
    // Headline runs' first passes on this VM: a start at 41 M msgs/s, then 40-62 M, the round
    // trip within 418-511 ns all along; another's start at 421 ns, a sample at 527 ns. One mode.
    CHECK(same_mode(floor_of(420.9, 37.0), floor_of(526.5, 56.5)));
    const MachineFloor start = floor_of(509.5, 41.4);
    for (const auto& [rtt, ring] : {std::pair{429.0, 59.0}, {453.0, 40.0}, {418.0, 62.0}, {511.0, 57.0}}) {
      CAPTURE(rtt);
      CAPTURE(ring);
      CHECK(same_mode(start, floor_of(rtt, ring)));
    }
    // Another run's sample in another mode: a round trip of 71 ns at 143 M msgs/s.
    CHECK_FALSE(same_mode(floor_of(480, 59.7), floor_of(71, 143)));
    // Either figure alone past its limit is enough.
    CHECK_FALSE(same_mode(start, floor_of(509.5 * 1.4, 41.4)));
    CHECK_FALSE(same_mode(start, floor_of(509.5 * 0.6, 41.4)));
    CHECK_FALSE(same_mode(start, floor_of(509.5, 41.4 * 2.1)));
    CHECK_FALSE(same_mode(start, floor_of(509.5, 41.4 / 2.1)));
    // The modes of the developers' guide: ~95 M msgs/s one quarter-hour, ~5.5 M the next.
    CHECK_FALSE(same_mode(floor_of(480, 95), floor_of(480, 5.5)));
    // A floor without figures says nothing of the mode.
    CHECK_FALSE(same_mode(MachineFloor{}, start));
    CHECK_FALSE(same_mode(start, MachineFloor{}));
  }

  TEST_CASE("another_mode_warning: one line for every round in another mode, with the range it moved to") {
    // A headline run's: seven of its eleven later rounds at 69-73 ns and 76-136 M msgs/s.
    const MachineFloor start = floor_of(421, 55.4);
    const std::vector<MachineFloor> moved{floor_of(73, 136), floor_of(71, 75.5), floor_of(72, 86.4),
                                          floor_of(69, 85.3)};
    const std::string w = another_mode_warning(start, moved, 11);
    CAPTURE(w);
    CHECK(w.starts_with("4 of the 11 rounds after the first ran with the machine in another mode"));
    CHECK(w.find("(the floor moved 83-145%: cache-line round trip 421 -> 69-73 ns, bare ring 5.54e+07 -> "
                 "7.55e+07-1.36e+08 msgs/s)") != std::string::npos);
    CHECK(w.find("no cell measured next to them is cut on one repetition") != std::string::npos);
    // One round: single values, no range.
    const std::string one = another_mode_warning(start, {floor_of(71, 75.5)}, 3);
    CAPTURE(one);
    CHECK(one.find("1 of the 3 rounds") != std::string::npos);
    CHECK(one.find("moved 83%: cache-line round trip 421 -> 71 ns, bare ring 5.54e+07 -> 7.55e+07 msgs/s") !=
          std::string::npos);
    CHECK(floor_moved(start, floor_of(421, 55.4 * 1.5)) == doctest::Approx(0.5));
    CHECK(floor_moved(start, floor_of(421 * 0.25, 55.4 * 1.5)) == doctest::Approx(0.75));
  }

  TEST_CASE("Modes: a floor joins the first mode it is the same as, or opens the next") {
    Modes modes;
    CHECK(modes.of(floor_of(446, 59.4)) == 0);
    CHECK(modes.of(floor_of(453, 56.3)) == 0);
    CHECK(modes.of(floor_of(52, 42.8)) == 1);   // a headline run's one floor three minutes in
    CHECK(modes.of(floor_of(480, 61.4)) == 0);  // back
    CHECK(modes.of(floor_of(65, 144)) == 2);    // the fast mode: not the 52 ns one (ring 3.4x)
    CHECK(modes.of(floor_of(58, 40)) == 1);
  }

  TEST_CASE("mode_of_repetition: the floors on both sides of a repetition decide, not the run's worst") {
    // Floors at 10, 20, 30, 40 and 50 (ns, for short); the one at 30 found another mode.
    const std::vector<FloorMark> marks{{10, 0}, {20, 0}, {30, 1}, {40, 0}, {50, 0}};
    CHECK(mode_of_repetition(marks, 15) == 0);   // between two floors of mode 0
    CHECK(mode_of_repetition(marks, 25) == -1);  // the mode changed between them
    CHECK(mode_of_repetition(marks, 35) == -1);
    CHECK(mode_of_repetition(marks, 45) == 0);   // back in mode 0 on both sides
    CHECK(mode_of_repetition(marks, 55) == -1);  // no floor after it yet: not known
    CHECK(mode_of_repetition(marks, 5) == -1);   // none before it
    CHECK(mode_of_repetition({}, 15) == -1);
    // A run that started in one mode and went on in another compares within each.
    const std::vector<FloorMark> later{{10, 0}, {20, 1}, {30, 1}, {40, -1}, {50, 1}};
    CHECK(mode_of_repetition(later, 25) == 1);
    CHECK(mode_of_repetition(later, 35) == -1);  // a floor that could not be measured
    CHECK(mode_of_repetition(later, 45) == -1);
  }
}
