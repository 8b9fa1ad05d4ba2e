#pragma once
/// @file plan.hpp
/// The matrix as a list of typed cells: a RunConfig expanded over every dimension. A cell
/// holds pointers to registry entries and enums, never names to compare.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ipcmatrix/pattern/pattern.hpp"
#include "ipcmatrix/runner/config.hpp"
#include "ipcmatrix/runner/placement.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {

/// One point of the matrix.
struct Cell {
  const PatternSpec* pattern = nullptr;
  const TransportSpec* mechanism = nullptr;
  std::string serializer;              ///< canonical serializer name ("zstd+binary")
  std::optional<WaitStrategy> wait;    ///< nullopt: the mechanism always blocks in the kernel
  Placement placement = Placement::unpinned;
  std::uint64_t size_bytes = 0;
  int procs = 2;  ///< participants, resolved from the pattern's rule
  int batch = 1;

  /// "spin", "block", "hybrid", or "kernel" for mechanisms that cannot spin.
  [[nodiscard]] std::string wait_name() const;
};

/// The wait name of mechanisms that ignore WaitStrategy, as results record it.
inline constexpr std::string_view kKernelWait = "kernel";

/// All cells of a config, in run order (pattern, mechanism, serializer, size, wait,
/// placement, batch). Mechanisms that cannot spin get one cell with wait "kernel";
/// patterns that do not batch get batch 1 only. `cpus` is the usable CPU count.
/// Throws Error for a name that is not registered (validate() catches those first).
[[nodiscard]] std::vector<Cell> plan_cells(const RunConfig& cfg, int cpus);

/// Warnings that apply to a cell before it runs: spinners sharing or outnumbering CPUs,
/// load dimensions the pattern ignores.
[[nodiscard]] std::vector<std::string> cell_warnings(const Cell& c, const RunConfig& cfg,
                                                     std::size_t ncpus);

}  // namespace ipcmatrix
