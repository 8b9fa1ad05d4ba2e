#pragma once
/// @file dev_shm.hpp
/// How much /dev/shm a plan needs at its peak: what a container's memory-backed /dev/shm
/// (deploy/kubernetes) must be sized to, recorded by every run as
/// environment.plan.dev_shm_bytes. Pure; thread-safe.
///
/// The peak is, for a plan with iceoryx cells, RouDi's segments (held for the whole run: its
/// management segment and the mempools roudi_config_for() gives the plan), plus the largest
/// of: any one cell's buffers in /dev/shm (Capabilities::in_dev_shm: each of its channels'
/// ring or queue as the runner sizes it with no /dev/shm limit, plus a header allowance),
/// and the floor's bare ring. Cells run one at a time and remove their segments before the
/// next starts, so their needs do not add up. An upper bound: the runner shrinks rings to
/// fit a smaller /dev/shm (ring_bytes_for), so less still runs, with smaller rings.

#include <cstdint>
#include <vector>

#include "ipcmatrix/runner/plan.hpp"

namespace ipcmatrix {

/// RouDi's management segment (/dev/shm/iceoryx_mgmt), as iceoryx 2.0.3 (Debian 12) makes
/// it: 66,761,736 bytes, measured.
inline constexpr std::uint64_t kRoudiManagementBytes = 66'761'736;
/// A segment's bytes beyond its ring or queue (the ring header, a queue's index), at most.
inline constexpr std::uint64_t kSegmentOverheadBytes = std::uint64_t{64} << 10;

/// The /dev/shm `cells` need at their peak, in bytes (see the file comment).
[[nodiscard]] std::uint64_t dev_shm_bytes_needed(const std::vector<Cell>& cells, const RunConfig& cfg);

}  // namespace ipcmatrix
