#pragma once
// Private to runner/: figures from worker reports, and one result from several repetitions.

#include <vector>

#include "ipcmatrix/report/results.hpp"
#include "ipcmatrix/runner/plan.hpp"
#include "repetition.hpp"

namespace ipcmatrix::detail {

/// The figures of one successful repetition: merged histograms, throughput over the window
/// from the first measured send to the last measured receive, CPU per process and per
/// message, serialization samples. Identity fields are left for the caller.
[[nodiscard]] CellResult figures(const Cell& c, const RunConfig& cfg, const Repetition& rep);

/// The median repetition (by p50 latency) with the spread of p50, p99 and msgs/s over all
/// of them, `repetitions` set and `noisy` when a spread exceeds 10%. `reps` is not empty.
[[nodiscard]] CellResult combine_repetitions(std::vector<CellResult> reps);

}  // namespace ipcmatrix::detail
