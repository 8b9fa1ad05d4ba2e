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
/// Inside (src/runner/): repetition.cpp spawns the workers and speaks the protocol
/// (protocol.hpp), verify.cpp proves the deliveries, aggregate.cpp turns reports into
/// figures and repetitions into one result, idle_probe.cpp measures a waiting endpoint.

#include <cstddef>
#include <functional>

#include "ipcmatrix/model/results.hpp"
#include "ipcmatrix/runner/config.hpp"
#include "ipcmatrix/runner/plan.hpp"

namespace ipcmatrix {

/// Progress hooks; either may be empty.
struct MatrixCallbacks {
  /// Before each repetition: its step among cells x repetitions (round-major), and the cell.
  std::function<void(std::size_t step, std::size_t steps, const Cell&)> on_cell_start;
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
