// The advice of the Markdown report (markdown_parts.hpp): the one-screen summary of what to
// deploy per use case, and the recommendations per group of comparable cells. Both render
// what decisions.hpp decided (picks, margins, ties, the cheapest option within 10%); nothing
// here ranks cells.
#include "markdown_parts.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmatrix/model/format.hpp"
#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/model/semantics.hpp"
#include "ipcmatrix/pattern/pattern.hpp"
#include "ipcmatrix/stats/significance.hpp"
#include <fmt/ranges.h>
#include "ipcmatrix/report/decisions.hpp"

namespace ipcmatrix::detail::markdown {

namespace {

std::string load(double rate) {
  return rate > 0 ? format_rate(rate) + " msgs/s per producer" : "closed loop";
}

// "1.9 CPU cores at this load, 100% of a core per idle endpoint, 27 MiB resident at most per
// process": the price of a pick.
std::string cost_text(const CellResult& c) {
  const std::optional<double> cores = cores_used(c);
  const std::string n = cores ? fmt::format("{:.2g}", *cores) : std::string();
  std::string s = cores ? fmt::format("{} CPU {} while measuring", n, n == "1" ? "core" : "cores")
                        : std::string("CPU not measured");
  if (c.idle_cpu_percent >= 0) s += fmt::format(", {:.0f}% of a core per idle waiting endpoint", c.idle_cpu_percent);
  if (c.peak_rss_kb > 0) s += fmt::format(", {} resident at most per process", format_bytes(static_cast<std::uint64_t>(c.peak_rss_kb) * 1024));
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
    case Pick::Margin::alone: add(md, "; no other mechanism to compare with."); break;
    case Pick::Margin::incomparable: add(md, "; next: {} {}.", mech_ser(*pick->next), show(*pick->next)); break;
    case Pick::Margin::tie: add(md, "; **tie** with {} {}: within 10%.", mech_ser(*pick->next), show(*pick->next)); break;
    case Pick::Margin::untested: {
      const std::string_view open = open_margin_word(*pick), more = more_repetitions_hint(*pick);
      if (pick->p_value) {
        add(md, "; {} {} than the next, {} {}, in the medians, undecided: the repetitions overlap (Mann-Whitney p = "
            "{:.2f} over {} repetitions, which spread up to ±{:.0f}%).", format_ratio(pick->ratio), verb_better,
            mech_ser(*pick->next), show(*pick->next), *pick->p_value, pick->repetitions, pick->spread * 100.0);
        break;
      }
      if (pick->ratio < kTieRatio) {
        add(md, "; within 10% of the next, {} {}, {}: a tie needs {} repetitions each, this has {} ({}).",
            mech_ser(*pick->next), show(*pick->next), open, kTieRepetitions, pick->repetitions, more);
        break;
      }
      add(md, "; {} {} than the next, {} {}, {}: {} cannot show it is not noise ({}).", format_ratio(pick->ratio),
          verb_better, mech_ser(*pick->next), show(*pick->next), open,
          format_count(static_cast<std::uint64_t>(pick->repetitions), "repetition"), more);
      break;
    }
    case Pick::Margin::lead:
      add(md, "; {} {} than the next, {} {} ({}).", format_ratio(pick->ratio), verb_better, mech_ser(*pick->next),
          show(*pick->next), how_decided(*pick));
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

}  // namespace

// Each mechanism the decisions pick, once, in the order of the decisions.
std::vector<std::string> picked_mechanisms(const std::vector<Decision>& ds) {
  std::vector<std::string> out;
  for (const Decision& d : ds)
    if (std::find(out.begin(), out.end(), d.pick.best->mechanism) == out.end()) out.push_back(d.pick.best->mechanism);
  return out;
}

// Next to the picks, what deploying each picked mechanism means beyond its figures: its
// semantics card as the run recorded it (results files from before cards were recorded have
// none, and get no section).
void semantics_of_picks(std::string& md, const RunResult& r, const std::vector<Decision>& ds) {
  const auto cards = r.environment.find("mechanisms");
  if (cards == r.environment.end() || !cards->is_object()) return;
  std::string lines;
  for (const std::string& m : picked_mechanisms(ds)) {
    const auto card = cards->find(m);
    if (card == cards->end()) continue;
    try {
      lines += fmt::format("- **{}**: {}\n", esc(m), esc(summary_line(card->get<SemanticsCard>())));
    } catch (const std::exception& e) {
      lines += fmt::format("- **{}**: its card in this results file cannot be read ({})\n", esc(m), esc(e.what()));
    }
  }
  if (lines.empty()) return;
  add(md, "What deploying each picked mechanism means besides its figures (pollable fd, message "
          "boundaries, a full channel, a dead peer, visibility, limits):\n\n{}\n", lines);
}

// Where a use case is decided over both separate channels and one shared endpoint (fan-in
// and fan-in-shared, broadcast and broadcast-shared), which of the two the pick uses, as a
// settings clause; "" elsewhere.
std::string endpoints_clause(const CellResult& c) {
  const PatternSpec* spec = pattern_or_null(c.pattern);
  if (!spec || c.procs < spec->participants.min) return "";
  const Topology mine = make_topology(*spec, c.procs);
  if (mine.shares_endpoints()) return ", **one shared endpoint** for all senders";
  if (mine.fans_out()) return ", **one publishing endpoint** all receivers subscribe to";
  for (const PatternSpec* other : all_patterns())
    for (const UseCase& u : other->use_cases)
      for (const UseCase& own : spec->use_cases) {
        if (other == spec || u.name != own.name) continue;
        const Topology theirs = make_topology(*other, std::max(c.procs, other->participants.min));
        if (theirs.shares_endpoints()) return ", a channel per sender";
        if (theirs.fans_out()) return ", a channel per receiver";
      }
  return "";
}

// The faster paths a picked mechanism offers that this run did not measure because its
// flags (or their defaults) left them out: zero copy (--api loan, or --loan-from at the
// sizes that run it: a mechanism with a loan cell at any size had it measured where it pays)
// and the waits it was not given. The picks are the best of what was measured; this says
// what that excludes.
void unmeasured_paths(std::string& md, const RunResult& r, const std::vector<Decision>& ds) {
  const auto listed = [&](const char* key) {
    std::vector<std::string> out;
    const auto it = r.config.find(key);
    if (it != r.config.end() && it->is_array())
      for (const auto& v : *it)
        if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
  };
  const std::vector<std::string> apis = listed("apis"), waits = listed("waits");
  if (apis.empty() && waits.empty()) return;  // a file without its config: nothing to say
  std::vector<std::string> lines;
  bool loans_missing = false, waits_missing = false;
  for (const std::string& m : picked_mechanisms(ds)) {
    // What the mechanism offers, as the run recorded it (environment.paths, by the runner
    // from the transport registry); a file without it says nothing here.
    const auto paths = r.environment.find("paths");
    if (paths == r.environment.end() || !paths->is_object() || !paths->contains(m)) continue;
    const nlohmann::json& offers = (*paths)[m];
    const bool loan = offers.is_object() && offers.value("loan", false);
    const bool spins = offers.is_object() && offers.value("spin_wait", false);
    std::vector<std::string> missing;
    const bool loaned = std::any_of(r.cells.begin(), r.cells.end(),
                                    [&](const CellResult& c) { return c.mechanism == m && c.api == Api::loan; });
    if (loan && !apis.empty() && !loaned && std::find(apis.begin(), apis.end(), "loan") == apis.end()) {
      missing.push_back("zero copy (`--api loan`)");
      loans_missing = true;
    }
    if (spins && !waits.empty()) {
      std::vector<std::string> other;
      for (const Wait w : all_values<Wait>())
        if (is_chosen_wait(w) && std::find(waits.begin(), waits.end(), to_string(w)) == waits.end())
          other.emplace_back(to_string(w));
      if (!other.empty()) {
        missing.push_back(fmt::format("`--wait {}`", fmt::join(other, ",")));
        waits_missing = true;
      }
    }
    if (!missing.empty()) lines.push_back(fmt::format("**{}** with {}", esc(m), fmt::join(missing, " or ")));
  }
  if (lines.empty()) return;
  add(md,
      "Not measured in this run (its flags or their defaults left them out), so not among the candidates: {}. "
      "{}{}add them to see whether they change a pick.\n\n",
      fmt::join(lines, "; "), loans_missing ? "Zero copy pays from a few KiB a message; " : "",
      waits_missing ? "spinning lowers latency at a core's cost; " : "");
}

// How the race spent the run's repetitions (runner/race.hpp): one paragraph, when it raced.
void race_paragraph(std::string& md, const RunResult& r) {
  std::map<RaceOutcome, std::size_t> count;
  std::size_t reps = 0, raced = 0;
  for (const CellResult& c : r.cells) {
    if (!c.ok() || c.race == RaceOutcome::fixed) continue;
    ++count[c.race];
    ++raced;
    reps += static_cast<std::size_t>(c.repetitions);
  }
  if (raced == 0) return;
  const auto n = [&](RaceOutcome o) { return count.count(o) ? count.at(o) : std::size_t{0}; };
  add(md,
      "Decided by racing: every cell ran a first pass, then only the cells still within reach of their "
      "group's best got further repetitions, in shuffled rounds (the summary's candidates first, a few groups at a time), until the "
      "lead was significant or the tie established; a cell {}x behind after one repetition, while the "
      "machine's floor held still, stopped there. {} repetitions over {} cells: {} leading, {} tied, {} beaten "
      "early, {} alone in their group{}.\n\n",
      kFarApart,
      reps, raced, n(RaceOutcome::leading), n(RaceOutcome::tied), n(RaceOutcome::beaten), n(RaceOutcome::alone),
      n(RaceOutcome::undecided) > 0
          ? fmt::format(", **{} undecided** ({}; `--race` and `--budget` give it more)", n(RaceOutcome::undecided),
                        race_budget_note(r).value_or("the repetition cap or the time budget ended the race first"))
          : std::string());
}

// The one-screen summary: per use case the data covers, what to deploy and why.
void summary_section(std::string& md, const RunResult& r) {
  const std::vector<Decision> ds = decisions(r);
  add(md, "## Summary: what to deploy\n\n");
  if (ds.empty()) {
    add(md, "No use case could be decided: no cell finished ok.\n\n");
    return;
  }
  add(md,
      "Each row follows from the tables below: the best measured configuration for the use case, "
      "the runner-up (the best configuration of another mechanism), and what the choice costs; a use "
      "case measured with several serializers is answered for each. A lead needs both "
      "a difference above 10% and a Mann-Whitney test over the repetitions (p <= 0.10), or a gap of "
      "2x or more in every one of 2 repetitions or more (3x after one, where the race cut it); a tie "
      "needs 3 repetitions a side; with fewer, the margin says what is still open.\n\n");
  race_paragraph(md, r);
  add(md, "| use case | deploy | settings | evidence | margin over the runner-up | trade-off |\n"
          "|---|---|---|---|---|---|\n");
  // The buffer the cell's channels were created with (CellResult::channel): what to deploy.
  const auto buffer = [](const CellResult& c) -> std::string {
    if (c.channel.capacity_bytes > 0) return fmt::format(", buffer {}", format_bytes(c.channel.capacity_bytes));
    if (c.channel.pipe_bytes > 0) return fmt::format(", pipe {}", format_bytes(c.channel.pipe_bytes));
    std::string library;
    if (c.channel.queue_messages > 0) library += fmt::format(", queue {} msgs", c.channel.queue_messages);
    if (c.channel.io_threads > 0) library += fmt::format(", {} I/O threads", c.channel.io_threads);
    return library;
  };
  for (const Decision& d : ds) {
    const CellResult& b = *d.pick.best;
    const std::string settings = fmt::format("wait `{}`, placement `{}`, batch {}, api `{}`{}{}", esc(b.wait),
                                             esc(b.placement), b.batch, esc(b.api), buffer(b), endpoints_clause(b));
    const std::string evidence =
        fmt::format("{} ({}; {} rep{})", figure_of(b, d.objective), esc(d.basis), b.repetitions, b.repetitions == 1 ? "" : "s");
    std::string margin;
    const Pick& p = d.pick;
    switch (p.margin) {
      case Pick::Margin::alone: margin = "no other candidate"; break;
      case Pick::Margin::incomparable: margin = "next: " + mech_ser(*p.next); break;
      case Pick::Margin::tie:
        margin = fmt::format("**tie** with {} (within 10%, {} rep{})", mech_ser(*p.next), p.repetitions,
                             p.repetitions == 1 ? "" : "s");
        break;
      case Pick::Margin::untested:
      {
        const std::string_view open = open_margin_word(p);
        margin = p.p_value ? fmt::format("{} ahead of {}, {}: the repetitions overlap (p = {:.2f}, {} reps, spread "
                                         "up to ±{:.0f}%)",
                                         format_ratio(p.ratio), mech_ser(*p.next), open, *p.p_value, p.repetitions,
                                         p.spread * 100.0)
                 : p.ratio < kTieRatio
                     ? fmt::format("within 10% of {}, {} ({} rep; a tie needs {})", mech_ser(*p.next), open,
                                   p.repetitions, kTieRepetitions)
                     : fmt::format("{} ahead of {}, {} ({} rep)", format_ratio(p.ratio), mech_ser(*p.next), open,
                                   p.repetitions);
        break;
      }
      case Pick::Margin::lead:
        margin = fmt::format("{} ahead of {} ({})", format_ratio(p.ratio), mech_ser(*p.next), how_decided(p));
        break;
    }
    std::string trade = cost_text(b);
    if (p.cheapest) {
      const CellResult& c = *p.cheapest;
      const auto cores = cores_used(c);
      trade += fmt::format("; within 10% for less: {} `{}` `{}`{}", mech_ser(c), esc(c.wait), esc(c.placement),
                           cores ? fmt::format(" ({:.2g} cores)", *cores) : std::string());
    }
    const std::string use_case =
        d.serializers > 1 ? fmt::format("{}, `{}`", esc(d.use_case), esc(d.serializer)) : esc(d.use_case);
    add(md, "| {} | **{}** | {} | {} | {} | {} |\n", use_case, mech_ser(b), settings, evidence, margin, trade);
  }
  add(md, "\n");
  unmeasured_paths(md, r, ds);
  semantics_of_picks(md, r, ds);
}

void recommendations_section(std::string& md, const RunResult& r) {
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

}  // namespace ipcmatrix::detail::markdown
