// The machine's floor (runner/floor.hpp): when two floors say the machine stayed in one mode.
#include <doctest/doctest.h>

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
}
