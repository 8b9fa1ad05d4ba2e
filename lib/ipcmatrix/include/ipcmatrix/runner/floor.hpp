#pragma once
/// @file floor.hpp
/// The machine's own floor, measured in every run (at its start and at its end) between the
/// CPUs the cells use: what two processes can do with nothing of this tool in between.
///   - one cache line bounced between two processes: the lowest round trip there is;
///   - a bare two-process SPSC ring (the shm ring, spin, batches of 64, 64 B messages,
///     each message's sequence number checked): the highest streaming rate there is.
/// A virtual machine's floor moves with where the hypervisor places its vCPUs (here it went
/// from ~95 M to ~5.5 M msgs/s between two quarter-hours), so figures are only comparable
/// against the floor of the same run.

#include <optional>
#include <vector>

namespace ipcmatrix {

struct MachineFloor {
  double cacheline_rtt_ns = 0;   ///< median round trip of one cache line, ns
  double ring_msgs_per_s = 0;    ///< bare ring, 64 B messages, batches of 64
  int cpu_a = -1, cpu_b = -1;    ///< where the two processes ran (-1: unpinned)
};

/// Measures both figures in two child processes pinned to the first two of `cpus` (one CPU:
/// both on it; none: unpinned), in about half a second. nullopt when a child failed.
/// The calling process is not pinned or otherwise changed.
[[nodiscard]] std::optional<MachineFloor> measure_floor(const std::vector<int>& cpus);

}  // namespace ipcmatrix
