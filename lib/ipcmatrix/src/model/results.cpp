#include "ipcmatrix/model/results.hpp"

#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <string>
#include <string_view>

#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/stats/statistics.hpp"

namespace ipcmatrix {

namespace {

// Keeps names usable as file names on any filesystem and in shells without quoting.
std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const bool safe = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                      ch == '_' || ch == '-';
    out += safe ? ch : '-';
  }
  return out.empty() ? "-" : out;
}

}  // namespace

LatencySummary summarize(const Histogram& h) {
  LatencySummary s;
  s.count = h.count();
  s.mean = h.mean();
  s.stddev = h.stddev();
  s.min = h.min();
  s.max = h.max();
  const auto at = [&h](double p) -> std::optional<std::uint64_t> {
    if (!h.resolves(p)) return std::nullopt;
    return h.value_at_percentile(p);
  };
  s.p50 = at(50.0);
  s.p90 = at(90.0);
  s.p99 = at(99.0);
  s.p99_9 = at(99.9);
  s.p99_99 = at(99.99);
  return s;
}

std::string cell_id(const CellResult& c, CellIdParts parts) {
  std::string id =
      fmt::format("{}_{}_{}_{}_p{}_{}_{}_b{}", sanitize(c.pattern), sanitize(c.mechanism), sanitize(c.serializer),
                  format_size(c.size_bytes), c.procs, to_string(c.wait), to_string(c.placement), c.batch);
  // Left out when they are the values of files from before the field existed (random
  // content, the copy api), so ids stay the same across versions; anything else must appear
  // or two cells of one run would share a file name.
  if (c.content != ContentMode::random) id += fmt::format("_{}", to_string(c.content));
  if (c.api != Api::copy) id += fmt::format("_{}", to_string(c.api));
  if (parts == CellIdParts::configuration) return id;
  if (c.load) {
    id += "_load" + sanitize(c.load->id_part());
  } else if (c.rate > 0) {
    // Integral rates print without an exponent ("1e+06" would sanitize to a lie, "1e-06").
    id += "_r" + sanitize(std::floor(c.rate) == c.rate ? fmt::format("{:.0f}", c.rate) : fmt::format("{}", c.rate));
  }
  return id;
}

FigureSpread figure_spread(std::vector<double> values) {
  const Spread s = spread(values);
  return {s.median, s.min, s.max, s.rel_spread, static_cast<int>(s.n), std::move(values)};
}

void CellResult::set_repetition_spreads(std::vector<double> p50, std::vector<double> p99, std::vector<double> tput,
                                        std::vector<double> cpu, bool by_throughput) {
  noisy = is_noisy(spread(tput)) || (!by_throughput && (is_noisy(spread(p50)) || is_noisy(spread(p99))));
  p50_spread = figure_spread(std::move(p50));
  p99_spread = figure_spread(std::move(p99));
  throughput_spread = figure_spread(std::move(tput));
  cpu_per_msg_spread = figure_spread(std::move(cpu));
}

}  // namespace ipcmatrix
