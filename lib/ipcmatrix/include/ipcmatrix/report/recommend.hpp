#pragma once
/// @file recommend.hpp
/// `ipc-matrix recommend results.json --pattern P --size S [--rate R] [--p99-under T]
/// [--max-cores N]`: the best measured configuration meeting the constraints, the runner-up
/// and why, or the closest miss and what it missed. Decided from the results file alone, with
/// the rules of decisions.hpp: latency only from latency measurements (round trips, achieved
/// open-loop rates), leads only where the repetitions say so. Pure; thread-safe.
///
/// Objective: with --p99-under, the lowest p99 among cells that measure latency; otherwise
/// the highest throughput (a cell offered a rate is judged by what it achieved).
/// Constraints:
///   --rate R       the cell moved at least R msgs/s (closed loop: its throughput; open loop:
///                  it achieved an offered rate of at least R)
///   --p99-under T  the cell measures latency and its p99 is below T
///   --max-cores N  the cell's processes used at most N cores while measuring

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ipcmatrix/model/results.hpp"
#include "ipcmatrix/report/decisions.hpp"

namespace ipcmatrix {

struct Constraints {
  std::string pattern;
  std::uint64_t size_bytes = 0;
  std::optional<double> rate;          ///< msgs/s
  std::optional<double> p99_under_ns;
  std::optional<double> max_cores;
};

struct Choice {
  Objective objective = Objective::highest_throughput;  ///< lowest_p99 with --p99-under
  std::size_t considered = 0;          ///< ok cells of that pattern and size
  const CellResult* best = nullptr;    ///< null when nothing met the constraints
  /// The best of another mechanism that also met them, and how best compares.
  std::optional<Pick> margin;
  const CellResult* closest_miss = nullptr;  ///< when best is null: the cell that missed least
  std::vector<std::string> missed;           ///< what closest_miss missed, by how much
};

/// The choice for k among r's ok cells. Throws std::invalid_argument when no ok cell has that
/// pattern and size (the message lists the patterns and sizes there are).
[[nodiscard]] Choice choose(const RunResult& r, const Constraints& k);

/// As JSON: {"constraints", "objective", "considered", "choice", "runner_up", "margin",
/// "closest_miss", "missed"}; cells by cell_id and their settings.
[[nodiscard]] nlohmann::json to_json(const Choice& c, const Constraints& k);
/// As text for a terminal: the pick, its evidence, the runner-up and why (or the closest miss).
[[nodiscard]] std::string render_choice(const Choice& c, const Constraints& k);

/// The settings of a measured cell, as the file `recommend --emit-config` writes and
/// load_deployment() reads: {"mechanism", "serializer", "api", "batch", "placement",
/// "channel": {"wait", "capacity_bytes", "pipe_bytes"}, "measured": {...}}: the cell's own
/// settings (CellResult::channel), so loading it gives back the channel options it ran with.
[[nodiscard]] nlohmann::json deployment_json(const CellResult& c);

}  // namespace ipcmatrix
