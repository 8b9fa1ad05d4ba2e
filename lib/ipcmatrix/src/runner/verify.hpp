#pragma once
// Private to runner/: proof that a repetition delivered exactly what was sent.

#include <string>
#include <vector>

#include "ipcmatrix/pattern/topology.hpp"
#include "ipcmatrix/runner/config.hpp"
#include "ipcmatrix/runner/protocol.hpp"

namespace ipcmatrix::detail {

/// Channel by channel: the count its sender reported equals its receiver's, the receiver saw
/// every sequence number in order, and no message failed the receiver's content check
/// (roles.hpp: the receiver knows from the seed what every message must hold). In count mode (duration_s 0) the
/// measured deliveries also equal what the topology says `messages` per producer make.
/// On a fan-out endpoint's channels (publish/subscribe) a message may be missing instead:
/// the receiver saw no more than was sent, in order, none twice, and `dropped` is set to what
/// never arrived, summed. `reports` are per participant in topology order. Returns the first
/// failure, "" when none. `lossy_sent` is set to what was sent on those channels; a
/// subscriber that got none of it fails (it never subscribed, it did not fall behind).
[[nodiscard]] std::string verify_deliveries(const Topology& topo, const std::vector<WorkerReport>& reports,
                                            const RunConfig& cfg, std::uint64_t& dropped, std::uint64_t& lossy_sent);

}  // namespace ipcmatrix::detail
