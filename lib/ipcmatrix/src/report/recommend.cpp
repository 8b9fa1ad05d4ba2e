#include "ipcmatrix/report/recommend.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "ipcmatrix/pattern/pattern.hpp"
#include "ipcmatrix/pattern/topology.hpp"

namespace ipcmatrix {

namespace {

using Figure = std::optional<double> (*)(const CellResult&);

std::optional<double> p50_of(const CellResult& c) {
  if (!c.latency_ns.p50) return std::nullopt;
  return static_cast<double>(*c.latency_ns.p50);
}

std::optional<double> msgs_per_s_of(const CellResult& c) {
  if (!(c.throughput.msgs_per_s > 0)) return std::nullopt;
  return c.throughput.msgs_per_s;
}

std::optional<Pick> pick(std::vector<const CellResult*> cells, Figure figure, bool lower_is_better) {
  std::erase_if(cells, [&](const CellResult* c) { return !figure(*c).has_value(); });
  if (cells.empty()) return std::nullopt;
  std::stable_sort(cells.begin(), cells.end(), [&](const CellResult* a, const CellResult* b) {
    const double fa = *figure(*a), fb = *figure(*b);
    if (fa != fb) return lower_is_better ? fa < fb : fa > fb;
    return cell_id(*a) < cell_id(*b);
  });
  Pick p;
  p.best = cells.front();
  // The cheapest cell within kTieRatio of the best: fewest cores, then least idle CPU, then id.
  const double best_figure = *figure(*p.best);
  const CellResult* cheapest = nullptr;
  const auto cheaper = [](const CellResult& a, const CellResult& b) {
    const double ca = *cores_used(a), cb = *cores_used(b);
    if (ca != cb) return ca < cb;
    if (a.idle_cpu_percent != b.idle_cpu_percent) return a.idle_cpu_percent < b.idle_cpu_percent;
    return cell_id(a) < cell_id(b);
  };
  for (const CellResult* c : cells) {
    const double f = *figure(*c);
    const bool close = lower_is_better ? f <= best_figure * kTieRatio : f * kTieRatio >= best_figure;
    if (!close || !cores_used(*c) || !cores_used(*p.best)) continue;
    if (!cheapest || cheaper(*c, *cheapest)) cheapest = c;
  }
  if (cheapest && cheapest != p.best && *cores_used(*cheapest) < *cores_used(*p.best)) p.cheapest = cheapest;
  const auto next = std::find_if(cells.begin() + 1, cells.end(), [&](const CellResult* c) {
    return c->mechanism != p.best->mechanism || c->serializer != p.best->serializer;
  });
  if (next == cells.end()) return p;
  p.next = *next;
  const double a = *figure(*p.best), b = *figure(*p.next);
  p.ratio = lower_is_better ? b / a : a / b;
  if (!std::isfinite(p.ratio) || a <= 0 || b <= 0) p.margin = Pick::Margin::incomparable;
  else if (p.ratio < kTieRatio) p.margin = Pick::Margin::tie;
  else p.margin = Pick::Margin::lead;
  return p;
}

}  // namespace

LatencyMeaning latency_meaning(const CellResult& c) {
  const PatternSpec* spec = pattern_or_null(c.pattern);
  if (spec && spec->latency == LatencyKind::round_trip) return LatencyMeaning::round_trip;
  if (c.rate <= 0) return LatencyMeaning::saturated;
  int producers = 0;
  if (spec) {
    const Topology t = make_topology(*spec, c.procs);
    for (const Participant& p : t.participants) producers += originates(p.role) ? 1 : 0;
  }
  if (producers == 0 || !(c.duration_s > 0)) return LatencyMeaning::open_loop_missed;
  const double sent_per_producer = static_cast<double>(c.messages_sent) / producers / c.duration_s;
  return sent_per_producer >= kRateAchievedFraction * c.rate ? LatencyMeaning::open_loop
                                                              : LatencyMeaning::open_loop_missed;
}

std::optional<double> cores_used(const CellResult& c) {
  const double cpu_s = c.cpu.user_s + c.cpu.sys_s;
  if (!(c.duration_s > 0) || !(cpu_s > 0)) return std::nullopt;
  return cpu_s / c.duration_s;
}

bool measures_latency(const CellResult& c) {
  const LatencyMeaning m = latency_meaning(c);
  return m == LatencyMeaning::round_trip || m == LatencyMeaning::open_loop;
}

std::vector<std::string> patterns_in_order(const RunResult& r) {
  std::vector<std::string> out;
  for (const CellResult& c : r.cells) {
    if (std::find(out.begin(), out.end(), c.pattern) == out.end()) out.push_back(c.pattern);
  }
  return out;
}

std::vector<RecommendationGroup> recommend_per_group(const RunResult& r) {
  std::vector<RecommendationGroup> out;
  for (const std::string& pattern : patterns_in_order(r)) {
    using Key = std::tuple<std::uint64_t, int, double, std::string>;
    std::map<Key, std::vector<const CellResult*>> groups;
    for (const CellResult& c : r.cells) {
      if (c.pattern == pattern && c.status == "ok") groups[Key{c.size_bytes, c.procs, c.rate, c.content}].push_back(&c);
    }
    for (const auto& [key, cells] : groups) {
      RecommendationGroup g;
      g.pattern = pattern;
      std::tie(g.size_bytes, g.procs, g.rate, g.content) = key;
      // Latency advice only from latency measurements: a saturated cell's p50 ranks buffers.
      std::vector<const CellResult*> latency_cells;
      for (const CellResult* c : cells)
        if (measures_latency(*c)) latency_cells.push_back(c);
      g.lowest_p50 = pick(latency_cells, p50_of, /*lower_is_better=*/true);
      g.saturated_only = std::all_of(cells.begin(), cells.end(), [](const CellResult* c) {
        return latency_meaning(*c) == LatencyMeaning::saturated;
      });
      g.highest_throughput = pick(cells, msgs_per_s_of, /*lower_is_better=*/false);
      out.push_back(std::move(g));
    }
  }
  return out;
}

}  // namespace ipcmatrix
