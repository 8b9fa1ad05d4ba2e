#pragma once
// Private to runner/: figures from worker reports, and one result from several repetitions.

#include <vector>

#include "ipcmatrix/model/results.hpp"
#include "ipcmatrix/runner/plan.hpp"
#include "repetition.hpp"

namespace ipcmatrix::detail {

/// The figures of one successful repetition: merged histograms, throughput over the
/// receivers' window (first measured receive to last stamped one), CPU per process over its
/// measured phase and per message (an open-loop pacer's spinning apart), serialization
/// samples, and warnings for a short window, clock skew, loan fallbacks and CPU time that
/// exceeds its phase. Identity fields are left for the caller.
[[nodiscard]] CellResult figures(const Cell& c, const RunConfig& cfg, const Repetition& rep);

/// The median repetition by the cell's primary figure (msgs/s when `by_throughput`, else
/// p50 latency) with the spread of p50, p99 and msgs/s over all of them, `repetitions` set
/// and `noisy` when any of the three spreads exceeds 10%. `reps` is not empty.
[[nodiscard]] CellResult combine_repetitions(std::vector<CellResult> reps, bool by_throughput);

}  // namespace ipcmatrix::detail
