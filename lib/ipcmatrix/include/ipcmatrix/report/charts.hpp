#pragma once
/// @file charts.hpp
/// SVG charts beside the report (the `charts` reporter), drawn by gnuplot's SVG terminal from
/// data this module derives from a RunResult alone:
///   latency_vs_size.svg     pingpong p50 round trip against message size, per mechanism
///   percentiles.svg         the percentile spectrum (HdrHistogram style) of each mechanism's
///                           best pingpong cell at the smallest size
///   latency_vs_load.svg     p99 (solid) and p50 (dashed) against offered load, per mechanism:
///                           the stream cells of the smallest size and first serializer swept
///   throughput_vs_size.svg  stream MB/s against message size, closed loop, per mechanism
///   cpu_per_msg.svg         stream CPU time per message against size, closed loop, per mechanism
/// Per mechanism and size a series takes the best cell of that mechanism (any serializer, wait
/// or placement): what the mechanism can do, as in the report's tables. A chart with no data
/// is not drawn. chart_plan() is pure and deterministic; gnuplot's SVG output is too (no dates).
/// Without gnuplot (Debian's gnuplot-nox) the reporter writes nothing and the report says so.

#include <optional>
#include <string>
#include <vector>

#include "ipcmatrix/model/results.hpp"

namespace ipcmatrix {

struct ChartSeries {
  std::string name;                              ///< legend entry: "shm", "shm/raw hybrid"
  std::vector<std::pair<double, double>> points;  ///< (x, y) in the axes' units, x ascending
  bool dashed = false;
};

struct Chart {
  std::string file;     ///< "latency_vs_size.svg", under charts/
  std::string title, x_label, y_label;
  bool log_x = true, log_y = true;
  /// gnuplot's format of the x tic labels: "%.0b%B" binary prefixes (sizes: 64, 64Ki, 1Mi),
  /// "%.0s%c" decimal ones (rates: 100, 10k, 1M).
  std::string x_format = "%g";
  std::string x_tics;  ///< explicit tics, gnuplot syntax ("(\"p50\" 2, ...)"); "" = automatic
  std::vector<ChartSeries> series;
};

/// The directory, under the report's, that the charts go to.
inline constexpr const char* kChartsDir = "charts";

/// The charts r has data for, in the order above.
[[nodiscard]] std::vector<Chart> chart_plan(const RunResult& r);

/// The gnuplot executable: $IPCMATRIX_GNUPLOT when set (a test points it nowhere), else
/// "gnuplot" found on PATH; nullopt when there is none.
[[nodiscard]] std::optional<std::string> gnuplot_path();

/// The gnuplot script that draws c as SVG on standard output (data inline).
[[nodiscard]] std::string gnuplot_script(const Chart& c);

/// Writes <dir>/charts/<file> for every chart of chart_plan(r), through gnuplot; nothing when
/// gnuplot is missing. Throws std::runtime_error naming the chart when gnuplot fails.
void write_charts(const RunResult& r, const std::string& dir);

}  // namespace ipcmatrix
