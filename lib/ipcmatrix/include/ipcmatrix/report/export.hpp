#pragma once
/// @file export.hpp
/// A results file in the formats the trackers teams already run read, so runs can be charted
/// over time without a format of ours (`ipc-matrix export`). One benchmark per ok cell,
/// named by cell_id() (results.hpp), which is the same across runs; its measures are the
/// figures the report ranks by, in nanoseconds and messages per second:
///   - throughput: msgs/s, every ok cell;
///   - latency (p50) and p99-latency: only where the cell measures latency (round trips and
///     open-loop cells that achieved their rate, report/decisions.hpp measures_latency());
///   - cpu-per-message: CPU ns per received message, where measured.
/// Where a cell ran more than once, the bounds are the smallest and largest repetition.
/// Pure functions; thread-safe.
///
/// Formats:
///   - Bencher Metric Format (bencher.dev): {benchmark: {measure: {value, lower_value,
///     upper_value}}}, measures by slug ("throughput", "latency", "p99-latency",
///     "cpu-per-message").
///   - github-action-benchmark's custom tools: a JSON array of {name, unit, value, range,
///     extra}; one file per direction, as the action's tool setting is per file:
///     customSmallerIsBetter (latencies and CPU, ns) or customBiggerIsBetter (msgs/s).

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "ipcmatrix/model/results.hpp"

namespace ipcmatrix {

enum class ExportFormat : std::uint8_t {
  bmf,          ///< Bencher Metric Format
  gab_smaller,  ///< github-action-benchmark, customSmallerIsBetter: latencies, CPU per message
  gab_bigger,   ///< github-action-benchmark, customBiggerIsBetter: msgs/s
};
/// The --format names: "bmf", "github-action-benchmark" (the smaller-is-better file),
/// "github-action-benchmark-throughput" (the bigger-is-better file).
inline constexpr NameTable<ExportFormat, 3> kExportFormatNames{
    {{{ExportFormat::bmf, "bmf"},
      {ExportFormat::gab_smaller, "github-action-benchmark"},
      {ExportFormat::gab_bigger, "github-action-benchmark-throughput"}}}};
constexpr const auto& names_of(ExportFormat) noexcept { return kExportFormatNames; }

/// r's ok cells in format f.
[[nodiscard]] nlohmann::json export_results(const RunResult& r, ExportFormat f);

}  // namespace ipcmatrix
