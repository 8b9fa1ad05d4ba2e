// The tables of the Markdown report (markdown_parts.hpp): latency against offered load, the
// charts' links, one results table per pattern (its picks marked, columns that would be empty
// left out), serialization cost per format, and the failed cells with their errors.
#include "markdown_parts.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "ipcmatrix/model/format.hpp"
#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/pattern/pattern.hpp"
#include "ipcmatrix/report/charts.hpp"
#include "ipcmatrix/report/decisions.hpp"
#include "ipcmatrix/stats/statistics.hpp"
#include "ipcmatrix/util/text.hpp"

namespace ipcmatrix::detail::markdown {

namespace {

std::string with_spread(std::string figure, const std::optional<FigureSpread>& s) {
  if (s && s->n > 1 && std::isfinite(s->rel_spread)) {
    figure += fmt::format(" ±{:.0f}%", s->rel_spread * 100.0);
  }
  return figure;
}

// Order by size, then p50 (unresolved last), then id so ties cannot reorder between runs.
bool by_size_then_p50(const CellResult* a, const CellResult* b) {
  const auto key = [](const CellResult* c) {
    return std::make_tuple(c->size_bytes, !c->latency_ns.p50.has_value(),
                           c->latency_ns.p50.value_or(0), cell_id(*c));
  };
  return key(a) < key(b);
}

// shm cells as a multiple of the floor: a round trip against one cache line's round trip,
// a closed-loop stream against the bare ring's rate.
std::string floor_text(const CellResult& c, const Floor& f) {
  if (c.mechanism != f.mechanism) return std::string(kUnresolved);
  const PatternSpec* spec = pattern_or_null(c.pattern);
  if (spec != nullptr && spec->latency == LatencyKind::round_trip) {
    if (!c.latency_ns.p50) return std::string(kUnresolved);
    return format_ratio(static_cast<double>(*c.latency_ns.p50) / f.rtt_ns) + " RTT";
  }
  if (c.rate > 0 || !(c.throughput.msgs_per_s > 0)) return std::string(kUnresolved);
  return fmt::format("{:.0f}% of ring", 100.0 * c.throughput.msgs_per_s / f.ring_msgs_per_s);
}

}  // namespace

// Latency against offered load: one row per configuration, one column per load point.
void load_section(std::string& md, const RunResult& r) {
  const std::vector<LoadCurve> curves = load_curves(r);
  if (curves.empty()) return;
  add(md, "## Latency against offered load\n\n");
  add(md,
      "Each configuration ran closed loop (its saturation, first column), then open loop at each "
      "load of the sweep: `N%` is that fraction of its own closed-loop send rate, `sporadic` a "
      "low rate with gaps long past any spin window (wake-up cost shows here). Cells give "
      "p50 / p99 latency from the intended send time (coordinated omission corrected) and the "
      "offered rate. ⚠ marks a point whose offered rate was not achieved (its latency is not "
      "that load's). The **knee** is the highest offered rate whose p99 stays within {:.0f}x of "
      "the p99 at the lowest load.\n\n",
      kKneeP99Factor);
  // Columns from the lightest load: sporadic, then rates ascending, then fractions ascending.
  std::vector<LoadPoint> labels;
  for (const LoadCurve& c : curves)
    for (const CellResult* p : c.points)
      if (p->load && std::find(labels.begin(), labels.end(), *p->load) == labels.end()) labels.push_back(*p->load);
  const auto order = [](const LoadPoint& l) {
    const int kind = l.kind == LoadPoint::Kind::sporadic ? 0 : l.kind == LoadPoint::Kind::rate ? 1 : 2;
    return std::pair{kind, l.value};
  };
  std::stable_sort(labels.begin(), labels.end(), [&](const auto& a, const auto& b) { return order(a) < order(b); });
  std::string last_group;
  for (const LoadCurve& c : curves) {
    if (c.points.empty()) continue;
    const CellResult& any = *c.points.front();
    const std::string group = fmt::format("{} {}, {} procs", any.pattern, format_size(any.size_bytes), any.procs);
    if (group != last_group) {
      add(md, "{}**{}**\n\n| configuration | closed loop |", last_group.empty() ? "" : "\n", esc(group));
      for (const auto& l : labels) add(md, " {} |", esc(l.label()));
      add(md, " knee |\n|---|---|");
      for (std::size_t i = 0; i < labels.size(); ++i) add(md, "---|");
      add(md, "---|\n");
      last_group = group;
    }
    add(md, "| {} {} |", mech_ser(any), fmt::format("`{}` `{}` b{}", any.wait, any.placement, any.batch));
    add(md, " {} |", c.saturation && c.saturation->ok()
                         ? format_rate(c.saturation->throughput.msgs_per_s) + " msgs/s"
                         : std::string("-"));
    for (const auto& l : labels) {
      const auto it = std::find_if(c.points.begin(), c.points.end(), [&](const CellResult* p) { return p->load == l; });
      if (it == c.points.end()) {
        add(md, " - |");
        continue;
      }
      const CellResult& p = **it;
      const bool missed = latency_meaning(p) == LatencyMeaning::open_loop_missed;
      add(md, " {} / {} at {}/s{}{} |", ns_or_dash(p.latency_ns.p50), ns_or_dash(p.latency_ns.p99), format_rate(p.rate),
          missed ? " ⚠" : "", c.knee == &p ? " **knee**" : "");
    }
    add(md, " {} |\n", c.knee ? format_rate(c.knee->rate) + " msgs/s" : std::string("-"));
  }
  add(md, "\n");
}

// Links to the charts reporter's SVGs, or why there are none.
void charts_section(std::string& md, const RunResult& r) {
  const std::vector<Chart> charts = chart_plan(r);
  if (charts.empty()) return;
  add(md, "## Charts\n\n");
  if (!gnuplot_path()) {
    add(md, "Charts were skipped: gnuplot was not found (Debian package `gnuplot-nox`; `tools/setup.sh` installs "
            "it). Regenerate them with `ipc-matrix report results.json`.\n\n");
    return;
  }
  for (const Chart& c : charts) add(md, "![{}]({}/{})\n\n", esc(c.title), kChartsDir, c.file);
}

// Serialization apart from transport: per format, content and size, the median over the
// cells that used it (encode/decode do not depend on the mechanism).
void serialization_section(std::string& md, const RunResult& r) {
  using Key = std::tuple<std::string, std::string, std::uint64_t>;  // content by name: the table's order
  std::map<Key, std::vector<const CellResult*>> by;
  for (const CellResult& c : r.cells)
    if (c.ok() && (c.encode_ns_per_msg > 0 || c.decode_ns_per_msg > 0))
      by[Key{c.serializer, std::string(to_string(c.content)), c.size_bytes}].push_back(&c);
  if (by.empty()) return;
  add(md, "## Serialization cost and wire size\n\n");
  add(md, "Per format, content mode and size, the median over every cell that used it (encode and decode "
          "are timed apart from the transport, on 1 message in 64). Wire B/msg includes the 8 or 32-byte "
          "envelope.\n\n| serializer | content | size | encode | decode | wire B/msg | cells |\n"
          "|---|---|---|--:|--:|--:|--:|\n");
  for (const auto& [key, cells] : by) {
    std::vector<double> enc, dec, wire;
    for (const CellResult* c : cells) {
      enc.push_back(c->encode_ns_per_msg);
      dec.push_back(c->decode_ns_per_msg);
      wire.push_back(c->wire_bytes_per_msg);
    }
    add(md, "| {} | {} | {} | {} | {} | {} | {} |\n", esc(std::get<0>(key)),
        esc(std::get<1>(key).empty() ? "random" : std::get<1>(key)), format_size(std::get<2>(key)),
        format_ns(median(enc)), format_ns(median(dec)), format_figure(median(wire)), cells.size());
  }
  add(md, "\n");
}

void results_section(std::string& md, const RunResult& r) {
  add(md, "## Results\n\n");
  add(md, "**best p50** and **most msgs/s** mark each group's picks (see Recommendations).\n\n");
  // The cells the recommendations picked, marked in the tables they come from.
  std::map<const CellResult*, std::vector<std::string>> marks;
  for (const RecommendationGroup& g : recommend_per_group(r)) {
    if (g.lowest_p50) marks[g.lowest_p50->best].push_back("**best p50**");
    if (g.highest_throughput) marks[g.highest_throughput->best].push_back("**most msgs/s**");
  }
  bool any = false;
  for (const std::string& pattern : patterns_in_order(r)) {
    std::vector<const CellResult*> cells;
    for (const CellResult& c : r.cells) {
      if (c.pattern == pattern && c.ok()) cells.push_back(&c);
    }
    if (cells.empty()) continue;
    any = true;
    std::sort(cells.begin(), cells.end(), by_size_then_p50);
    const auto any_of = [&cells](auto pred) {
      return std::any_of(cells.begin(), cells.end(), pred);
    };
    // Columns that would be empty for every row of this pattern are left out.
    const bool open_loop = any_of(
        [](const CellResult* c) { return c->latency_uncorrected_ns.has_value() || c->rate > 0; });
    const bool hops = any_of([](const CellResult* c) { return c->hop_latency_ns.has_value(); });
    const bool content =
        any_of([](const CellResult* c) { return c->content != ContentMode::random; });
    const bool notes = any_of([&marks](const CellResult* c) {
      return c->noisy || c->repetitions > 1 || !c->warnings.empty() || c->harness_bound || marks.count(c);
    });
    const bool apis = any_of([](const CellResult* c) { return c->api != Api::copy; });
    const std::optional<Floor> floor = run_floor(r);
    const bool vs_floor = floor && any_of([&floor](const CellResult* c) { return c->mechanism == floor->mechanism; });

    add(md, "### {} (latency: {})\n\n", esc(pattern), latency_kind(pattern));
    if (any_of([](const CellResult* c) { return latency_meaning(*c) == LatencyMeaning::saturated; })) {
      add(md, "Rows with load `closed` (or no load column) ran closed loop: their p50 … max are queueing delay at "
              "saturation, not the mechanism's latency.\n\n");
    }
    std::vector<std::string> head = {"mechanism", "serializer", "size", "procs",
                                     "wait",      "placement",  "batch"};
    if (apis) head.emplace_back("api");
    if (content) head.emplace_back("content");
    if (open_loop) head.emplace_back("load");
    const std::size_t text_cols = head.size();
    head.insert(head.end(), {"p50", "p99", "p99.9", "max"});
    if (open_loop) head.emplace_back("p99 uncorrected");
    if (hops) head.emplace_back("hop p50");
    head.insert(head.end(), {"msgs/s", "MB/s", "CPU/msg", "wire B/msg", "encode / decode"});
    if (vs_floor) head.emplace_back("vs floor");
    if (notes) head.emplace_back("notes");
    add(md, "|");
    for (const std::string& h : head) add(md, " {} |", h);
    add(md, "\n|");
    // Identity and notes read best left-aligned, figures right-aligned so their units line up.
    for (std::size_t i = 0; i < head.size(); ++i) {
      add(md, "{}", i < text_cols || (notes && i + 1 == head.size()) ? "---|" : "--:|");
    }
    add(md, "\n");

    for (const CellResult* c : cells) {
      std::vector<std::string> row = {
          esc(c->mechanism),           esc(c->serializer), format_size(c->size_bytes),
          fmt::format("{}", c->procs), esc(c->wait),       esc(c->placement),
          fmt::format("{}", c->batch)};
      if (apis) row.push_back(esc(c->api));
      if (content) row.push_back(esc(c->content));
      if (open_loop) {
        const bool missed = latency_meaning(*c) == LatencyMeaning::open_loop_missed;
        row.push_back(c->rate > 0 ? format_rate(c->rate) + "/s" + (missed ? " (not achieved)" : "") : "closed");
      }
      row.push_back(with_spread(ns_or_dash(c->latency_ns.p50), c->p50_spread));
      row.push_back(with_spread(ns_or_dash(c->latency_ns.p99), c->p99_spread));
      row.push_back(ns_or_dash(c->latency_ns.p99_9));
      row.push_back(c->latency_ns.count != 0 ? format_ns(static_cast<double>(c->latency_ns.max))
                                             : std::string(kUnresolved));
      if (open_loop) {
        row.push_back(c->latency_uncorrected_ns ? ns_or_dash(c->latency_uncorrected_ns->p99)
                                                : std::string(kUnresolved));
      }
      if (hops) {
        row.push_back(c->hop_latency_ns ? ns_or_dash(c->hop_latency_ns->p50)
                                        : std::string(kUnresolved));
      }
      row.push_back(with_spread(format_rate(c->throughput.msgs_per_s), c->throughput_spread));
      row.push_back(mb_per_s(c->throughput.payload_bytes_per_s));
      row.push_back(format_ns(c->cpu.per_msg_ns));
      row.push_back(format_figure(c->wire_bytes_per_msg));
      row.push_back(
          fmt::format("{} / {}", format_ns(c->encode_ns_per_msg), format_ns(c->decode_ns_per_msg)));
      if (vs_floor) row.push_back(floor_text(*c, *floor));
      if (notes) {
        std::vector<std::string> n;
        if (const auto m = marks.find(c); m != marks.end()) n.insert(n.end(), m->second.begin(), m->second.end());
        if (c->repetitions > 1) n.push_back(fmt::format("{} reps", c->repetitions));
        if (c->harness_bound) n.push_back("harness-bound (a lower bound)");
        if (c->noisy) n.push_back("noisy");
        if (!c->warnings.empty()) {
          n.push_back(
              fmt::format("{} warning{}", c->warnings.size(), c->warnings.size() == 1 ? "" : "s"));
        }
        row.push_back(join(n, ", "));
      }
      add(md, "|");
      for (const std::string& v : row) add(md, " {} |", v);
      add(md, "\n");
    }
    add(md, "\n");
  }
  if (!any) add(md, "No cell completed.\n\n");
}

void failures_section(std::string& md, const RunResult& r) {
  std::vector<const CellResult*> failed;
  for (const CellResult& c : r.cells) {
    if (!c.ok()) failed.push_back(&c);
  }
  if (failed.empty()) return;
  add(md, "## Failed cells\n\n");
  add(md, "These cells produced no figures; the rest of the matrix ran on.\n\n");
  add(md, "| cell | error |\n|---|---|\n");
  for (const CellResult* c : failed) {
    add(md, "| `{}` | {} |\n", cell_id(*c),
        c->error.empty() ? "(no message recorded)" : esc(c->error));
  }
  add(md, "\n");
}

}  // namespace ipcmatrix::detail::markdown
