#pragma once
/// @file coordinator.hpp
/// Expands a RunConfig into cells and measures each one across real processes.
///
/// One cell: create a channel per topology edge, spawn one worker per participant (this
/// binary re-executed, see worker.hpp), hand each its task over a control socket, wait
/// until all are ready, release them together, gather one report each, then verify that
/// every channel delivered exactly what was sent (counts, order, checksums) and that no
/// segment, socket file, fd or child is left. Any failure fails that cell only.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ipcmatrix/report/results.hpp"
#include "ipcmatrix/runner/config.hpp"

namespace ipcmatrix {

/// One point of the matrix.
struct Cell {
  std::string pattern, mechanism, serializer, wait, placement;
  std::uint64_t size_bytes = 0;
  int procs = 2;
  int batch = 1;
};

/// All cells of a config, in run order (pattern, mechanism, serializer, size, wait,
/// placement, batch). Mechanisms that cannot spin get one cell with wait "kernel";
/// pingpong ignores batch.
[[nodiscard]] std::vector<Cell> plan_cells(const RunConfig& cfg, int cpus);

/// Progress hooks; either may be empty.
struct MatrixCallbacks {
  std::function<void(std::size_t index, std::size_t total, const Cell&)> on_cell_start;
  std::function<void(std::size_t index, std::size_t total, const CellResult&)> on_cell_done;
};

/// Runs every cell (repetitions included). Never throws for a failing cell: it is
/// recorded with status "error" and the matrix goes on.
[[nodiscard]] RunResult run_matrix(const RunConfig& cfg, const MatrixCallbacks& cb = {});

/// Fault injection for tests: "kill:<pattern>:<mechanism>" SIGKILLs one participant of
/// each matching cell shortly after the start. Read from $IPCMATRIX_FAULT.
inline constexpr const char* kFaultEnv = "IPCMATRIX_FAULT";

}  // namespace ipcmatrix
