#pragma once
// Private to runner/: what the harness alone can do. The cell's own role loops (same
// pattern, size, serializer, api, batch, verify mode and latency sampling) run in this
// process over a channel that costs as little as there is, so their msgs/s is the ceiling
// above which no mechanism can be measured by this harness on this machine. A cell that
// comes near it (kHarnessBoundFraction) is harness-bound: its figure is a lower bound for
// the mechanism.
//
// The channel: where every participant only sends or only receives (stream, fan-in,
// fan-out, broadcast), a recording that costs one memory copy: each producer runs alone
// into it, then each consumer alone from it, and the ceiling is the slower side's msgs/s.
// No second core and no shared cache line, so a mechanism (the shm ring included) can come
// near it only when the loops themselves are the limit. Other topologies (echo, forwarders,
// mesh peers need a live peer) fall back to an SPSC ring in memory between threads, which a
// shm cell reaches by construction.

#include <cstddef>
#include <optional>
#include <vector>

#include "ipcmatrix/pattern/topology.hpp"
#include "ipcmatrix/runner/plan.hpp"

namespace ipcmatrix::detail {

inline constexpr double kHarnessBoundFraction = 0.7;
/// A cell measured above this multiple of its ceiling was not bounded by it: not
/// harness-bound, whatever it came near (48 of 183 flagged cells of a 728-cell sweep were
/// at 1.1-2.1x the ceiling they were said to be limited by).
inline constexpr double kCeilingExceeded = 1.25;
/// The ceiling run's limits: a short, count- and time-capped run per group of cells. Not
/// shorter: with 50k messages and 0.1 s (tried 2026-12-06) a headline run's 64 B ceilings
/// came out 0.3-1.8x the previous run's, and the harness-bound flags moved with them.
inline constexpr std::uint64_t kCeilingMessages = 200'000;
inline constexpr double kCeilingDurationS = 0.2;

/// The ceiling of a topology of producers and consumers only, over channels that cost a
/// memory copy: each producer runs alone into recordings, then each consumer alone from
/// them. Run side by side on cores of their own they could move no more than the slower
/// side: min(all producers' msgs/s, all consumers' msgs/s). nullopt when the topology has
/// other roles, when the messages are too large to record 1000 of them (16 MiB in all),
/// or when a loop failed.
[[nodiscard]] std::optional<double> copy_only_ceiling(const Cell& c, const RunConfig& cfg, const Topology& topo);

/// The copy-only ceiling where it applies, else msgs/s of c's role loops over in-process
/// rings; measured in a forked child, so none of its memory stays in the caller; nullopt
/// when the run failed, or took longer than cfg.cell_timeout_s.
[[nodiscard]] std::optional<double> harness_ceiling(const Cell& c, const RunConfig& cfg);

/// Near its ceiling, a cell may still measure its mechanism at full speed: the ceiling is
/// only a memory copy, and the shm ring moves 64 B messages nearly as fast. What tells the
/// two apart is the mechanism's bare loop (bare_stream(): the same channel options, wire
/// size, batch and CPUs, none of the harness): a cell at kBareFraction of it or more is
/// not harness-bound, since without the harness the mechanism goes no faster.
inline constexpr double kBareFraction = 0.9;
/// The bare loop's run: one window, 100 ms (a low figure would clear the flag, so not the
/// shortest that resolves a rate: 50 ms ones read 2x low on this VM now and then).
inline constexpr double kBareDurationS = 0.1;

/// msgs/s of c's mechanism with nothing of the harness, measured now, for a cell of one
/// producer and one consumer whose messages took `wire_bytes` on the channel; nullopt for
/// other topologies, for the loan api (the bare loop copies), for a mechanism whose
/// processes need its daemon's runtime (iceoryx: the benchmark bench_matrix_vs_bare has its
/// own loop), or when the loop failed. The cell's figure (its median repetition) is held
/// against it, though it ran next to the first repetition that came near the ceiling.
[[nodiscard]] std::optional<double> bare_transport(const Cell& c, const RunConfig& cfg, const std::vector<int>& cpus,
                                                   std::size_t wire_bytes);

}  // namespace ipcmatrix::detail
