#include "ipcmatrix/report/markdown.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
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

namespace ipcmatrix {

namespace {

constexpr std::string_view kUnresolved = "—";

template <class... Args>
void add(std::string& out, fmt::format_string<Args...> f, Args&&... args) {
  fmt::format_to(std::back_inserter(out), f, std::forward<Args>(args)...);
}

// Free text (errors, warnings, environment values) must not break a table row or turn into
// markup, so newlines become spaces and Markdown punctuation is backslash-escaped.
std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    if (ch == '\n' || ch == '\r' || ch == '\t') {
      out += ' ';
      continue;
    }
    if (std::string_view("\\`*|<>[]").find(ch) != std::string_view::npos) out += '\\';
    out += ch;
  }
  return out;
}
template <Named E>
std::string esc(E e) {
  return esc(to_string(e));
}

bool is_ok(const CellResult& c) { return c.ok(); }

std::string ns_or_dash(const std::optional<std::uint64_t>& v) {
  return v ? format_ns(static_cast<double>(*v)) : std::string(kUnresolved);
}

std::string with_spread(std::string figure, const std::optional<FigureSpread>& s) {
  if (s && s->n > 1 && std::isfinite(s->rel_spread)) {
    figure += fmt::format(" ±{:.0f}%", s->rel_spread * 100.0);
  }
  return figure;
}

std::string mb_per_s(double bytes_per_s) { return format_figure(bytes_per_s / 1e6); }

std::string load(double rate) {
  return rate > 0 ? format_rate(rate) + " msgs/s per producer" : "closed loop";
}

// Results may name a pattern this build does not know (a newer version wrote them): its
// latency is then taken as one-way, the meaning of every pattern but a round trip.
std::string latency_kind(std::string_view pattern) {
  const PatternSpec* spec = pattern_or_null(pattern);
  return std::string(to_string(spec ? spec->latency : LatencyKind::one_way));
}

std::string mech_ser(const CellResult& c) {
  return fmt::format("{}/{}", esc(c.mechanism), esc(c.serializer));
}

std::string setup(const CellResult& c) {
  std::string s = fmt::format("wait `{}`, placement `{}`, batch {}", c.wait, c.placement, c.batch);
  if (c.content != ContentMode::random) s += fmt::format(", content `{}`", c.content);
  return s;
}

// Order by size, then p50 (unresolved last), then id so ties cannot reorder between runs.
bool by_size_then_p50(const CellResult* a, const CellResult* b) {
  const auto key = [](const CellResult* c) {
    return std::make_tuple(c->size_bytes, !c->latency_ns.p50.has_value(),
                           c->latency_ns.p50.value_or(0), cell_id(*c));
  };
  return key(a) < key(b);
}

// One environment value on one line. Keys ending in "_bytes" (and the cache sizes) are
// shown in binary units; nested objects as "key: value" lists.
std::string render(const nlohmann::json& j, bool bytes) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "unknown";
  if (bytes && j.is_number_unsigned()) return format_bytes(j.get<std::uint64_t>());
  if (bytes && j.is_number_integer() && j.get<std::int64_t>() >= 0) {
    return format_bytes(j.get<std::uint64_t>());
  }
  if (j.is_object()) {
    std::string out;
    for (const auto& [k, v] : j.items()) {
      if (!out.empty()) out += ", ";
      out += k + ": " + render(v, bytes || k.ends_with("_bytes"));
    }
    return out;
  }
  if (j.is_array()) {
    std::string out;
    for (const auto& e : j) {
      if (!out.empty()) out += e.is_object() ? "; " : ", ";
      out += render(e, bytes);
    }
    return out;
  }
  return j.dump();
}

void flatten(const nlohmann::json& j, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
  if (j.is_object() && !j.empty()) {
    for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, out);
    return;
  }
  out.emplace_back(prefix, render(j, prefix.ends_with("_bytes")));
}

// The command line that made the results, as recorded in config.command_line; "" if none.
std::string command_of(const RunResult& r) {
  std::string command;
  if (!r.config.is_object()) return command;
  const auto it = r.config.find("command_line");
  if (it == r.config.end()) return command;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    for (const auto& a : *it) {
      if (!command.empty()) command += ' ';
      command += a.is_string() ? a.get<std::string>() : a.dump();
    }
  }
  return command;
}

void header(std::string& md, const RunResult& r) {
  const auto failed = static_cast<std::size_t>(
      std::count_if(r.cells.begin(), r.cells.end(), [](const CellResult& c) { return !is_ok(c); }));
  const auto noisy = static_cast<std::size_t>(std::count_if(
      r.cells.begin(), r.cells.end(), [](const CellResult& c) { return is_ok(c) && c.noisy; }));
  add(md, "# IPC performance report\n\n");
  add(md, "Generated by ipc-matrix {} from a run started {} that took {}. ",
      r.tool_version.empty() ? "(unknown version)" : esc(r.tool_version),
      r.started_at.empty() ? "at an unrecorded time" : esc(r.started_at),
      std::isfinite(r.elapsed_s) && r.elapsed_s >= 0 ? format_elapsed_s(r.elapsed_s) : std::string("unknown"));
  add(md, "{} cell{}: {} ok, {} failed", r.cells.size(), r.cells.size() == 1 ? "" : "s",
      r.cells.size() - failed, failed);
  if (noisy != 0) add(md, ", {} noisy", noisy);
  add(md, ". Results schema version {}.\n\n", r.schema_version);
  if (const std::string command = command_of(r); !command.empty()) add(md, "Made with `{}`.\n\n", esc(command));
}

void how_to_read(std::string& md) {
  add(md, "## How to read this\n\n");
  add(md,
      "Latency is one-way, except for `pingpong`, where it is the round trip. Percentiles come "
      "from log-linear histograms "
      "with under 1% relative error (reported values are at most 0.78% above the true sample); "
      "min and max are exact. Warm-up messages are excluded. A percentile shown as {} had too "
      "few samples to resolve it (p99.9 needs at least 1000). For open-loop cells (a fixed send "
      "rate) latency is measured from the intended send time, which corrects for coordinated "
      "omission; the uncorrected figure is shown beside it. Throughput is messages received per "
      "second of the measured phase; MB/s counts payload bytes (10^6 bytes per MB), wire B/msg "
      "what the serializer put on the transport. CPU/msg is the user + system CPU time of all "
      "participants per message over their measured phase. When a cell was repeated, its figures "
      "are those of the median repetition and ±N% is the spread (max - min) / median across "
      "repetitions. In closed-loop throughput cells one message in `latency_sample` carries a "
      "timestamp, and throughput runs over the receivers' window. *vs floor* sets shm cells "
      "against the machine's own floor measured in this run: a round trip against one cache "
      "line's, a stream against a bare ring's rate. A *harness-bound* cell came within 70% of "
      "what the harness's own loops reach over an in-process ring: its figure is a lower bound "
      "for the mechanism.\n\n",
      kUnresolved);
}

// The facts an engineer needs to judge whether these numbers apply to their machine, in
// reading order, under the keys sys::capture_environment() writes.
struct EnvFact {
  const char* key;
  const char* label;
};
constexpr std::array<EnvFact, 20> kEnvFacts = {{
    {"cpu_model", "CPU model"},
    {"topology", "Topology"},
    {"cores", "Cores"},
    {"logical_cpus", "Logical CPUs"},
    {"allowed_cpu_count", "CPUs usable (affinity)"},
    {"caches", "Caches (CPU 0)"},
    {"memory_total_bytes", "Memory"},
    {"kernel", "Kernel"},
    {"arch", "Architecture"},
    {"virtualization", "Virtualization"},
    {"clock_source", "Clock source"},
    {"cpu_governor", "CPU governor"},
    {"load_average", "Load average (1, 5, 15 min)"},
    {"dev_shm_bytes", "/dev/shm size"},
    {"dev_shm_free_bytes", "/dev/shm free"},
    {"compiler", "Compiler"},
    {"build_type", "Build type"},
    {"git_revision", "Git revision"},
    {"gpu", "GPU"},
    {"hostname", "Host"},
}};

// The machine's floor of the run (environment.floor.start, see runner/floor.hpp), when recorded.
struct Floor {
  double rtt_ns = 0, ring_msgs_per_s = 0;
  std::string mechanism;  ///< whose cells compare with it (files before it was recorded: shm's)
};

std::optional<Floor> run_floor(const RunResult& r) {
  if (!r.environment.is_object()) return std::nullopt;
  const auto f = r.environment.find("floor");
  if (f == r.environment.end() || !f->is_object()) return std::nullopt;
  const auto start = f->find("start");
  if (start == f->end() || !start->is_object()) return std::nullopt;
  const auto rtt = start->find("cacheline_rtt_ns"), ring = start->find("ring_msgs_per_s");
  if (rtt == start->end() || ring == start->end() || !rtt->is_number() || !ring->is_number()) return std::nullopt;
  const auto mech = start->find("ring_mechanism");
  Floor out{rtt->get<double>(), ring->get<double>(),
            mech != start->end() && mech->is_string() ? mech->get<std::string>() : std::string("shm")};
  if (!(out.rtt_ns > 0) || !(out.ring_msgs_per_s > 0)) return std::nullopt;
  return out;
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

void environment(std::string& md, const RunResult& r) {
  add(md, "## Environment\n\n");
  if (!r.environment.is_object() || r.environment.empty()) {
    add(md, "No environment was recorded for this run.\n\n");
    return;
  }
  add(md, "| Property | Value |\n|---|---|\n");
  for (const EnvFact& f : kEnvFacts) {
    const auto it = r.environment.find(f.key);
    // A missing GPU is the normal case, not an unknown fact.
    if (it == r.environment.end() || (it->is_null() && std::string_view(f.key) == "gpu")) continue;
    const bool bytes =
        std::string_view(f.key).ends_with("_bytes") || std::string_view(f.key) == "caches";
    add(md, "| {} | {} |\n", f.label, esc(render(*it, bytes)));
  }
  if (const auto floor = run_floor(r)) {
    add(md, "| Machine floor (this run, at its start) | one cache line round trip {}, bare shm ring {} msgs/s of 64 B |\n",
        format_ns(floor->rtt_ns), format_rate(floor->ring_msgs_per_s));
  }
  std::vector<std::pair<std::string, std::string>> rest;
  for (const auto& item : r.environment.items()) {
    const std::string& k = item.key();
    const bool known = std::any_of(kEnvFacts.begin(), kEnvFacts.end(),
                                   [&k](const EnvFact& f) { return k == f.key; });
    if (!known) flatten(item.value(), k, rest);
  }
  add(md, "\n");
  if (rest.empty()) return;
  add(md, "<details><summary>Other recorded facts</summary>\n\n| Key | Value |\n|---|---|\n");
  for (const auto& [k, v] : rest) add(md, "| {} | {} |\n", esc(k), esc(v));
  add(md, "\n</details>\n\n");
}

void warnings(std::string& md, const RunResult& r) {
  std::vector<std::string> lines;
  for (const std::string& w : r.warnings) lines.push_back(esc(w));
  for (const CellResult& c : r.cells) {
    for (const std::string& w : c.warnings)
      lines.push_back(fmt::format("`{}`: {}", cell_id(c), esc(w)));
    if (is_ok(c) && c.noisy) {
      std::string detail;
      for (const auto& [name, spread] :
           {std::pair{"p50", &c.p50_spread}, std::pair{"p99", &c.p99_spread},
            std::pair{"msgs/s", &c.throughput_spread}}) {
        if (!*spread) continue;
        detail += fmt::format("{}{} ±{:.0f}%", detail.empty() ? " (" : ", ", name,
                              (*spread)->rel_spread * 100);
      }
      if (!detail.empty()) detail += ")";
      lines.push_back(
          fmt::format("`{}`: noisy, its repetitions disagree{}; treat its figures "
                      "with care",
                      cell_id(c), detail));
    }
  }
  if (lines.empty()) return;
  add(md, "## ⚠ Warnings\n\nThese conditions can distort the figures below.\n\n");
  for (const std::string& l : lines) add(md, "- {}\n", l);
  add(md, "\n");
}

// "1.9 CPU cores at this load, 100% of a core per idle endpoint": the price of a pick.
std::string cost_text(const CellResult& c) {
  const std::optional<double> cores = cores_used(c);
  std::string s = cores ? fmt::format("{:.2g} CPU cores while measuring", *cores) : std::string("CPU not measured");
  if (c.idle_cpu_percent >= 0) s += fmt::format(", {:.0f}% of a core per idle waiting endpoint", c.idle_cpu_percent);
  return s;
}

// One recommendation line: the pick, then how it compares with the runner-up.
template <class Show>
void pick_line(std::string& md, const std::optional<Pick>& pick, std::string_view what, Show show,
               std::string_view verb_better) {
  if (!pick) return;
  const CellResult& best = *pick->best;
  add(md, "  - {}: **{}** {}, {}{}", what, mech_ser(best), show(best), setup(best), best.noisy ? " (noisy)" : "");
  switch (pick->margin) {
    case Pick::Margin::alone: add(md, "; no other mechanism/serializer to compare with."); break;
    case Pick::Margin::incomparable: add(md, "; next: {} {}.", mech_ser(*pick->next), show(*pick->next)); break;
    case Pick::Margin::tie:
      if (pick->p_value) {
        add(md, "; **tie** with {} {}: {} {} in the medians, but the repetitions overlap (Mann-Whitney p = {:.2f}).",
            mech_ser(*pick->next), show(*pick->next), format_ratio(pick->ratio), verb_better, *pick->p_value);
      } else {
        add(md, "; **tie** with {} {}: within 10%.", mech_ser(*pick->next), show(*pick->next));
      }
      break;
    case Pick::Margin::untested:
      add(md, "; {} {} than the next, {} {}, untested: {} repetition(s) cannot show it is not noise (run "
          "--repetitions 3 or more).", format_ratio(pick->ratio), verb_better, mech_ser(*pick->next),
          show(*pick->next), pick->repetitions);
      break;
    case Pick::Margin::lead:
      add(md, "; {} {} than the next, {} {} (Mann-Whitney p = {:.2f} over {} repetitions).", format_ratio(pick->ratio),
          verb_better, mech_ser(*pick->next), show(*pick->next), *pick->p_value, pick->repetitions);
      break;
  }
  // Cost next to speed: what the pick costs, and the cheapest option that is nearly as good.
  add(md, " Cost: {}.", cost_text(best));
  if (pick->cheapest) {
    const CellResult& c = *pick->cheapest;
    add(md, " Cheapest within 10%: {} {}, {}, {}.", mech_ser(c), show(c), setup(c), cost_text(c));
  }
  add(md, "\n");
}

void recommendations(std::string& md, const RunResult& r) {
  add(md, "## Recommendations\n\n");
  add(md,
      "For each pattern, message size, process count and load: the ok cell with the lowest p50 "
      "latency and the one with the highest message rate, compared with the best cell of a "
      "different mechanism/serializer. Differences under 10% are called a tie. Latency is "
      "ranked only where it was measured as latency: round trips (pingpong) and open-loop cells "
      "that achieved their offered rate. In closed loop the senders keep the channel full, so "
      "a p50 there is queueing delay at saturation (buffer depth / consumer rate): it rewards "
      "the smallest buffer and is never ranked.\n\n");
  const auto groups = recommend_per_group(r);
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const RecommendationGroup& g = groups[i];
    if (i == 0 || groups[i - 1].pattern != g.pattern) add(md, "### {}\n\n", esc(g.pattern));
    const std::string offered =
        !g.load ? load(g.rate)
        : g.load->kind == LoadPoint::Kind::sporadic
            ? std::string("sporadic load (long idle gaps between messages)")
        : g.load->kind == LoadPoint::Kind::fraction
            ? fmt::format("load {} of each configuration's own closed-loop rate", esc(g.load->label()))
            : fmt::format("load {} msgs/s per producer", esc(g.load->label()));
    add(md, "- **{}**, {} procs, {}{}:\n", format_size(g.size_bytes), g.procs, offered,
        g.content == ContentMode::random ? "" : fmt::format(", content `{}`", g.content));
    pick_line(
        md, g.lowest_p50, fmt::format("lowest p50 latency ({})", latency_kind(g.pattern)),
        [](const CellResult& c) {
          return fmt::format("(p50 {}, p99 {})", ns_or_dash(c.latency_ns.p50), ns_or_dash(c.latency_ns.p99));
        },
        "lower");
    if (!g.lowest_p50 && g.saturated_only) {
      add(md, "  - latency: not ranked; these cells ran closed loop, so their latency is queueing delay at "
              "saturation (see pingpong, or run with `--rate`)\n");
    }
    pick_line(
        md, g.highest_throughput, "highest throughput",
        [](const CellResult& c) {
          return fmt::format("({} msgs/s, {} MB/s)", format_rate(c.throughput.msgs_per_s),
                             mb_per_s(c.throughput.payload_bytes_per_s));
        },
        "higher");
    if (i + 1 == groups.size() || groups[i + 1].pattern != g.pattern) add(md, "\n");
  }
  if (groups.empty()) add(md, "No cell completed, so there is nothing to recommend.\n\n");
}

std::string figure_of(const CellResult& c, Objective o) {
  switch (o) {
    case Objective::lowest_p50: return "p50 " + ns_or_dash(c.latency_ns.p50) + ", p99 " + ns_or_dash(c.latency_ns.p99);
    case Objective::lowest_p99: return "p99 " + ns_or_dash(c.latency_ns.p99) + ", p50 " + ns_or_dash(c.latency_ns.p50);
    case Objective::highest_throughput:
      return format_rate(c.throughput.msgs_per_s) + " msgs/s, " + mb_per_s(c.throughput.payload_bytes_per_s) + " MB/s";
    case Objective::lowest_cpu_per_msg:
      return format_ns(c.cpu.per_msg_ns) + " CPU/msg at " + format_rate(c.throughput.msgs_per_s) + " msgs/s";
  }
  return "?";
}

// The one-screen summary: per use case the data covers, what to deploy and why.
void summary(std::string& md, const RunResult& r) {
  const std::vector<Decision> ds = decisions(r);
  add(md, "## Summary: what to deploy\n\n");
  if (ds.empty()) {
    add(md, "No use case could be decided: no cell finished ok.\n\n");
    return;
  }
  add(md,
      "Each row follows from the tables below: the best measured configuration for the use case, "
      "the runner-up of another mechanism/serializer, and what the choice costs. A lead needs both "
      "a difference above 10% and a Mann-Whitney test over the repetitions (p <= 0.10); otherwise "
      "it is a tie.\n\n");
  add(md, "| use case | deploy | settings | evidence | margin over the runner-up | trade-off |\n"
          "|---|---|---|---|---|---|\n");
  // The buffer the cell's channels were created with (CellResult::channel): what to deploy.
  const auto buffer = [](const CellResult& c) -> std::string {
    if (c.channel.capacity_bytes > 0) return fmt::format(", buffer {}", format_bytes(c.channel.capacity_bytes));
    if (c.channel.pipe_bytes > 0) return fmt::format(", pipe {}", format_bytes(c.channel.pipe_bytes));
    return "";
  };
  for (const Decision& d : ds) {
    const CellResult& b = *d.pick.best;
    const std::string settings = fmt::format("wait `{}`, placement `{}`, batch {}, api `{}`{}", esc(b.wait),
                                             esc(b.placement), b.batch, esc(b.api), buffer(b));
    const std::string evidence =
        fmt::format("{} ({}; {} rep{})", figure_of(b, d.objective), esc(d.basis), b.repetitions, b.repetitions == 1 ? "" : "s");
    std::string margin;
    const Pick& p = d.pick;
    switch (p.margin) {
      case Pick::Margin::alone: margin = "no other candidate"; break;
      case Pick::Margin::incomparable: margin = "next: " + mech_ser(*p.next); break;
      case Pick::Margin::tie:
        margin = fmt::format("**tie** with {} ({})", mech_ser(*p.next),
                             p.p_value ? fmt::format("{} apart, p = {:.2f}", format_ratio(p.ratio), *p.p_value)
                                       : std::string("within 10%"));
        break;
      case Pick::Margin::untested:
        margin = fmt::format("{} ahead of {}, untested ({} rep)", format_ratio(p.ratio), mech_ser(*p.next), p.repetitions);
        break;
      case Pick::Margin::lead:
        margin = fmt::format("{} ahead of {} (p = {:.2f})", format_ratio(p.ratio), mech_ser(*p.next), *p.p_value);
        break;
    }
    std::string trade = cost_text(b);
    if (p.cheapest) {
      const CellResult& c = *p.cheapest;
      const auto cores = cores_used(c);
      trade += fmt::format("; within 10% for less: {} `{}` `{}`{}", mech_ser(c), esc(c.wait), esc(c.placement),
                           cores ? fmt::format(" ({:.2g} cores)", *cores) : std::string());
    }
    add(md, "| {} | **{}** | {} | {} | {} | {} |\n", esc(d.use_case), mech_ser(b), settings, evidence, margin, trade);
  }
  add(md, "\n");
}

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
    add(md, " {} |", c.saturation && is_ok(*c.saturation)
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
void serialization(std::string& md, const RunResult& r) {
  using Key = std::tuple<std::string, std::string, std::uint64_t>;  // content by name: the table's order
  std::map<Key, std::vector<const CellResult*>> by;
  for (const CellResult& c : r.cells)
    if (is_ok(c) && (c.encode_ns_per_msg > 0 || c.decode_ns_per_msg > 0))
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

void results(std::string& md, const RunResult& r) {
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
      if (c.pattern == pattern && is_ok(c)) cells.push_back(&c);
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

void failures(std::string& md, const RunResult& r) {
  std::vector<const CellResult*> failed;
  for (const CellResult& c : r.cells) {
    if (!is_ok(c)) failed.push_back(&c);
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

void method(std::string& md, const RunResult& r) {
  add(md, "## Method\n\n");
  add(md,
      "Each cell runs its participants as separate processes started together after a "
      "barrier; each records into its own histogram and the coordinator merges them, then "
      "checks that every message arrived once and intact. Serialization cost (encode / "
      "decode) is measured separately from the transport. Timings use the monotonic clock.\n\n");
  const std::string command = command_of(r);
  if (!command.empty()) {
    add(md, "To reproduce, run on a comparable machine:\n\n```sh\n{}\n```\n\n", command);
  } else {
    add(md, "The run did not record its command line; its effective configuration follows.\n\n");
  }
  if (r.config.is_object() && !r.config.empty()) {
    add(md,
        "<details><summary>Effective configuration</summary>\n\n```json\n{}\n```\n\n</details>\n",
        r.config.dump(2));
  }
}

}  // namespace

std::string markdown_report(const RunResult& r) {
  std::string md;
  header(md, r);
  summary(md, r);
  how_to_read(md);
  environment(md, r);
  warnings(md, r);
  recommendations(md, r);
  load_section(md, r);
  charts_section(md, r);
  results(md, r);
  serialization(md, r);
  failures(md, r);
  method(md, r);
  return md;
}

}  // namespace ipcmatrix
