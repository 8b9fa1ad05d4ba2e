#pragma once
/// @file coordinator.hpp
/// Runs a whole matrix: plans the cells (plan.hpp), runs their repetitions across real
/// processes in interleaved rounds (round k runs the k-th repetition of every cell, in an
/// order shuffled by the seed, after measuring the machine's floor again), verifies every
/// delivery, aggregates repetitions, measures the idle cost of each (mechanism, wait), and
/// checks that no segment, socket file or fd outlives a repetition. Any failure fails that
/// cell only (its later rounds are skipped). An interruption keeps every cell with at least
/// one finished repetition.
///
/// The first `repetitions` rounds run every cell; then racing (race.hpp) gives further
/// rounds only to the cells still open in their group, up to `race` repetitions each, while
/// the time budget allows: a racing repetition that would end past the budget (with the
/// end-of-run measurements reserved) is not started. Each cell records its verdict
/// (CellResult::race).
///
/// Inside (src/runner/): repetition.cpp spawns the workers and speaks the protocol
/// (protocol.hpp), verify.cpp proves the deliveries, aggregate.cpp turns reports into
/// figures and repetitions into one result, idle_probe.cpp measures a waiting endpoint.

#include <cstddef>
#include <functional>

#include "ipcmatrix/model/results.hpp"
#include "ipcmatrix/runner/config.hpp"
#include "ipcmatrix/runner/plan.hpp"

namespace ipcmatrix {

/// Where the run stands, before each repetition.
struct MatrixProgress {
  std::size_t round = 1;       ///< 1-based
  std::size_t first_pass = 1;  ///< rounds every cell runs (--repetitions)
  std::size_t max_rounds = 1;  ///< the most rounds racing may take (--race, at least first_pass)
  std::size_t in_round = 1;    ///< this repetition's place in its round, 1-based
  std::size_t round_size = 0;  ///< repetitions in this round
  /// Cells still racing (their place in their group not yet decided); 0 in the first pass.
  std::size_t open_cells = 0;
  /// Racing the cells the summary's picks are made from, which run before the rest's rounds.
  bool racing_summary = false;
  double elapsed_s = 0;
  /// Seconds left, estimated from the repetitions measured so far and bounded by the budget;
  /// negative until there is a measured repetition to estimate from.
  double eta_s = -1;
};

/// Progress hooks; either may be empty.
struct MatrixCallbacks {
  std::function<void(const MatrixProgress&, const Cell&)> on_cell_start;
  /// Once a cell's result is final (after the last round), in plan order.
  std::function<void(std::size_t index, std::size_t total, const CellResult&)> on_cell_done;
};

/// Runs every cell (repetitions included). Never throws for a failing cell: it is
/// recorded with status "error" and the matrix goes on.
[[nodiscard]] RunResult run_matrix(const RunConfig& cfg, const MatrixCallbacks& cb = {});

/// Fault injection for tests: "kill:<pattern>:<mechanism>" SIGKILLs one participant of
/// each matching cell shortly after the start. Read from $IPCMATRIX_FAULT.
inline constexpr const char* kFaultEnv = "IPCMATRIX_FAULT";

}  // namespace ipcmatrix
