#include "ipcmatrix/report/charts.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "ipcmatrix/model/format.hpp"
#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/pattern/pattern.hpp"
#include "ipcmatrix/report/decisions.hpp"
#include "ipcmatrix/sys/run_program.hpp"
#include "ipcmatrix/util/output_file.hpp"

namespace ipcmatrix {

namespace {

namespace fs = std::filesystem;

/// gnuplot gets this long per chart; a hung one is killed.
constexpr std::chrono::milliseconds kGnuplotTimeout{30'000};
/// Percentiles of the spectrum, as the fraction below: x = 1 / (1 - q).
constexpr double kSpectrum[] = {0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999};

bool ok(const CellResult& c) { return c.ok(); }
/// Whether c's pattern is drawn by the charts of `role` (PatternSpec::chart).
bool charted_as(const CellResult& c, ChartRole role) {
  const PatternSpec* spec = pattern_or_null(c.pattern);
  return spec != nullptr && spec->chart == role;
}
bool round_trip(const CellResult& c) { return charted_as(c, ChartRole::latency); }
bool closed_loop(const CellResult& c) { return c.rate == 0 && !c.load; }

/// Per mechanism (in first-seen order), per size: the best value of `figure` among cells.
template <class Keep, class Figure>
std::vector<ChartSeries> best_per_mechanism(const RunResult& r, Keep keep, Figure figure, bool lower_is_better) {
  std::vector<std::string> order;
  std::map<std::string, std::map<double, double>> best;
  for (const CellResult& c : r.cells) {
    if (!ok(c) || !keep(c)) continue;
    const std::optional<double> v = figure(c);
    if (!v || !(*v > 0)) continue;
    if (!best.count(c.mechanism)) order.push_back(c.mechanism);
    auto& per_size = best[c.mechanism];
    const auto x = static_cast<double>(c.size_bytes);
    const auto it = per_size.find(x);
    if (it == per_size.end() || (lower_is_better ? *v < it->second : *v > it->second)) per_size[x] = *v;
  }
  std::vector<ChartSeries> out;
  for (const auto& m : order) out.push_back({m, {best[m].begin(), best[m].end()}, false});
  return out;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) >= 0x20) out += ch;
  }
  return out + "\"";
}

/// Runs gnuplot on `script` (a file), returning what it wrote to standard output.
std::string run_gnuplot(const std::string& gnuplot, const std::string& script_path, const std::string& chart) {
  sys::ProgramOptions options;
  options.timeout = kGnuplotTimeout;
  options.capture_stdout = true;
  sys::ProgramResult result;
  try {
    result = sys::run_program({gnuplot, script_path}, options);
  } catch (const std::exception& e) {
    throw std::runtime_error("charts: cannot run gnuplot on " + chart + ": " + e.what());
  }
  if (result.timed_out()) throw std::runtime_error("charts: gnuplot took over 30 s on " + chart + " and was killed");
  if (!result.ok() || result.out.find("</svg>") == std::string::npos)
    throw std::runtime_error("charts: gnuplot failed on " + chart);
  return result.out;
}

Chart make_chart(std::string file, std::string title, std::string x_label, std::string y_label) {
  Chart c;
  c.file = std::move(file);
  c.title = std::move(title);
  c.x_label = std::move(x_label);
  c.y_label = std::move(y_label);
  return c;
}

}  // namespace

std::vector<Chart> chart_plan(const RunResult& r) {
  std::vector<Chart> charts;

  Chart size_latency = make_chart("latency_vs_size.svg", "Round-trip latency against message size (pingpong, best p50 per mechanism)",
                     "message size (bytes)", "p50 round trip (us)");
  size_latency.series = best_per_mechanism(
      r, [](const CellResult& c) { return round_trip(c) && measures_latency(c); },
      [](const CellResult& c) -> std::optional<double> {
        if (!c.latency_ns.p50) return std::nullopt;
        return static_cast<double>(*c.latency_ns.p50) / 1e3;
      },
      true);
  size_latency.x_format = "%.0b%B";
  charts.push_back(std::move(size_latency));

  // The spectrum: each mechanism's lowest-p50 pingpong cell at the smallest pingpong size.
  Chart spectrum = make_chart("percentiles.svg", "", "percentile (log scale of 1 / (1 - q): 2 = p50, 100 = p99, 1000 = p99.9)",
                 "round trip (us)");
  std::optional<std::uint64_t> smallest;
  for (const CellResult& c : r.cells)
    if (ok(c) && round_trip(c) && (!smallest || c.size_bytes < *smallest)) smallest = c.size_bytes;
  if (smallest) {
    spectrum.title = fmt::format("Percentile spectrum of the round trip, pingpong {} (best cell per mechanism)",
                                 format_size(*smallest));
    std::vector<std::string> order;
    std::map<std::string, const CellResult*> best;
    for (const CellResult& c : r.cells) {
      if (!ok(c) || !round_trip(c) || c.size_bytes != *smallest || !c.latency_ns.p50) continue;
      const auto it = best.find(c.mechanism);
      if (it == best.end()) order.push_back(c.mechanism);
      if (it == best.end() || *c.latency_ns.p50 < *it->second->latency_ns.p50) best[c.mechanism] = &c;
    }
    for (const auto& m : order) {
      ChartSeries s{m, {}, false};
      for (const double q : kSpectrum)
        if (best[m]->histogram.resolves(q * 100))
          s.points.emplace_back(1 / (1 - q), static_cast<double>(best[m]->histogram.value_at_percentile(q * 100)) / 1e3);
      if (!s.points.empty()) spectrum.series.push_back(std::move(s));
    }
  }
  spectrum.log_x = true;
  spectrum.x_tics = "(\"p50\" 2, \"p90\" 10, \"p99\" 100, \"p99.9\" 1000, \"p99.99\" 10000)";
  charts.push_back(std::move(spectrum));

  Chart load = make_chart("latency_vs_load.svg", "Latency against offered load: p99 solid, p50 dashed (one-way, corrected)",
             "offered load (msgs/s per producer)", "latency (us)");
  load.x_format = "%.0s%c";
  // One pattern, size and serializer (the first swept, smallest size): a line per mechanism
  // (and wait), not a legend of every configuration.
  const std::vector<LoadCurve> curves = load_curves(r);
  const CellResult* first = nullptr;
  for (const LoadCurve& curve : curves)
    for (const CellResult* p : curve.points)
      if (!first || (p->pattern == first->pattern && p->size_bytes < first->size_bytes)) first = p;
  if (first) {
    load.title = fmt::format("Latency against offered load, {} {} {}: p99 solid, p50 dashed (one-way, corrected)",
                             first->pattern, format_size(first->size_bytes), first->serializer);
  }
  for (const LoadCurve& curve : curves) {
    if (curve.points.empty() || !first) continue;
    const CellResult& any = *curve.points.front();
    if (any.pattern != first->pattern || any.size_bytes != first->size_bytes || any.serializer != first->serializer ||
        any.procs != first->procs)
      continue;
    const std::string name = fmt::format("{} {}", any.mechanism, any.wait);
    ChartSeries p99{name + " p99", {}, false}, p50{name + " p50", {}, true};
    for (const CellResult* p : curve.points) {
      if (p->latency_ns.p99) p99.points.emplace_back(p->rate, static_cast<double>(*p->latency_ns.p99) / 1e3);
      if (p->latency_ns.p50) p50.points.emplace_back(p->rate, static_cast<double>(*p->latency_ns.p50) / 1e3);
    }
    if (!p99.points.empty()) load.series.push_back(std::move(p99));
    if (!p50.points.empty()) load.series.push_back(std::move(p50));
  }
  charts.push_back(std::move(load));

  Chart tput = make_chart("throughput_vs_size.svg", "Throughput against message size (stream, closed loop, best per mechanism)",
             "message size (bytes)", "payload throughput (MB/s, 10^6 bytes)");
  tput.series = best_per_mechanism(
      r, [](const CellResult& c) { return charted_as(c, ChartRole::throughput) && closed_loop(c); },
      [](const CellResult& c) -> std::optional<double> { return c.throughput.payload_bytes_per_s / 1e6; }, false);
  tput.x_format = "%.0b%B";
  charts.push_back(std::move(tput));

  Chart cpu = make_chart("cpu_per_msg.svg", "CPU time per message against size (stream, closed loop, all processes)",
            "message size (bytes)", "CPU per message (ns)");
  cpu.series = best_per_mechanism(
      r, [](const CellResult& c) { return charted_as(c, ChartRole::throughput) && closed_loop(c); },
      [](const CellResult& c) -> std::optional<double> { return c.cpu.per_msg_ns; }, true);
  cpu.x_format = "%.0b%B";
  charts.push_back(std::move(cpu));

  std::erase_if(charts, [](const Chart& c) {
    return std::none_of(c.series.begin(), c.series.end(), [](const ChartSeries& s) { return !s.points.empty(); });
  });
  return charts;
}

std::optional<std::string> gnuplot_path() {
  if (const char* forced = std::getenv("IPCMATRIX_GNUPLOT"); forced != nullptr) {
    if (::access(forced, X_OK) == 0) return std::string(forced);
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  const std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / "gnuplot";
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return std::nullopt;
}

std::string gnuplot_script(const Chart& c) {
  std::string s;
  // Fixed size and fonts, no mouse script, no dates: the same chart gives the same bytes.
  s += "set terminal svg size 960,600 dynamic font 'sans,12' background rgb 'white'\n";
  s += "set encoding utf8\nset output\n";
  s += "set title " + quoted(c.title) + " noenhanced\n";
  s += "set xlabel " + quoted(c.x_label) + " noenhanced\n";
  s += "set ylabel " + quoted(c.y_label) + " noenhanced\n";
  if (c.log_x) s += "set logscale x\n";
  if (c.log_y) s += "set logscale y\n";
  s += "set grid\nset key outside below noenhanced\nset format y '%g'\n";
  s += "set format x " + quoted(c.x_format) + "\n";
  if (!c.x_tics.empty()) s += "set xtics " + c.x_tics + "\n";
  for (std::size_t i = 0; i < c.series.size(); ++i) {
    s += fmt::format("$s{} << EOD\n", i);
    for (const auto& [x, y] : c.series[i].points) s += fmt::format("{:.6g} {:.6g}\n", x, y);
    s += "EOD\n";
  }
  s += "plot ";
  std::size_t colour = 0;
  for (std::size_t i = 0; i < c.series.size(); ++i) {
    if (i) s += ", \\\n     ";
    // One colour per configuration: a dashed series takes the colour of the solid one before it.
    if (!c.series[i].dashed || colour == 0) ++colour;
    s += fmt::format("$s{} using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc {} dt {} title {}", i, colour,
                     c.series[i].dashed ? 2 : 1, quoted(c.series[i].name));
  }
  s += "\n";
  return s;
}

void write_charts(const RunResult& r, const std::string& dir) {
  const std::optional<std::string> gnuplot = gnuplot_path();
  if (!gnuplot) return;
  const std::vector<Chart> charts = chart_plan(r);
  if (charts.empty()) return;
  const fs::path out_dir = fs::path(dir) / kChartsDir;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw std::runtime_error("cannot create directory '" + out_dir.string() + "': " + ec.message());
  for (const Chart& c : charts) {
    // The script goes through a private temporary file: gnuplot reads it by name.
    std::string tmpl = (fs::temp_directory_path() / "ipcmatrix-chart-XXXXXX").string();
    const int fd = ::mkstemp(tmpl.data());
    if (fd < 0) throw std::runtime_error("charts: cannot create a temporary file: " + std::string(std::strerror(errno)));
    const std::string script = gnuplot_script(c);
    const bool written = ::write(fd, script.data(), script.size()) == static_cast<ssize_t>(script.size());
    ::close(fd);
    std::string svg;
    try {
      if (!written) throw std::runtime_error("charts: cannot write " + tmpl);
      svg = run_gnuplot(*gnuplot, tmpl, c.file);
    } catch (...) {
      ::unlink(tmpl.c_str());
      throw;
    }
    ::unlink(tmpl.c_str());
    write_output_file((out_dir / c.file).string(), svg);
  }
}

}  // namespace ipcmatrix
