#include "ipcmatrix/report/export.hpp"

#include <fmt/format.h>

#include <optional>
#include <string>

#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/report/decisions.hpp"

namespace ipcmatrix {

namespace {

/// One figure of a cell: its value and, over repetitions, the smallest and largest.
struct Measure {
  std::string_view slug;  ///< BMF measure slug
  std::string_view unit;  ///< github-action-benchmark unit
  bool smaller_is_better = true;
  double value = 0;
  std::optional<double> lower, upper;
};

std::optional<Measure> measure(std::string_view slug, std::string_view unit, bool smaller, double value,
                               const std::optional<FigureSpread>& spread) {
  if (!(value > 0)) return std::nullopt;
  Measure m{slug, unit, smaller, value, std::nullopt, std::nullopt};
  if (spread && spread->n > 1) {
    m.lower = spread->min;
    m.upper = spread->max;
  }
  return m;
}

/// The measures of an ok cell, in a fixed order.
std::vector<Measure> measures_of(const CellResult& c) {
  std::vector<Measure> out;
  const auto add = [&](std::optional<Measure> m) {
    if (m) out.push_back(*m);
  };
  add(measure("throughput", "msgs/s", false, c.throughput.msgs_per_s, c.throughput_spread));
  if (measures_latency(c)) {
    if (c.latency_ns.p50) add(measure("latency", "ns", true, static_cast<double>(*c.latency_ns.p50), c.p50_spread));
    if (c.latency_ns.p99) add(measure("p99-latency", "ns", true, static_cast<double>(*c.latency_ns.p99), c.p99_spread));
  }
  add(measure("cpu-per-message", "ns", true, c.cpu.per_msg_ns, c.cpu_per_msg_spread));
  return out;
}

}  // namespace

nlohmann::json export_results(const RunResult& r, ExportFormat f) {
  nlohmann::json out = f == ExportFormat::bmf ? nlohmann::json::object() : nlohmann::json::array();
  for (const CellResult& c : r.cells) {
    if (!c.ok()) continue;
    const std::string name = cell_id(c);
    for (const Measure& m : measures_of(c)) {
      if (f == ExportFormat::bmf) {
        nlohmann::json v = {{"value", m.value}};
        if (m.lower) v["lower_value"] = *m.lower;
        if (m.upper) v["upper_value"] = *m.upper;
        out[name][std::string(m.slug)] = std::move(v);
        continue;
      }
      if (m.smaller_is_better != (f == ExportFormat::gab_smaller)) continue;
      nlohmann::json e = {{"name", fmt::format("{} {}", name, m.slug)}, {"unit", m.unit}, {"value", m.value}};
      if (m.lower && m.upper) e["range"] = fmt::format("{:.6g}..{:.6g}", *m.lower, *m.upper);
      e["extra"] = fmt::format("{}, {}", format_count(static_cast<std::uint64_t>(c.repetitions), "repetition"),
                               to_string(c.race));
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace ipcmatrix
