#pragma once
/// @file compare.hpp
/// `ipc-matrix compare baseline.json current.json`: what changed between two runs, cell by
/// cell, with noise told apart from change by the same test the recommendations use
/// (stats/significance.hpp: Mann-Whitney over the repetitions, and a minimum relative change).
/// Cells match by cell_id(). Latency figures are compared only where the cell measures
/// latency (decisions.hpp: round trips and achieved open-loop rates); a saturated cell's p50
/// is queueing delay and is left out, as it is from the recommendations. Pure; thread-safe.

#include <optional>
#include <string>
#include <vector>

#include "ipcmatrix/model/results.hpp"

namespace ipcmatrix {

enum class Change : std::uint8_t { unchanged, improved, regressed };
[[nodiscard]] std::string_view to_string(Change c) noexcept;

/// One figure of one cell, baseline against current.
struct FigureChange {
  std::string figure;          ///< "p50_ns", "p99_ns", "msgs_per_s", "cpu_ns_per_msg"
  double baseline = 0, current = 0;  ///< medians over each side's repetitions
  double ratio = 1;            ///< current / baseline
  std::optional<double> p_value;  ///< absent when the repetitions are too few to test
  Change change = Change::unchanged;
};

struct CellComparison {
  std::string id;  ///< cell_id() of both
  std::vector<FigureChange> figures;
  [[nodiscard]] bool regressed() const noexcept;
};

struct Comparison {
  double threshold = 0.10;
  std::vector<CellComparison> cells;        ///< matched ok cells, in the current file's order
  std::vector<std::string> only_baseline;   ///< ids of ok cells only the baseline has
  std::vector<std::string> only_current;    ///< and only the current
  std::vector<std::string> not_ok;          ///< matched ids where either side failed
  /// "cpu_model: AMD EPYC -> Intel Xeon", for the machine facts that make figures comparable.
  std::vector<std::string> environment_differences;
  bool untested = false;  ///< some figure was judged by the threshold alone (< 3 repetitions)
  [[nodiscard]] bool regressed() const noexcept;
};

/// threshold: the smallest relative change reported (0.10 = 10%), > 0.
[[nodiscard]] Comparison compare_results(const RunResult& baseline, const RunResult& current, double threshold);

/// The comparison as text: Markdown tables, or plain aligned text. Deterministic.
[[nodiscard]] std::string render_comparison(const Comparison& c, bool markdown);

}  // namespace ipcmatrix
