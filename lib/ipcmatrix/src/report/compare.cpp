#include "ipcmatrix/report/compare.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/report/decisions.hpp"
#include "ipcmatrix/stats/significance.hpp"
#include "ipcmatrix/stats/statistics.hpp"
#include "ipcmatrix/util/text.hpp"

namespace ipcmatrix {

namespace {

/// The machine facts that make two runs' figures comparable; a difference is warned about.
constexpr const char* kComparableFacts[] = {"cpu_model", "logical_cpus", "allowed_cpu_count", "kernel",
                                            "virtualization", "build_type", "compiler", "cpu_governor"};

struct FigureDef {
  const char* name;
  bool lower_is_better;
  bool latency;  // compared only where the cell measures latency
  std::vector<double> (*get)(const CellResult&);
  bool (*has)(const CellResult&);
};

const FigureDef kFigures[] = {
    {"p50_ns", true, true, [](const CellResult& c) { return p50_values(c); },
     [](const CellResult& c) { return c.latency_ns.p50.has_value(); }},
    {"p99_ns", true, true,
     [](const CellResult& c) { return p99_values(c); },
     [](const CellResult& c) { return c.latency_ns.p99.has_value(); }},
    {"msgs_per_s", false, false, [](const CellResult& c) { return throughput_values(c); },
     [](const CellResult& c) { return c.throughput.msgs_per_s > 0; }},
    {"cpu_ns_per_msg", true, false, [](const CellResult& c) { return cpu_per_msg_values(c); },
     [](const CellResult& c) { return c.cpu.per_msg_ns > 0; }},
};

std::string fact(const nlohmann::json& env, const char* key) {
  const auto it = env.find(key);
  if (it == env.end() || it->is_null()) return "-";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string show(const std::string& figure, double v) {
  if (figure == "msgs_per_s") return format_rate(v) + " msgs/s";
  return format_ns(v);
}

}  // namespace

std::string_view to_string(Change c) noexcept {
  switch (c) {
    case Change::unchanged: return "unchanged";
    case Change::improved: return "improved";
    case Change::regressed: return "regressed";
  }
  return "?";
}

bool CellComparison::regressed() const noexcept {
  return std::any_of(figures.begin(), figures.end(), [](const FigureChange& f) { return f.change == Change::regressed; });
}

bool Comparison::regressed() const noexcept {
  return std::any_of(cells.begin(), cells.end(), [](const CellComparison& c) { return c.regressed(); });
}

Comparison compare_results(const RunResult& baseline, const RunResult& current, double threshold) {
  Comparison out;
  out.threshold = threshold;
  std::map<std::string, const CellResult*> base;
  for (const CellResult& c : baseline.cells) base[cell_id(c)] = &c;
  std::map<std::string, bool> seen;
  for (const CellResult& cur : current.cells) {
    const std::string id = cell_id(cur);
    seen[id] = true;
    const auto it = base.find(id);
    if (it == base.end()) {
      if (cur.ok()) out.only_current.push_back(id);
      continue;
    }
    const CellResult& old = *it->second;
    if (!old.ok() || !cur.ok()) {
      out.not_ok.push_back(id);
      continue;
    }
    CellComparison cc;
    cc.id = id;
    for (const FigureDef& f : kFigures) {
      if (!f.has(old) || !f.has(cur)) continue;
      if (f.latency && (!measures_latency(old) || !measures_latency(cur))) continue;
      const std::vector<double> a = f.get(old), b = f.get(cur);
      const FigureComparison fc = compare_figures(a, b, threshold);
      FigureChange ch;
      ch.figure = f.name;
      ch.baseline = median(a);
      ch.current = median(b);
      ch.ratio = fc.ratio;
      ch.p_value = fc.p_value;
      if (!fc.p_value) out.untested = true;
      if (fc.differs) {
        const bool better = f.lower_is_better ? fc.ratio < 1 : fc.ratio > 1;
        ch.change = better ? Change::improved : Change::regressed;
      }
      cc.figures.push_back(std::move(ch));
    }
    out.cells.push_back(std::move(cc));
  }
  for (const CellResult& c : baseline.cells) {
    const std::string id = cell_id(c);
    if (!seen.count(id) && c.ok()) out.only_baseline.push_back(id);
  }
  for (const char* key : kComparableFacts) {
    const std::string a = fact(baseline.environment, key), b = fact(current.environment, key);
    if (a != b) out.environment_differences.push_back(fmt::format("{}: {} -> {}", key, a, b));
  }
  return out;
}

std::string render_comparison(const Comparison& c, bool markdown) {
  std::string s;
  const auto line = [&](const std::string& text) { s += text + "\n"; };
  std::size_t improved = 0, regressed = 0, unchanged = 0;
  for (const auto& cell : c.cells)
    for (const auto& f : cell.figures)
      (f.change == Change::improved ? improved : f.change == Change::regressed ? regressed : unchanged) += 1;
  if (markdown) line("# ipc-matrix compare");
  line(fmt::format("{} matched cell(s): {} figure(s) regressed, {} improved, {} unchanged (threshold {:.0f}%, "
                   "Mann-Whitney p <= {:.2f} where the repetitions allow a test).",
                   c.cells.size(), regressed, improved, unchanged, c.threshold * 100, kSignificanceLevel));
  for (const auto& d : c.environment_differences)
    line(fmt::format("{}warning: the machines differ, {}", markdown ? "- " : "", escape_control(d)));
  if (c.untested) {
    line(fmt::format("{}warning: some cells have fewer than 3 repetitions a side; their changes are judged by the "
                     "threshold alone and may be noise (run both with --repetitions 3 or more)",
                     markdown ? "- " : ""));
  }
  if (markdown) line("\n| cell | figure | baseline | current | change | p | verdict |\n|---|---|---|---|---|---|---|");
  for (const auto& cell : c.cells) {
    for (const auto& f : cell.figures) {
      const std::string p = f.p_value ? fmt::format("{:.2f}", *f.p_value) : "untested";
      const std::string change = fmt::format("{:+.1f}%", (f.ratio - 1) * 100);
      if (markdown) {
        line(fmt::format("| {} | {} | {} | {} | {} | {} | {} |", cell.id, f.figure, show(f.figure, f.baseline),
                         show(f.figure, f.current), change, p, f.change == Change::unchanged
                                                                     ? std::string("unchanged")
                                                                     : "**" + std::string(to_string(f.change)) + "**"));
      } else {
        line(fmt::format("{:<48} {:<15} {:>14} {:>14} {:>8} {:>9}  {}", cell.id, f.figure, show(f.figure, f.baseline),
                         show(f.figure, f.current), change, p, to_string(f.change)));
      }
    }
  }
  const auto list = [&](const char* title, const std::vector<std::string>& ids) {
    if (ids.empty()) return;
    line(markdown ? fmt::format("\n{}:\n", title) : fmt::format("{}:", title));
    for (const auto& id : ids) line(fmt::format("{}{}", markdown ? "- " : "  ", id));
  };
  list("Only in the baseline", c.only_baseline);
  list("Only in the current run", c.only_current);
  list("Failed on either side (not compared)", c.not_ok);
  return s;
}

}  // namespace ipcmatrix
