#include "ipcmatrix/report/recommend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

#include "ipcmatrix/model/format.hpp"
#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/stats/significance.hpp"
#include "ipcmatrix/stats/statistics.hpp"
#include "ipcmatrix/util/text.hpp"

namespace ipcmatrix {

namespace {

// Every rate this command prints is a rate of messages.
std::string rate_text(double r) { return format_rate(r) + " msgs/s"; }

/// msgs/s the cell sustained: closed loop, its throughput; open loop, its offered rate when
/// achieved (what it was asked to carry), else what it moved.
double sustained(const CellResult& c) {
  if (c.rate > 0 && latency_meaning(c) == LatencyMeaning::open_loop) return std::max(c.rate, c.throughput.msgs_per_s);
  return c.throughput.msgs_per_s;
}

/// How far c is from meeting k: 0 when it meets every constraint; otherwise the sum of the
/// relative shortfalls, with what was missed in `why`.
double shortfall(const CellResult& c, const Constraints& k, std::vector<std::string>* why) {
  double miss = 0;
  const auto note = [&](double rel, std::string text) {
    miss += rel;
    if (why) why->push_back(std::move(text));
  };
  if (k.rate && sustained(c) < *k.rate)
    note(1 - sustained(c) / *k.rate, fmt::format("rate: {} sustained, {} asked", rate_text(sustained(c)), rate_text(*k.rate)));
  if (k.p99_under_ns) {
    if (!measures_latency(c)) {
      note(1, "p99: not a latency measurement (closed loop: queueing delay at saturation)");
    } else if (!c.latency_ns.p99 || static_cast<double>(*c.latency_ns.p99) >= *k.p99_under_ns) {
      const double p99 = c.latency_ns.p99 ? static_cast<double>(*c.latency_ns.p99) : std::numeric_limits<double>::infinity();
      note(p99 / *k.p99_under_ns - 1, fmt::format("p99: {}, limit {}", c.latency_ns.p99 ? format_ns(p99) : "unresolved",
                                                   format_ns(*k.p99_under_ns)));
    }
  }
  if (k.max_cores) {
    const std::optional<double> cores = cores_used(c);
    if (!cores) note(1, "cores: not measured");
    else if (*cores > *k.max_cores)
      note(*cores / *k.max_cores - 1, fmt::format("cores: {:.2f} used, limit {:.2f}", *cores, *k.max_cores));
  }
  return miss;
}

std::string settings_text(const CellResult& c) {
  std::string s = fmt::format("{}/{}, wait {}, placement {}, batch {}, api {}", c.mechanism, c.serializer, c.wait,
                              c.placement, c.batch, c.api);
  if (c.rate > 0) s += fmt::format(", offered {}", rate_text(c.rate));
  return s;
}

std::string evidence_text(const CellResult& c) {
  std::string s = fmt::format("{}", rate_text(c.throughput.msgs_per_s));
  if (measures_latency(c) && c.latency_ns.p50)
    s += fmt::format(", p50 {}", format_ns(static_cast<double>(*c.latency_ns.p50)));
  if (measures_latency(c) && c.latency_ns.p99)
    s += fmt::format(", p99 {}", format_ns(static_cast<double>(*c.latency_ns.p99)));
  if (const auto cores = cores_used(c)) s += fmt::format(", {:.2f} cores", *cores);
  s += ", " + format_count(static_cast<std::uint64_t>(c.repetitions), "repetition");
  return s;
}

nlohmann::json cell_json(const CellResult& c) {
  nlohmann::json j = {{"cell_id", cell_id(c)}, {"mechanism", c.mechanism}, {"serializer", c.serializer},
                      {"wait", c.wait}, {"placement", c.placement}, {"batch", c.batch}, {"api", c.api},
                      {"rate", c.rate}, {"msgs_per_s", c.throughput.msgs_per_s}, {"repetitions", c.repetitions}};
  if (measures_latency(c)) {
    j["p50_ns"] = c.latency_ns.p50 ? nlohmann::json(*c.latency_ns.p50) : nlohmann::json();
    j["p99_ns"] = c.latency_ns.p99 ? nlohmann::json(*c.latency_ns.p99) : nlohmann::json();
  }
  const auto cores = cores_used(c);
  j["cores"] = cores ? nlohmann::json(*cores) : nlohmann::json();
  return j;
}

std::string_view margin_name(Pick::Margin m) {
  switch (m) {
    case Pick::Margin::alone: return "alone";
    case Pick::Margin::incomparable: return "incomparable";
    case Pick::Margin::tie: return "tie";
    case Pick::Margin::untested: return "untested";
    case Pick::Margin::lead: return "lead";
  }
  return "?";
}

}  // namespace

Choice choose(const RunResult& r, const Constraints& k) {
  Choice out;
  const bool by_latency = k.p99_under_ns.has_value();
  out.objective = by_latency ? Objective::lowest_p99 : Objective::highest_throughput;
  std::vector<const CellResult*> cells, meeting;
  std::set<std::string> patterns, sizes;
  for (const CellResult& c : r.cells) {
    // A publish/subscribe cell that dropped delivered less than it was offered: not a
    // configuration to recommend, whatever its msgs/s.
    if (!c.ok() || !c.loss_free()) continue;
    patterns.insert(c.pattern);
    if (c.pattern == k.pattern) sizes.insert(format_size(c.size_bytes));
    if (c.pattern == k.pattern && c.size_bytes == k.size_bytes) cells.push_back(&c);
  }
  if (cells.empty()) {
    throw std::invalid_argument(
        fmt::format("no ok cell with pattern {} and size {} (patterns: {}; sizes of {}: {})", k.pattern,
                    format_size(k.size_bytes), join({patterns.begin(), patterns.end()}), k.pattern,
                    sizes.empty() ? std::string("none") : join({sizes.begin(), sizes.end()})));
  }
  out.considered = cells.size();
  for (const CellResult* c : cells)
    if (shortfall(*c, k, nullptr) == 0) meeting.push_back(c);
  if (meeting.empty()) {
    const auto closest = std::min_element(cells.begin(), cells.end(), [&](const CellResult* a, const CellResult* b) {
      const double ma = shortfall(*a, k, nullptr), mb = shortfall(*b, k, nullptr);
      return ma != mb ? ma < mb : cell_id(*a) < cell_id(*b);
    });
    out.closest_miss = *closest;
    (void)shortfall(**closest, k, &out.missed);
    return out;
  }
  // The same pick, margin and test as the report's recommendations, over the cells that
  // met the constraints (with --p99-under those all measure latency).
  const std::optional<Pick> pick =
      pick_best(meeting, by_latency ? Objective::lowest_p99 : Objective::highest_throughput);
  if (!pick || !pick->best) return out;
  out.best = pick->best;
  out.margin = pick;
  return out;
}

nlohmann::json to_json(const Choice& c, const Constraints& k) {
  nlohmann::json constraints = {{"pattern", k.pattern}, {"size_bytes", k.size_bytes}};
  if (k.rate) constraints["rate"] = *k.rate;
  if (k.p99_under_ns) constraints["p99_under_ns"] = *k.p99_under_ns;
  if (k.max_cores) constraints["max_cores"] = *k.max_cores;
  nlohmann::json j = {{"constraints", constraints}, {"objective", to_string(c.objective)}, {"considered", c.considered}};
  j["choice"] = c.best ? cell_json(*c.best) : nlohmann::json();
  j["runner_up"] = c.margin && c.margin->next ? cell_json(*c.margin->next) : nlohmann::json();
  if (c.margin) {
    j["margin"] = {{"kind", margin_name(c.margin->margin)},
                   {"ratio", c.margin->ratio},
                   {"p_value", c.margin->p_value ? nlohmann::json(*c.margin->p_value) : nlohmann::json()},
                   {"spread", c.margin->p_value ? nlohmann::json(c.margin->spread) : nlohmann::json()}};
  } else {
    j["margin"] = nullptr;
  }
  j["closest_miss"] = c.closest_miss ? cell_json(*c.closest_miss) : nlohmann::json();
  j["missed"] = c.missed;
  return j;
}

std::string render_choice(const Choice& c, const Constraints& k) {
  std::string s;
  std::vector<std::string> asked{fmt::format("pattern {}", k.pattern), fmt::format("size {}", format_size(k.size_bytes))};
  if (k.rate) asked.push_back(fmt::format("at least {}", rate_text(*k.rate)));
  if (k.p99_under_ns) asked.push_back(fmt::format("p99 under {}", format_ns(*k.p99_under_ns)));
  if (k.max_cores) asked.push_back(fmt::format("at most {:.2f} cores", *k.max_cores));
  s += fmt::format("Asked: {}. Objective: {}. {} measured configuration(s) considered.\n", join(asked),
                   c.objective, c.considered);
  if (!c.best) {
    s += "No measured configuration meets every constraint.\n";
    if (c.closest_miss) {
      s += fmt::format("Closest miss: {} ({}).\n", settings_text(*c.closest_miss), evidence_text(*c.closest_miss));
      for (const auto& m : c.missed) s += fmt::format("  missed {}\n", m);
    }
    return s;
  }
  s += fmt::format("Choose: {}\n  measured: {}\n", settings_text(*c.best), evidence_text(*c.best));
  if (c.margin && c.margin->next) {
    const Pick& p = *c.margin;
    const CellResult& next = *p.next;
    s += fmt::format("Runner-up: {}\n  measured: {}\n", settings_text(next), evidence_text(next));
    const std::string by =
        fmt::format("{} {}", format_ratio(p.ratio), c.objective == Objective::lowest_p99 ? "lower p99" : "higher throughput");
    switch (p.margin) {
      case Pick::Margin::lead:
        s += p.p_value ? fmt::format("Why: {} than the runner-up, and the repetitions confirm it (Mann-Whitney p = "
                                     "{:.2f}).\n", by, *p.p_value)
                       : fmt::format("Why: {} than the runner-up, {}.\n", by, how_decided(p));
        break;
      case Pick::Margin::untested: {
        const std::string_view open = open_margin_word(p), more = more_repetitions_hint(p);
        // Repetitions spread wider than the gap between the medians narrow it only slowly.
        s += p.p_value ? fmt::format("Why: {} in the medians, but the repetitions overlap (Mann-Whitney p = {:.2f} over "
                                     "{}, which spread up to ±{:.0f}%): not decided, either may be faster (run more "
                                     "repetitions{}).\n",
                                     by, *p.p_value, p.repetitions, p.spread * 100.0,
                                     p.spread > p.ratio - 1 ? ", or on a quieter machine" : "")
             : p.ratio < kTieRatio
                 ? fmt::format("Why: within 10% of the runner-up, {}: a tie needs {} repetitions each, this "
                               "has {} ({}).\n", open, kTieRepetitions, p.repetitions, more)
                 : fmt::format("Why: {}; {}, {} cannot tell a lead from noise ({}).\n", by, open,
                               format_count(static_cast<std::uint64_t>(p.repetitions), "repetition"), more);
        break;
      }
      case Pick::Margin::tie:
        s += fmt::format("Why: a tie ({}, within 10%); either will do, prefer the cheaper.\n", by);
        break;
      case Pick::Margin::incomparable:
      case Pick::Margin::alone: s += "Why: the only comparable figure.\n"; break;
    }
  } else {
    s += "Runner-up: none (no other mechanism met the constraints).\n";
  }
  if (c.margin && c.margin->cheapest) {
    s += fmt::format("Cheaper within 10%: {} ({}).\n", settings_text(*c.margin->cheapest),
                     evidence_text(*c.margin->cheapest));
  }
  return s;
}

nlohmann::json deployment_json(const CellResult& c) {
  // The cell's own wait and buffer sizes, spelled as the results file spells them: what
  // load_deployment() reads back into the ChannelOptions the cell ran with.
  const nlohmann::json channel = {{"wait", c.wait},
                                  {"capacity_bytes", c.channel.capacity_bytes},
                                  {"pipe_bytes", c.channel.pipe_bytes},
                                  {"queue_messages", c.channel.queue_messages},
                                  {"io_threads", c.channel.io_threads},
                                  {"receivers", c.channel.receivers}};
  return {{"mechanism", c.mechanism},
          {"serializer", c.serializer},
          {"api", c.api},
          {"batch", c.batch},
          {"placement", c.placement},
          {"channel", channel},
          {"measured", cell_json(c)}};
}

}  // namespace ipcmatrix
