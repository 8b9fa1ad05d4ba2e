#include "ipcmatrix/report/decisions.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/pattern/pattern.hpp"
#include "ipcmatrix/pattern/topology.hpp"
#include "ipcmatrix/stats/statistics.hpp"
#include "ipcmatrix/stats/significance.hpp"

namespace ipcmatrix {

namespace {

using Figure = std::optional<double> (*)(const CellResult&);
using Values = std::vector<double> (*)(const CellResult&);

std::vector<double> values_or(const std::optional<FigureSpread>& s, std::optional<double> single) {
  if (s && !s->values.empty()) return s->values;
  if (single) return {*single};
  return {};
}

std::optional<double> p50_of(const CellResult& c) {
  if (!c.latency_ns.p50) return std::nullopt;
  return static_cast<double>(*c.latency_ns.p50);
}

std::optional<double> p99_of(const CellResult& c) {
  if (!c.latency_ns.p99) return std::nullopt;
  return static_cast<double>(*c.latency_ns.p99);
}

std::optional<double> cpu_per_msg_of(const CellResult& c) {
  if (!(c.cpu.per_msg_ns > 0)) return std::nullopt;
  return c.cpu.per_msg_ns;
}

std::optional<double> msgs_per_s_of(const CellResult& c) {
  if (!(c.throughput.msgs_per_s > 0)) return std::nullopt;
  return c.throughput.msgs_per_s;
}

std::optional<Pick> pick(std::vector<const CellResult*> cells, Figure figure, Values values, bool lower_is_better) {
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
  // The runner-up is the best of another mechanism: the same mechanism with another
  // serializer or setting is not an alternative to deploy, only a variant of the pick.
  const auto next = std::find_if(cells.begin() + 1, cells.end(),
                                 [&](const CellResult* c) { return c->mechanism != p.best->mechanism; });
  if (next == cells.end()) return p;
  p.next = *next;
  const double a = *figure(*p.best), b = *figure(*p.next);
  p.ratio = lower_is_better ? b / a : a / b;
  const std::vector<double> va = values(*p.best), vb = values(*p.next);
  p.repetitions = static_cast<int>(std::min(va.size(), vb.size()));
  if (!std::isfinite(p.ratio) || a <= 0 || b <= 0) {
    p.margin = Pick::Margin::incomparable;
  } else if (p.ratio < kTieRatio) {
    // Close in the figures, but a tie only over enough repetitions to have shown a lead:
    // the race calls it so (runner/race.hpp), and the summary must say what the race said.
    const bool enough = std::min(va.size(), vb.size()) >= kTieRepetitions;
    p.margin = enough ? Pick::Margin::tie : Pick::Margin::untested;
  } else if (!testable(va.size(), vb.size())) {
    p.clear_gap = clearly_apart(va, vb, !lower_is_better);
    // The race's verdict on next, where it settled a far gap on one repetition of next: only
    // its far_apart() rule can have beaten that (clearly_apart() needs 2 a side, the test 3),
    // and the race applies it on a steady machine alone, which this function cannot know.
    p.race_cut = !p.clear_gap && p.next->race == RaceOutcome::beaten && vb.size() == 1 &&
                 far_apart(va, vb, !lower_is_better);
    p.margin = p.clear_gap || p.race_cut ? Pick::Margin::lead : Pick::Margin::untested;
  } else {
    p.p_value = mann_whitney(va, vb).p_value;
    p.spread = std::max(spread(va).rel_spread, spread(vb).rel_spread);
    // Beyond kTieRatio with overlapping repetitions is not a tie: a tie is established within
    // kTieRatio (above), and a gap the test cannot call is open, as the race keeps it
    // (runner/race.hpp). Until 2026-12-06 it read "tie (3.10x apart, p = 1.00)".
    p.margin = *p.p_value <= kSignificanceLevel + 1e-12 ? Pick::Margin::lead : Pick::Margin::untested;
  }
  return p;
}

}  // namespace

std::vector<double> p50_values(const CellResult& c) { return values_or(c.p50_spread, p50_of(c)); }
std::vector<double> p99_values(const CellResult& c) { return values_or(c.p99_spread, p99_of(c)); }

std::vector<double> cpu_per_msg_values(const CellResult& c) {
  return values_or(c.cpu_per_msg_spread, cpu_per_msg_of(c));
}

namespace {
bool raced(const Pick& p) noexcept { return p.best != nullptr && p.best->race != RaceOutcome::fixed; }
}  // namespace

std::string_view open_margin_word(const Pick& p) noexcept { return raced(p) ? "undecided" : "untested"; }

std::string_view more_repetitions_hint(const Pick& p) noexcept {
  return raced(p) ? "the race ended before more: a larger --budget gives them" : "run --repetitions 3 or more";
}

std::string how_decided(const Pick& p) {
  if (p.p_value) return fmt::format("Mann-Whitney p = {:.2f} over {} repetitions", *p.p_value, p.repetitions);
  if (p.race_cut)
    return fmt::format("{}x apart or more in every repetition against the runner-up's one, both in one mode of the "
                       "machine: cut by the race", kFarApart);
  return fmt::format("{}x apart or more in every one of {} repetitions", kClearlyApart, p.repetitions);
}

std::optional<std::string> race_budget_note(const RunResult& r) {
  const auto race = r.environment.find("race");
  if (race == r.environment.end() || !race->is_object()) return std::nullopt;
  const auto count = [&](const char* key) -> std::uint64_t {
    const auto it = race->find(key);
    return it != race->end() && it->is_number() && it->get<double>() > 0 ? it->get<std::uint64_t>() : 0;
  };
  const auto budget = race->find("budget_s");
  const std::uint64_t skipped = count("budget_skipped");
  if (skipped == 0 || count("summary_racing_repetitions") + count("rest_racing_repetitions") == 0 ||
      budget == race->end() || !budget->is_number())
    return std::nullopt;
  return fmt::format("the time budget ({}) ended the race with {} not run", format_elapsed_s(budget->get<double>()),
                     format_count(skipped, "racing repetition"));
}

std::optional<Pick> pick_best(std::vector<const CellResult*> cells, Objective objective) {
  switch (objective) {
    case Objective::lowest_p50: return pick(std::move(cells), p50_of, p50_values, /*lower_is_better=*/true);
    case Objective::lowest_p99: return pick(std::move(cells), p99_of, p99_values, /*lower_is_better=*/true);
    case Objective::highest_throughput:
      return pick(std::move(cells), msgs_per_s_of, throughput_values, /*lower_is_better=*/false);
    case Objective::lowest_cpu_per_msg:
      return pick(std::move(cells), cpu_per_msg_of, cpu_per_msg_values, /*lower_is_better=*/true);
  }
  return std::nullopt;
}

namespace {
/// The sporadic-load use case's place in the summary, among the patterns' (PatternSpec::use_cases).
constexpr int kSporadicUseCaseRank = 20;
}  // namespace

std::vector<Decision> decisions(const RunResult& r) {
  // The cells of `cells` at one size: the smallest, or the largest of at least min_size.
  const auto at_size = [](std::vector<const CellResult*> cells, bool largest, std::uint64_t min_size = 0) {
    std::erase_if(cells, [&](const CellResult* c) { return c->size_bytes < min_size; });
    if (cells.empty()) return cells;
    const auto [lo, hi] = std::minmax_element(cells.begin(), cells.end(), [](const CellResult* a, const CellResult* b) {
      return a->size_bytes < b->size_bytes;
    });
    const std::uint64_t size = largest ? (*hi)->size_bytes : (*lo)->size_bytes;
    std::erase_if(cells, [&](const CellResult* c) { return c->size_bytes != size; });
    return cells;
  };
  std::vector<std::pair<int, Decision>> ranked;
  // One decision per serializer among the cells, in the order the run met them: a team
  // that must serialize is answered for its serializer, not told to deploy raw.
  const auto add = [&](int rank, std::string_view use_case, const std::vector<const CellResult*>& cells,
                       Objective o, std::string_view what) {
    std::vector<std::string> serializers;
    for (const CellResult* c : cells)
      if (std::find(serializers.begin(), serializers.end(), c->serializer) == serializers.end())
        serializers.push_back(c->serializer);
    for (const std::string& ser : serializers) {
      std::vector<const CellResult*> mine = cells;
      std::erase_if(mine, [&](const CellResult* c) { return c->serializer != ser; });
      std::optional<Pick> p = pick_best(mine, o);
      if (!p) continue;
      const CellResult& any = *mine.front();
      ranked.emplace_back(rank, Decision{std::string(use_case),
                                         fmt::format("{} {}, {}", any.pattern, format_size(any.size_bytes), what), o,
                                         *p, ser, serializers.size(), std::move(mine)});
    }
  };
  // The cells at one fixed offered rate, every one of which achieved it; the rate, or nullopt.
  const auto at_fixed_rate = [&](std::vector<const CellResult*> cells) -> std::pair<std::vector<const CellResult*>, double> {
    const auto fixed = [](const CellResult* c, bool sporadic) {
      if (!(c->rate > 0) || latency_meaning(*c) != LatencyMeaning::open_loop) return false;
      if (!c->load) return !sporadic;  // --rate
      return sporadic ? c->load->kind == LoadPoint::Kind::sporadic : c->load->kind == LoadPoint::Kind::rate;
    };
    for (const bool sporadic : {false, true}) {
      std::vector<const CellResult*> mine = cells;
      std::erase_if(mine, [&](const CellResult* c) { return !fixed(c, sporadic); });
      mine = at_size(std::move(mine), false);
      if (mine.empty()) continue;
      double lowest = mine.front()->rate;
      for (const CellResult* c : mine) lowest = std::min(lowest, c->rate);
      std::erase_if(mine, [&](const CellResult* c) { return c->rate != lowest; });
      return {mine, lowest};
    }
    return {{}, 0.0};
  };
  // Each pattern's use cases (PatternSpec::use_cases), from the ok cells of every pattern
  // that lists the same use case (fan-in and fan-in-shared answer one question).
  std::set<std::string_view> decided;
  for (const PatternSpec* spec : all_patterns()) {
    for (const UseCase& u : spec->use_cases) {
      if (!decided.insert(u.name).second) continue;
      std::vector<const CellResult*> cells;
      std::string basis(u.basis);
      for (const CellResult& c : r.cells) {
        const PatternSpec* of = c.ok() ? pattern_or_null(c.pattern) : nullptr;
        if (of && std::any_of(of->use_cases.begin(), of->use_cases.end(),
                              [&](const UseCase& o) { return o.name == u.name; }))
          cells.push_back(&c);
      }
      switch (u.cells) {
        case UseCaseCells::latency_smallest:
          cells = at_size(std::move(cells), false);
          std::erase_if(cells, [](const CellResult* c) { return !measures_latency(*c); });
          break;
        case UseCaseCells::closed_loop_smallest:
        case UseCaseCells::closed_loop_largest_64k: {
          std::erase_if(cells, [](const CellResult* c) { return c->rate > 0 || c->load; });
          const bool largest = u.cells == UseCaseCells::closed_loop_largest_64k;
          cells = at_size(std::move(cells), largest, largest ? 64 * 1024 : 0);
          break;
        }
        case UseCaseCells::fixed_rate_smallest: {
          // CPU is judged where a team runs: at an offered rate, the same for every candidate.
          // At saturation a faster mechanism spends its CPU on more messages, which says
          // little about what it costs at the team's rate.
          auto [at_rate, rate] = at_fixed_rate(cells);
          if (!at_rate.empty()) {
            basis = fmt::format("{} msgs/s per producer offered, {}", format_rate(rate), u.basis);
            cells = std::move(at_rate);
          } else {
            std::erase_if(cells, [](const CellResult* c) { return c->rate > 0 || c->load; });
            cells = at_size(std::move(cells), false);
            basis = fmt::format("closed loop, {}: at saturation, as no fixed offered rate was measured (--load 10k or "
                                "--rate give one)",
                                u.basis);
          }
          break;
        }
      }
      // A publish/subscribe cell that dropped delivered less than it was offered: its msgs/s
      // is not comparable with a cell that delivered everything.
      if (std::erase_if(cells, [](const CellResult* c) { return !c->loss_free(); }) > 0)
        basis += "; cells that dropped messages (publish/subscribe) left out";
      add(u.rank, u.name, cells, u.objective, basis);
    }
  }
  // Wake-ups after idle gaps belong to no pattern: the sporadic load point of any of them.
  std::vector<const CellResult*> sporadic;
  for (const CellResult& c : r.cells)
    if (c.ok() && c.load && c.load->kind == LoadPoint::Kind::sporadic && measures_latency(c)) sporadic.push_back(&c);
  add(kSporadicUseCaseRank, "Sporadic small messages (idle gaps)", at_size(sporadic, false), Objective::lowest_p99,
      "sporadic load, lowest p99 (wake-ups after idle gaps)");
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Decision> out;
  for (auto& [rank, d] : ranked) out.push_back(std::move(d));
  return out;
}
std::vector<double> throughput_values(const CellResult& c) {
  return values_or(c.throughput_spread, msgs_per_s_of(c));
}

LatencyMeaning latency_meaning(const CellResult& c) {
  const PatternSpec* spec = pattern_or_null(c.pattern);
  if (spec && spec->latency == LatencyKind::round_trip) return LatencyMeaning::round_trip;
  if (c.rate <= 0) return LatencyMeaning::saturated;
  const int producers = spec ? make_topology(*spec, c.procs).originators() : 0;
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

std::vector<LoadCurve> load_curves(const RunResult& r) {
  std::vector<std::string> order;
  std::map<std::string, LoadCurve> curves;
  std::map<std::string, const CellResult*> closed;
  for (const CellResult& c : r.cells) {
    const std::string id = cell_id(c, CellIdParts::configuration);
    if (!c.load) {
      if (c.rate == 0) closed[id] = &c;
      continue;
    }
    if (!curves.count(id)) order.push_back(id);
    LoadCurve& curve = curves[id];
    if (c.ok()) curve.points.push_back(&c);
  }
  std::vector<LoadCurve> out;
  for (const std::string& id : order) {
    LoadCurve curve = curves[id];
    if (const auto it = closed.find(id); it != closed.end()) curve.saturation = it->second;
    std::stable_sort(curve.points.begin(), curve.points.end(),
                     [](const CellResult* a, const CellResult* b) { return a->rate < b->rate; });
    std::optional<double> low_p99;
    for (const CellResult* p : curve.points) {
      if (latency_meaning(*p) != LatencyMeaning::open_loop || !p->latency_ns.p99) continue;
      const auto p99 = static_cast<double>(*p->latency_ns.p99);
      if (!low_p99) low_p99 = p99;
      if (p99 <= kKneeP99Factor * *low_p99) curve.knee = p;
    }
    out.push_back(std::move(curve));
  }
  return out;
}

std::vector<RecommendationGroup> recommend_per_group(const RunResult& r) {
  std::vector<RecommendationGroup> out;
  for (const std::string& pattern : patterns_in_order(r)) {
    // Labels and names, not the values, order the groups: the report's order of old.
    using Key = std::tuple<std::uint64_t, int, double, std::string, std::string>;
    std::map<Key, std::vector<const CellResult*>> groups;
    for (const CellResult& c : r.cells) {
      if (c.pattern == pattern && c.ok())
        groups[Key{c.size_bytes, c.procs, c.load ? 0 : c.rate, c.load ? c.load->label() : std::string(),
                   std::string(to_string(c.content))}]
            .push_back(&c);
    }
    for (const auto& [key, cells] : groups) {
      RecommendationGroup g;
      g.pattern = pattern;
      std::tie(g.size_bytes, g.procs, g.rate, std::ignore, std::ignore) = key;
      g.load = cells.front()->load;
      g.content = cells.front()->content;
      // Latency advice only from latency measurements: a saturated cell's p50 ranks buffers.
      std::vector<const CellResult*> latency_cells;
      for (const CellResult* c : cells)
        if (measures_latency(*c)) latency_cells.push_back(c);
      g.lowest_p50 = pick_best(latency_cells, Objective::lowest_p50);
      g.saturated_only = std::all_of(cells.begin(), cells.end(), [](const CellResult* c) {
        return latency_meaning(*c) == LatencyMeaning::saturated;
      });
      // Open loop, a cell's rate is the one it was offered: only closed loop ranks throughput.
      if (g.rate == 0 && !g.load) g.highest_throughput = pick_best(cells, Objective::highest_throughput);
      out.push_back(std::move(g));
    }
  }
  return out;
}

}  // namespace ipcmatrix
