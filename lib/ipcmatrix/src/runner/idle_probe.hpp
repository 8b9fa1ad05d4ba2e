#pragma once
// Private to runner/: the idle cost of a waiting endpoint.

#include "ipcmatrix/runner/plan.hpp"

namespace ipcmatrix::detail {

/// CPU% of one receiving endpoint of the cell's mechanism and wait strategy, waiting
/// kIdleWindowMs on a channel with no traffic, in its own process: a spinning ring burns a
/// core while it waits, a blocking one costs nothing. -1 when the probe failed.
[[nodiscard]] double idle_cpu_percent(const Cell& c, const RunConfig& cfg);

inline constexpr std::int64_t kIdleWindowMs = 250;

}  // namespace ipcmatrix::detail
