#pragma once
// Private to runner/: one repetition of one cell across real processes. Creates a channel
// per topology edge, spawns one worker per participant, hands each its task, waits until
// all are ready, releases them together, gathers one report each and reaps everyone
// (killing stragglers). Then the deliveries are verified (verify.hpp).

#include <cstdint>
#include <string>
#include <vector>

#include "ipcmatrix/pattern/topology.hpp"
#include "ipcmatrix/runner/plan.hpp"
#include "ipcmatrix/runner/protocol.hpp"

namespace ipcmatrix::detail {

/// What one repetition produced.
struct Repetition {
  std::string error;                  ///< empty when every participant reported and verified
  Topology topology;
  ChannelOptions options;             ///< every channel of the repetition was created with these
  std::vector<WorkerReport> reports;  ///< per participant, in topology order (when no error)
  /// Messages sent on a lossy (fan-out) channel that its receiver never got, summed over
  /// the channels (warm-up included); 0 on every other channel, where a loss is an error.
  std::uint64_t dropped = 0;
  std::uint64_t lossy_sent = 0;  ///< what those channels' senders sent, summed (dropped's whole)
};

/// Runs one repetition of `c` with message seed `seed`; `cpus` are the allowed CPUs for
/// placement. Never throws for a failing participant: the failure is in `error`.
[[nodiscard]] Repetition run_repetition(const Cell& c, const RunConfig& cfg, const std::vector<int>& cpus,
                                        std::uint64_t seed);

/// Fault injection for tests, read from $IPCMATRIX_FAULT (kFaultEnv):
/// "kill:<pattern>:<mechanism>" SIGKILLs one participant of each matching cell
/// kFaultDelayMs after the start; "corrupt|drop|duplicate:<pattern>:<mechanism>" makes
/// participant 0 damage its measured message kFaultAt (see Fault in roles.hpp).
inline constexpr std::int64_t kFaultDelayMs = 20;
inline constexpr std::uint64_t kFaultAt = 10;

}  // namespace ipcmatrix::detail
