#pragma once
// Private to runner/: what the harness alone can do. The cell's own role loops (same
// pattern, size, serializer, api, batch, verify mode and latency sampling) run as threads
// of this process over the cheapest channel there is, an SPSC ring in memory, so their
// msgs/s is the ceiling above which no mechanism can be measured by this harness on this
// machine. A cell that comes near it (kHarnessBoundFraction) is harness-bound: its figure
// is a lower bound for the mechanism.

#include <optional>

#include "ipcmatrix/runner/plan.hpp"

namespace ipcmatrix::detail {

inline constexpr double kHarnessBoundFraction = 0.7;
/// The ceiling run's limits: a short, count- and time-capped run per group of cells.
inline constexpr std::uint64_t kCeilingMessages = 200'000;
inline constexpr double kCeilingDurationS = 0.2;

/// msgs/s of c's role loops over in-process rings; nullopt when the run failed.
[[nodiscard]] std::optional<double> harness_ceiling(const Cell& c, const RunConfig& cfg);

}  // namespace ipcmatrix::detail
