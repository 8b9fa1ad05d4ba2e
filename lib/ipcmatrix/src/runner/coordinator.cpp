#include "ipcmatrix/runner/coordinator.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <ctime>
#include <map>
#include <set>

#include <fmt/format.h>

#include "aggregate.hpp"
#include "harness_ceiling.hpp"
#include "idle_probe.hpp"
#include "ipcmatrix/runner/dev_shm.hpp"
#include "ipcmatrix/runner/floor.hpp"
#include "ipcmatrix/runner/race.hpp"
#include "ipcmatrix/runner/shard.hpp"
#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/pattern/pattern.hpp"
#include "ipcmatrix/report/decisions.hpp"
#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/environment.hpp"
#include "ipcmatrix/sys/interrupt.hpp"
#include "ipcmatrix/sys/ipc_names.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "launch.hpp"
#include "repetition.hpp"
#include "roudi_for_run.hpp"

namespace ipcmatrix {

namespace {

/// The idle cost of each (mechanism, wait), measured once per run.
using IdleCache = std::map<std::string, double>;
/// The harness ceiling of each (pattern, size, serializer, api, batch), measured once per run.
using CeilingCache = std::map<std::string, std::optional<double>>;

std::string ceiling_key(const Cell& c) {
  return fmt::format("{}/{}/{}/{}/{}", c.pattern->name, c.size_bytes, c.serializer, to_string(c.api), c.batch);
}

/// Closed-loop throughput cells: the harness's own ceiling for the cell's group, and
/// whether the cell came near it without reaching its mechanism's bare speed.
void apply_ceiling(CellResult& r, const std::optional<double>& ceiling, const std::optional<double>& bare) {
  if (!ceiling || !r.ok()) return;
  r.harness_ceiling_msgs_per_s = *ceiling;
  r.bare_msgs_per_s = bare;
  const double tput = r.throughput.msgs_per_s;
  const bool at_bare_speed = bare && tput >= detail::kBareFraction * *bare;
  // A figure well above its ceiling shows that run of the harness was no bound for this cell
  // (the machine in a slower mode when it ran, or processes that overlap more than its
  // model assumes), so it says nothing about the harness limiting the cell.
  const bool beyond = tput > detail::kCeilingExceeded * *ceiling;
  r.harness_bound = tput >= detail::kHarnessBoundFraction * *ceiling && !beyond && !at_bare_speed;
  if (r.harness_bound) {
    r.warnings.push_back(fmt::format("harness-bound: {:.0f}% of the {:.3g} msgs/s the harness alone reaches "
                                     "for this pattern, size, serializer and api{}; the mechanism may be faster",
                                     100.0 * tput / *ceiling, *ceiling,
                                     bare ? fmt::format(", and {:.0f}% of its bare loop's {:.3g}", 100.0 * tput / *bare,
                                                        *bare)
                                          : std::string()));
  }
}

/// The name of every IPC object of this run that appeared since `before`, removed; an error
/// naming the first one when there were any, or when the coordinator holds more fds than
/// `fds_before`. Only this run's names are looked at: another run's objects are its own business.
std::string check_leaks(const std::set<std::string>& before, int fds_before) {
  std::vector<std::string> leaked;
  for (const auto& n : sys::own_ipc_names())
    if (!before.count(n)) leaked.push_back(n);
  for (const auto& n : leaked) sys::remove_ipc_object(n);
  if (!leaked.empty()) return "leaked " + leaked.front() + (leaked.size() > 1 ? " and more" : "");
  if (const int fds = sys::open_fd_count(); fds_before >= 0 && fds > fds_before)
    return "leaked " + std::to_string(fds - fds_before) + " file descriptor(s) in the coordinator";
  return {};
}

/// The cell's identity and how it was measured, for a result measured or not.
void fill_identity(CellResult& r, const Cell& c, const RunConfig& cfg) {
  r.pattern = std::string(c.pattern->name);
  r.mechanism = std::string(c.mechanism->name);
  r.serializer = c.serializer;
  r.wait = c.wait;
  r.placement = c.placement;
  r.content = cfg.content;
  r.size_bytes = c.size_bytes;
  r.procs = c.procs;
  r.batch = c.batch;
  r.rate = c.pattern->loop == LoopKind::closed ? 0 : cfg.rate;
  r.load = c.load;
  r.api = c.api;
  r.verify = cfg.verify;
  r.latency_sample = latency_sample_for(c, cfg);
}

/// One repetition of cell c, with the leak check around it: its figures, or an error.
struct RepOutcome {
  std::optional<CellResult> figures;
  std::string error;
};
RepOutcome run_one_repetition(const Cell& c, const RunConfig& cfg, const std::vector<int>& cpus, std::uint64_t seed) {
  RepOutcome out;
  const auto names_before = sys::own_ipc_names();
  const int fds_before = sys::open_fd_count();
  try {
    const detail::Repetition rep = detail::run_repetition(c, cfg, cpus, seed);
    if (!rep.error.empty()) out.error = rep.error;
    else out.figures = detail::figures(c, cfg, rep);
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  // Nothing may outlive a repetition: segments, socket files, fds. Leaks are removed either way.
  if (std::string leak = check_leaks(names_before, fds_before); out.error.empty() && !leak.empty()) {
    out.error = std::move(leak);
    out.figures.reset();
  }
  return out;
}

/// The cell's result from its repetitions (or its error), with its warnings and idle cost.
CellResult finish_cell(const Cell& c, const RunConfig& cfg, const std::vector<int>& cpus,
                       std::vector<CellResult> reps, const std::string& error, IdleCache& idle_cache) {
  CellResult r;
  if (error.empty() && !reps.empty()) {
    // Closed-loop throughput cells are about msgs/s; round trips and open loop about latency.
    r = detail::combine_repetitions(std::move(reps), closed_loop_throughput(c, cfg));
  } else {
    r.status = CellStatus::error;
    r.error = error.empty() ? "no repetition completed" : error;
  }
  fill_identity(r, c, cfg);
  std::vector<std::string> figure_warnings = std::move(r.warnings);
  r.warnings = cell_warnings(c, cfg, cpus.size());
  r.warnings.insert(r.warnings.end(), figure_warnings.begin(), figure_warnings.end());
  if (r.noisy) r.warnings.emplace_back(kNoisyWarning);
  const std::string key = r.mechanism + "/" + std::string(to_string(r.wait));
  if (!idle_cache.count(key)) {
    try {
      idle_cache[key] = detail::idle_cpu_percent(c, cfg);
    } catch (const std::exception&) {
      idle_cache[key] = -1;
    }
  }
  r.idle_cpu_percent = idle_cache[key];
  return r;
}

/// msgs/s each producer of a closed-loop cell sent over its window: what a load point's
/// fraction is of.
std::optional<double> sent_per_producer(const CellResult& r, const Cell& c) {
  if (!r.ok() || !(r.duration_s > 0)) return std::nullopt;
  const int producers = make_topology(*c.pattern, c.procs).originators();
  if (producers == 0) return std::nullopt;
  return static_cast<double>(r.messages_sent) / producers / r.duration_s;
}

/// The configuration a load cell runs with: cfg paced at the point's rate. The sporadic point
/// runs by time alone (a count would take minutes at 100 msgs/s).
RunConfig load_config(const RunConfig& cfg, const LoadPoint& p, double saturation_per_producer) {
  RunConfig out = cfg;
  switch (p.kind) {
    case LoadPoint::Kind::rate: out.rate = p.value; break;
    case LoadPoint::Kind::fraction: out.rate = p.value * saturation_per_producer; break;
    case LoadPoint::Kind::sporadic:
      out.rate = kSporadicRate;
      out.messages = 0;
      out.duration_s = kSporadicWindowS;
      out.min_messages = 0;  // the window is sized for its ~110 samples already
      out.warmup = std::min(out.warmup, kSporadicWarmup);
      break;
  }
  return out;
}

/// Per planned cell: the configuration it runs with (a load point's is paced at a rate fixed
/// in the first round, so every repetition offers the same load), its ceiling, its
/// repetitions so far, its error (which ends its repetitions), and how long its last
/// repetition took (what the budget and the ETA are estimated from).
struct CellRun {
  std::optional<RunConfig> cfg;
  std::optional<double> ceiling;
  std::optional<double> bare;  ///< detail::bare_transport(), once a repetition came near the ceiling
  bool bare_tried = false;
  std::vector<CellResult> reps;
  /// When each of reps ended (monotonic ns): the machine's mode then is told by the floors
  /// around it (cell_modes()).
  std::vector<std::int64_t> rep_ends_ns;
  std::string error;
  double rep_s = 0;
};

/// Per cell: the one mode of the machine every repetition it kept ran in
/// (mode_of_repetition()), or -1; the race cuts on one repetition a side only within a mode.
std::vector<int> cell_modes(const std::vector<CellRun>& runs, const std::vector<FloorMark>& marks) {
  std::vector<int> out(runs.size(), -1);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::vector<std::int64_t>& ends = runs[i].rep_ends_ns;
    if (ends.empty()) continue;
    const int mode = mode_of_repetition(marks, ends.front());
    if (std::all_of(ends.begin(), ends.end(), [&](std::int64_t end) { return mode_of_repetition(marks, end) == mode; }))
      out[i] = mode;
  }
  return out;
}

/// The figure a cell races on, as the report decides its group: msgs/s for closed-loop
/// throughput cells, the p99 of a sporadic load point, the p50 of every other latency.
std::optional<double> race_figure(const Cell& c, const RunConfig& cfg, const CellResult& rep) {
  if (closed_loop_throughput(c, cfg)) return rep.throughput.msgs_per_s;
  const auto& p = c.load && c.load->kind == LoadPoint::Kind::sporadic ? rep.latency_ns.p99 : rep.latency_ns.p50;
  if (!p) return std::nullopt;
  return static_cast<double>(*p);
}

/// What the report compares a cell with: pattern, size, serializer, participants, load, where
/// the pattern is the one the summary decides it with (compared_with(): broadcast-shared's
/// cells race against broadcast's, for one use case, else the summary's runner-up from one
/// pattern could have one repetition while the pick from the other had five).
std::string race_group(const Cell& c) {
  return fmt::format("{}/{}/{}/{}/{}", compared_with(*c.pattern).name, c.size_bytes, c.serializer, c.procs,
                     c.load ? c.load->label() : "");
}

/// The race's view of every cell: its group (race_group()) and its figure per repetition, one
/// entry per cell in plan order. A cell in `by_cpu` (a candidate of a summary row decided by
/// CPU per message) races a second time, by that figure, in an entry after all of those. A
/// failed cell takes no part. A cell that dropped messages in any repetition (publish/
/// subscribe) races only against others that did: its msgs/s counts less than it was offered,
/// and the summary, which leaves it out (report/decisions.hpp), compares the loss-free ones.
struct RaceView {
  std::vector<RaceEntry> entries;
  std::vector<std::size_t> cell_of;  ///< per entry: its cell
};
RaceView race_entries(const std::vector<Cell>& cells, const std::vector<CellRun>& runs, const RunConfig& cfg,
                      const std::vector<bool>& by_cpu, const std::vector<int>& modes) {
  RaceView out;
  const auto add = [&](std::size_t i, bool cpu) {
    const Cell& c = cells[i];
    RaceEntry& e = out.entries.emplace_back();
    out.cell_of.push_back(i);
    const bool lossy = std::any_of(runs[i].reps.begin(), runs[i].reps.end(),
                                   [](const CellResult& rep) { return !rep.loss_free(); });
    e.group = race_group(c) + (cpu ? "/cpu" : "") + (lossy ? "/lossy" : "");
    e.higher_is_better = !cpu && closed_loop_throughput(c, cfg);
    e.mode = modes[i];
    if (!runs[i].error.empty()) return;
    for (const CellResult& rep : runs[i].reps) {
      if (cpu) {
        if (rep.cpu.per_msg_ns > 0) e.values.push_back(rep.cpu.per_msg_ns);
      } else if (const std::optional<double> f = race_figure(c, cfg, rep)) {
        e.values.push_back(*f);
      }
    }
  };
  for (std::size_t i = 0; i < cells.size(); ++i) add(i, false);
  for (std::size_t i = 0; i < cells.size(); ++i)
    if (i < by_cpu.size() && by_cpu[i]) add(i, true);
  return out;
}

/// Each cell's verdict from its entries': its own figure's, and open while any entry of it is.
/// `beaten` (per entry, grown to fit) keeps every entry beaten once, and is updated.
std::vector<RaceVerdict> judge_cells(RaceView view, std::size_t cells, std::vector<bool>& beaten) {
  beaten.resize(view.entries.size(), false);
  for (std::size_t e = 0; e < view.entries.size(); ++e) view.entries[e].beaten_before = beaten[e];
  const std::vector<RaceVerdict> v = judge_race(view.entries);
  for (std::size_t e = 0; e < v.size(); ++e) beaten[e] = beaten[e] || v[e].outcome == RaceOutcome::beaten;
  std::vector<RaceVerdict> out(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(cells));
  for (std::size_t e = cells; e < v.size(); ++e) out[view.cell_of[e]].open = out[view.cell_of[e]].open || v[e].open;
  return out;
}

/// The cells the summary's picks are made from (report/decisions.hpp Decision::candidates),
/// judged from the repetitions so far: the race decides them before the rest of the report,
/// so that a budget that ends the race leaves the rest undecided, not the summary.
struct SummaryCells {
  std::vector<bool> candidate;  ///< a candidate of some summary row
  std::vector<bool> by_cpu;     ///< a candidate of a row decided by CPU per message
};
SummaryCells summary_candidates(const std::vector<Cell>& cells, const std::vector<CellRun>& runs,
                                const RunConfig& cfg) {
  RunResult provisional;
  std::vector<std::size_t> index;  // the decisions point into provisional.cells: back to the plan
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (!runs[i].error.empty() || runs[i].reps.empty()) continue;
    CellResult r = detail::combine_repetitions(runs[i].reps, closed_loop_throughput(cells[i], cfg));
    fill_identity(r, cells[i], runs[i].cfg ? *runs[i].cfg : cfg);
    provisional.cells.push_back(std::move(r));
    index.push_back(i);
  }
  SummaryCells out{std::vector<bool>(cells.size(), false), std::vector<bool>(cells.size(), false)};
  for (const Decision& d : decisions(provisional)) {
    for (const CellResult* c : d.candidates) {
      const std::size_t i = index[static_cast<std::size_t>(c - provisional.cells.data())];
      out.candidate[i] = true;
      if (d.objective == Objective::lowest_cpu_per_msg) out.by_cpu[i] = true;
    }
  }
  return out;
}

/// `marked` grown to every cell of a race group (pattern, size, serializer, participants,
/// load) that has a marked cell.
std::vector<bool> whole_groups(const std::vector<Cell>& cells, const std::vector<bool>& marked) {
  std::set<std::string> groups;
  for (std::size_t i = 0; i < cells.size(); ++i)
    if (marked[i]) groups.insert(race_group(cells[i]));
  std::vector<bool> out(cells.size());
  for (std::size_t i = 0; i < cells.size(); ++i) out[i] = groups.count(race_group(cells[i])) > 0;
  return out;
}

/// The summary's tier in waves (runner/race.hpp racing_waves()): the cells of each wave, from
/// the race groups of `summary` (whole groups), each group's cost the last repetition times of
/// its cells still open.
std::vector<std::vector<bool>> summary_waves(const std::vector<Cell>& cells, const std::vector<CellRun>& runs,
                                             const std::vector<RaceVerdict>& verdicts,
                                             const std::vector<bool>& summary) {
  std::map<std::string, double> cost;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (!summary[i]) continue;
    double& c = cost[race_group(cells[i])];
    if (verdicts[i].open && runs[i].error.empty()) c += runs[i].rep_s;
  }
  std::vector<double> costs;
  std::vector<std::string> names;
  for (const auto& [name, c] : cost) {
    names.push_back(name);
    costs.push_back(c);
  }
  const std::vector<std::size_t> wave_of = racing_waves(costs, names);
  std::map<std::string, std::size_t> wave_of_group;
  std::size_t waves = 0;
  for (std::size_t g = 0; g < names.size(); ++g) {
    wave_of_group[names[g]] = wave_of[g];
    waves = std::max(waves, wave_of[g] + 1);
  }
  std::vector<std::vector<bool>> out(waves, std::vector<bool>(cells.size(), false));
  for (std::size_t i = 0; i < cells.size(); ++i)
    if (summary[i]) out[wave_of_group.at(race_group(cells[i]))][i] = true;
  return out;
}

/// Seconds the run has left, estimated: what is left of the first pass, which always runs
/// whole, for a cell not yet run at its expected cost (runner/shard.hpp) scaled by how the
/// cells run so far compared with theirs (a 1 MiB JSON cell takes ten times a 64 B one), and
/// at its last repetition's time for a later round, plus the harness ceilings still to
/// measure at their mean so far (the first cells of a shuffled round meet most of them, so
/// they are not folded into a per-cell mean); then racing rounds for the cells open
/// now (every cell while the first pass runs: an upper bound until the race starts; while
/// the summary's tier races, the rest's open cells for all their racing rounds to come; while
/// the rest's races, its own open cells alone), which the budget cuts short; then the
/// end-of-run measurements. Negative before any cell ran.
struct EtaInput {
  std::size_t round = 0, first_pass = 1, max_rounds = 1;
  double elapsed_s = 0, end_reserve_s = 0, budget_s = 0;
  std::size_t ceilings_left = 0;  ///< harness ceilings the cells still to run will measure
  double ceiling_s = 0;           ///< mean time of one measured so far (0: none yet)
  const std::vector<bool>* in_tier = nullptr;  ///< racing: the cells of the tier racing now
  bool summary_tier = false;                   ///< racing the summary's tier (the rest's to come)
};
double estimate_left_s(const std::vector<CellRun>& runs, const std::vector<double>& expected_s,
                       const std::vector<bool>& runs_now, const std::vector<RaceVerdict>& verdicts,
                       const EtaInput& in) {
  double measured = 0, expected_of_measured = 0;
  for (std::size_t i = 0; i < runs.size(); ++i)
    if (!runs[i].reps.empty() && runs[i].rep_s > 0) {
      measured += runs[i].rep_s;
      expected_of_measured += expected_s[i];
    }
  if (!(measured > 0) || !(expected_of_measured > 0)) return -1;
  const double scale = measured / expected_of_measured;
  const bool in_first_pass = in.round < in.first_pass;
  const std::size_t later_first = in.round + 1 < in.first_pass ? in.first_pass - in.round - 1 : 0;
  const std::size_t later_racing = in.max_rounds - std::max(in.round + 1, in.first_pass);
  double first = static_cast<double>(in.ceilings_left) * in.ceiling_s, racing = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const CellRun& r = runs[i];
    if (!r.error.empty()) continue;
    const double each = r.rep_s > 0 ? r.rep_s : expected_s[i] * scale;
    if (runs_now[i] && r.reps.size() <= in.round)  // not yet run this round
      (in_first_pass ? first : racing) += each;
    first += each * static_cast<double>(later_first);
    if (in_first_pass) {
      racing += each * static_cast<double>(later_racing);
    } else if (verdicts[i].open) {
      const bool now = in.in_tier == nullptr || (*in.in_tier)[i];
      if (now) racing += each * static_cast<double>(later_racing);
      else if (in.summary_tier) racing += each * static_cast<double>(in.max_rounds - in.first_pass);
    }
  }
  // A racing repetition starts only if it ends before the budget less the end's reserve.
  if (in.budget_s > 0)
    racing = std::clamp(racing, 0.0,
                        std::max(0.0, in.budget_s - in.end_reserve_s - in.elapsed_s - first));
  return first + racing + in.end_reserve_s;
}

constexpr double kFloorMovedWarn = 0.25;
/// The first pass measures the floor this often as well: a far_apart() verdict on one
/// repetition a side holds only if the machine stayed in one mode while they ran.
constexpr double kPassFloorEveryS = 60;
constexpr double kSlowFloorRttNs = 1000;     // one cache line round trip slower than this
constexpr double kSlowFloorRingMsgs = 10e6;  // or a bare ring slower than this: a slow mode

nlohmann::json floor_json(const std::optional<MachineFloor>& f) {
  if (!f) return nullptr;
  return {{"cacheline_rtt_ns", f->cacheline_rtt_ns},
          {"ring_msgs_per_s", f->ring_msgs_per_s},
          {"ring_mechanism", f->ring_mechanism},
          {"cpus", {f->cpu_a, f->cpu_b}}};
}

/// Records the floor measured at the run's start and end, and warns when it moved or is slow.
void record_floor(RunResult& res, const std::optional<MachineFloor>& start, const std::optional<MachineFloor>& end,
                  bool one_cpu) {
  res.environment["floor"] = {{"start", floor_json(start)}, {"end", floor_json(end)}};
  if (!start || !end) {
    res.warnings.push_back(one_cpu ? "the machine's floor was not measured: one CPU is usable, and the floor is two "
                                     "processes on one cache line at once; figures have no reference"
                                   : "the machine's floor could not be measured; figures have no reference");
    return;
  }
  const double moved = floor_moved(*start, *end);
  res.environment["floor"]["moved_percent"] = 100.0 * moved;
  if (moved > kFloorMovedWarn) {
    res.warnings.push_back(fmt::format(
        "the machine's floor moved {:.0f}% during the run (cache-line round trip {:.0f} -> {:.0f} ns, bare ring "
        "{:.3g} -> {:.3g} msgs/s): with one repetition, cells measured at different times are not comparable; with "
        "several, the rounds interleave the cells, so each cell's spread carries the change",
        100.0 * moved, start->cacheline_rtt_ns, end->cacheline_rtt_ns, start->ring_msgs_per_s, end->ring_msgs_per_s));
  }
  if (start->cacheline_rtt_ns > kSlowFloorRttNs || start->ring_msgs_per_s < kSlowFloorRingMsgs) {
    res.warnings.push_back(fmt::format(
        "the machine's floor is slow (cache-line round trip {:.0f} ns, bare ring {:.3g} msgs/s): a virtual machine "
        "in a slow mode or CPUs far apart; every figure is low by the same cause",
        start->cacheline_rtt_ns, start->ring_msgs_per_s));
  }
}

std::string now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

RunResult run_matrix(const RunConfig& cfg, const MatrixCallbacks& cb) {
  RunResult res;
  res.started_at = now_iso8601();
  const std::int64_t t0 = sys::monotonic_ns();
  const sys::ClockCalibration clock = sys::calibrate_clock();
  sys::use_clock(clock);
  res.environment = sys::capture_environment();
  res.environment["measurement_clock"] =
      clock.tsc ? nlohmann::json{{"source", "tsc, calibrated against CLOCK_MONOTONIC, shared by all processes"},
                                 {"tsc_hz", clock.tsc_hz()}}
                : nlohmann::json{{"source", "CLOCK_MONOTONIC"}};
  res.environment["measurement_clock"]["read_cost_ns"] = sys::clock_read_cost_ns();
  res.warnings = sys::environment_warnings(res.environment);
  for (auto& w : plan_warnings(cfg)) res.warnings.push_back(std::move(w));
  res.config = cfg.to_json();
  res.environment["run_id"] = sys::run_id();
  // What each measured mechanism means for a deployment, next to its figures.
  res.environment["mechanisms"] = nlohmann::json::object();
  for (const auto& m : cfg.mechanisms) res.environment["mechanisms"][m] = semantics_of(find_transport(m));
  // The faster paths each mechanism offers, so the report can say which ones a run left out.
  res.environment["paths"] = nlohmann::json::object();
  for (const auto& m : cfg.mechanisms) {
    const Capabilities& caps = find_transport(m).caps;
    res.environment["paths"][m] = {{"loan", caps.loan}, {"spin_wait", caps.spin_wait}};
  }
  const std::vector<int> cpus = sys::allowed_cpus();
  auto cells = plan_cells(cfg, static_cast<int>(cpus.size()));
  // The whole plan's identity, which every part of a sharded run records alike, so `merge`
  // can tell parts of one plan from parts of another and what is missing.
  {
    nlohmann::json ids = nlohmann::json::array();
    std::vector<std::string> id_list;
    for (const Cell& c : cells) {
      CellResult r;
      fill_identity(r, c, cfg);
      id_list.push_back(cell_id(r));
      ids.push_back(id_list.back());
    }
    res.environment["plan"] = {{"hash", plan_hash(id_list)}, {"cells", std::move(ids)}};
    if (const std::optional<Shard> shard = resolve_shard(cfg.shard)) {
      std::vector<Cell> mine;
      for (const std::size_t i : shard_cells(cells, cfg, *shard)) mine.push_back(cells[i]);
      res.environment["plan"]["shard"] = {{"index", shard->index}, {"count", shard->count}, {"source", shard->source},
                                          {"cells", mine.size()}};
      cells = std::move(mine);
    }
    // What a container's /dev/shm must hold for this plan (or part): runner/dev_shm.hpp.
    const std::uint64_t need = dev_shm_bytes_needed(cells, cfg);
    res.environment["plan"]["dev_shm_bytes"] = need;
    if (const std::uint64_t free = sys::free_bytes("/dev/shm"); free < need)
      res.warnings.push_back(fmt::format("/dev/shm has {} free where this plan needs up to {}: rings are made smaller "
                                         "to fit, and RouDi's pools may not fit (size /dev/shm from "
                                         "environment.plan.dev_shm_bytes)",
                                         format_bytes(free), format_bytes(need)));
  }
  // Daemons a mechanism needs (iceoryx's RouDi): started before the floor and the first cell,
  // stopped when this scope ends, whichever way it ends. Not counted in any cell.
  const std::unique_ptr<iceoryx::Roudi> roudi = detail::start_run_roudi(cells, res.environment, res.warnings);
  // Workers forked from one exec'd image instead of an exec each (runner/zygote.hpp): made
  // here, before the first repetition's leak check counts the coordinator's fds.
  const detail::ZygoteScope zygote;
  const std::int64_t floor_t0 = sys::monotonic_ns();
  const std::optional<MachineFloor> floor_start = measure_floor(cpus);
  const double floor_s = static_cast<double>(sys::monotonic_ns() - floor_t0) / 1e9;
  // Every floor so far, in time order, with the mode it found the machine in.
  std::vector<FloorMark> floor_marks;
  Modes modes;
  if (floor_start) floor_marks.push_back({sys::monotonic_ns(), modes.of(*floor_start)});
  IdleCache idle_cache;
  CeilingCache ceilings;

  // A closed-loop cell and its load points run together, in that order, in every round.
  const std::vector<std::vector<std::size_t>> units = plan_units(cells);
  std::vector<CellRun> runs(cells.size());
  std::vector<double> expected_s(cells.size());
  for (std::size_t i = 0; i < cells.size(); ++i) expected_s[i] = expected_cost_s(cells[i], cfg);
  // The harness ceilings the run will measure: one per group of closed-loop throughput cells,
  // at the group's first cell (so those still to come are this less the cache's size).
  std::set<std::string> ceiling_keys;
  for (const Cell& c : cells)
    if (closed_loop_throughput(c, cfg)) ceiling_keys.insert(ceiling_key(c));
  const std::size_t ceiling_groups = ceiling_keys.size();
  const std::size_t first_pass = static_cast<std::size_t>(std::max(1, cfg.repetitions));
  const bool racing = static_cast<std::size_t>(cfg.race) > first_pass;
  const std::size_t max_rounds = racing ? static_cast<std::size_t>(cfg.race) : first_pass;
  // The summary's waves race to wave_rounds; its groups still open then to max_rounds
  // (kWaveRepetitions: breadth before depth); the rest to max_rounds.
  const std::size_t wave_rounds = std::max(first_pass, std::min(max_rounds, kWaveRepetitions));
  // What the run does after its last round (an idle probe per mechanism and wait, the floor),
  // kept out of the budget's racing share.
  std::set<std::string> idle_keys;
  for (const Cell& c : cells) idle_keys.insert(std::string(c.mechanism->name) + "/" + std::string(to_string(c.wait)));
  const double end_reserve_s =
      floor_s + static_cast<double>(idle_keys.size()) * (2.0 * detail::kIdleWindowMs / 1000.0);
  const bool has_budget = cfg.budget_s > 0;
  const double budget_end_s = cfg.budget_s - end_reserve_s;
  const auto elapsed_s = [&] { return static_cast<double>(sys::monotonic_ns() - t0) / 1e9; };
  std::vector<RaceVerdict> verdicts(cells.size());
  std::size_t step = 0, repetitions_run = 0, budget_skipped = 0;
  // Where the run's time went: inside repetitions (spawn, warm-up, the measured window,
  // teardown, leak check) and, of that, the measured windows alone; harness ceilings; floors.
  double repetitions_wall_s = 0, measured_s = 0, ceilings_s = 0, floors_s = floor_s;
  bool stopped = false;
  nlohmann::json round_floors = nlohmann::json::array(), pass_floors = nlohmann::json::array();
  // Whether every floor so far is near the first (reported; the race asks per cell which
  // mode the floors around its repetitions found: cell_modes()).
  bool machine_steady = floor_start.has_value();
  std::int64_t last_floor_ns = sys::monotonic_ns();
  // A floor brackets repetitions: the one after a round's is what the next verdicts judge
  // its mode by. Where none ran since the last floor (a wave or tier that found nothing
  // open, or whose round did not fit), the last floor still serves: a tiny run once took
  // three floors in a row that way, 0.8 s of its 1.8.
  std::size_t reps_since_floor = 0;
  // The rounds after the first whose floor found another mode than the start's: one warning
  // for them all at the end (another_mode_warning()).
  std::vector<MachineFloor> moved_floors;
  std::size_t later_rounds = 0;
  // A floor measured now; the machine stays steady while each is in the first one's mode
  // (same_mode(): the ring's rate alone moves +-30% within one), and a round's that is not
  // is counted for the warning.
  const auto floor_again = [&](nlohmann::json& into, bool round) {
    const std::int64_t floor_t = sys::monotonic_ns();
    const std::optional<MachineFloor> f = measure_floor(cpus);
    last_floor_ns = sys::monotonic_ns();
    reps_since_floor = 0;
    floors_s += static_cast<double>(last_floor_ns - floor_t) / 1e9;
    into.push_back(floor_json(f));
    // Mode 0 is the start floor's (it opened the first), where there is one.
    const int mode = f ? modes.of(*f) : -1;
    const bool held = floor_start && mode == 0;
    machine_steady = machine_steady && held;
    floor_marks.push_back({last_floor_ns, mode});
    later_rounds += round ? 1 : 0;
    if (round && f && floor_start && !held) moved_floors.push_back(*f);
  };
  // Repetitions run in rounds over every cell, in an order shuffled per round by the seed:
  // a change in the machine's speed (this VM moves between modes within minutes) then hits
  // every contender alike instead of whichever cells ran in that minute.
  // The race runs in two tiers after the first pass: its rounds for the summary's candidates
  // first, until they are decided or at the cap, then its rounds for every other cell. A
  // budget that ends the race then leaves the body's groups undecided, not the summary. A
  // race group with a candidate is in the summary's tier whole, so each round still
  // interleaves all the contenders of a group, and none of them waits for the other tier.
  // The summary's tier races in waves of a few groups, cheapest first (racing_waves()).
  enum class Tier : std::uint8_t { first_pass, summary, rest };
  Tier tier = Tier::first_pass;
  std::vector<bool> in_tier(cells.size(), true);
  SummaryCells summary{std::vector<bool>(cells.size(), false), {}};
  std::vector<bool> summary_tier(cells.size(), false);  // every race group with a candidate
  std::vector<std::vector<bool>> waves;                 // the summary tier's cells, per wave
  std::size_t wave = 0;
  std::vector<bool> beaten_entries;  // race entries beaten in an earlier verdict: they stay so
  // What environment.race reports: racing repetitions of the summary's tier, of its deepening
  // (the part of them past wave_rounds), of the rest's.
  std::size_t summary_racing = 0, deepening_racing = 0, rest_racing = 0;
  std::size_t cap = max_rounds;  // the round the tier racing now stops before
  bool deepening = false;        // the summary's groups still open, racing past wave_rounds
  // The next wave's or tier's racing rounds count from the first pass again, as the first
  // wave's did: a cell's round is its repetition's index (the cap, the seed cfg.seed +
  // round); the deepening's from wave_rounds. `budget_out`: this tier's round did not fit
  // the budget, so no deepening starts (depth only after breadth; and its cells, counted as
  // skipped once, are not counted again).
  const auto next_wave_or_tier = [&](std::size_t& round, bool budget_out) {
    round = first_pass - 1;
    if (tier == Tier::summary && !deepening && wave + 1 < waves.size()) {
      in_tier = waves[++wave];
    } else if (tier == Tier::summary && !deepening && !budget_out && wave_rounds < max_rounds) {
      deepening = true;
      in_tier = summary_tier;
      round = wave_rounds - 1;
      cap = max_rounds;
    } else {
      tier = Tier::rest;
      in_tier = summary_tier;
      in_tier.flip();
      cap = max_rounds;
    }
  };
  for (std::size_t round = 0; !stopped; ++round) {
    // Which cells run this round: every one in the first pass, then those the race left open.
    std::vector<bool> runs_now(cells.size(), false);
    std::size_t round_size = 0, open_cells = 0;
    // The floor per round, before the race judges on it: a round run while the machine was in
    // another mode is named, and it ends the one-repetition cut. The first round follows the
    // start's floor, and a tier's switch reruns this iteration for the same round, whose
    // floor is taken: neither has repetitions since (reps_since_floor).
    const bool round_runs = round < first_pass || (racing && round < cap);
    if (round_runs && reps_since_floor > 0 && sys::interrupt_signal() == 0)
      floor_again(round_floors, true);
    if (round >= first_pass) {
      const bool race_starts = tier == Tier::first_pass;
      if (race_starts) {
        if (!racing) break;
        summary = summary_candidates(cells, runs, cfg);
        tier = Tier::summary;
        cap = wave_rounds;
        summary_tier = whole_groups(cells, summary.candidate);
      }
      verdicts = judge_cells(race_entries(cells, runs, cfg, summary.by_cpu, cell_modes(runs, floor_marks)),
                             cells.size(), beaten_entries);
      if (race_starts) {
        waves = summary_waves(cells, runs, verdicts, summary_tier);
        in_tier = waves.empty() ? summary_tier : waves.front();
      }
      for (std::size_t i = 0; i < cells.size(); ++i)
        if (in_tier[i] && verdicts[i].open && runs[i].error.empty()) ++open_cells;
      if (round >= cap || open_cells == 0) {
        if (tier == Tier::rest) break;
        next_wave_or_tier(round, false);
        continue;
      }
    }
    for (std::size_t i = 0; i < cells.size(); ++i) {
      runs_now[i] = runs[i].error.empty() && (round < first_pass || (in_tier[i] && verdicts[i].open));
      round_size += runs_now[i] ? 1 : 0;
    }
    // A racing round none of whose repetitions fits the budget ends the race.
    if (round >= first_pass && has_budget) {
      bool any_fits = false;
      for (std::size_t i = 0; i < cells.size(); ++i)
        any_fits = any_fits || (runs_now[i] && elapsed_s() + runs[i].rep_s <= budget_end_s);
      if (!any_fits) {
        budget_skipped += round_size;
        if (tier == Tier::rest) break;
        // This wave's round does not fit: the next wave's or the rest's shorter ones may still.
        next_wave_or_tier(round, true);
        continue;
      }
    }
    std::vector<std::size_t> order(units.size());
    for (std::size_t u = 0; u < order.size(); ++u) order[u] = u;
    std::mt19937_64 shuffle_rng(cfg.seed * 0x9e3779b97f4a7c15ULL + round);
    std::shuffle(order.begin(), order.end(), shuffle_rng);
    std::size_t in_round = 0;
    for (const std::size_t u : order) {
      if (round < first_pass && sys::interrupt_signal() == 0 &&
          static_cast<double>(sys::monotonic_ns() - last_floor_ns) / 1e9 >= kPassFloorEveryS)
        floor_again(pass_floors, false);
      for (const std::size_t i : units[u]) {
        if (sys::interrupt_signal() != 0) {
          stopped = true;
          break;
        }
        if (!runs_now[i]) continue;
        const Cell& c = cells[i];
        CellRun& run = runs[i];
        ++step;
        ++in_round;
        if (!run.error.empty()) continue;
        // Racing repetitions only while the budget allows: one that would end past it is not
        // started (its cell keeps the verdict it has). The first pass always runs whole.
        if (round >= first_pass && has_budget && elapsed_s() + run.rep_s > budget_end_s) {
          ++budget_skipped;
          continue;
        }
        if (cb.on_cell_start) {
          MatrixProgress p;
          p.round = round + 1;
          p.first_pass = first_pass;
          p.max_rounds = cap;
          p.in_round = in_round;
          p.round_size = round_size;
          p.open_cells = open_cells;
          p.racing_summary = tier == Tier::summary;
          p.elapsed_s = elapsed_s();
          const double ceiling_mean_s = ceilings.empty() ? 0 : ceilings_s / static_cast<double>(ceilings.size());
          p.eta_s = estimate_left_s(runs, expected_s, runs_now, verdicts,
                                    {round, first_pass, cap, p.elapsed_s, end_reserve_s, cfg.budget_s,
                                     ceiling_groups - ceilings.size(), ceiling_mean_s, &in_tier,
                                     tier == Tier::summary});
          cb.on_cell_start(p, c);
        }
        if (!run.cfg) {
          if (!c.load) {
            run.cfg = cfg;
          } else {
            const CellRun& base = runs[units[u].front()];
            const std::optional<double> saturation =
                base.reps.empty() ? std::nullopt : sent_per_producer(base.reps.front(), cells[units[u].front()]);
            if (c.load->kind == LoadPoint::Kind::fraction && !saturation) {
              run.error = "load " + c.load->label() + ": the same cell closed loop measured no rate to take it of";
              continue;
            }
            run.cfg = load_config(cfg, *c.load, saturation.value_or(0));
          }
          if (closed_loop_throughput(c, cfg)) {
            // Outside the repetition's leak-check window: the ceiling run makes rings of its own.
            const std::string key = ceiling_key(c);
            if (!ceilings.count(key)) {
              const std::int64_t ceiling_t0 = sys::monotonic_ns();
              try {
                ceilings[key] = detail::harness_ceiling(c, cfg);
              } catch (const std::exception&) {
                ceilings[key] = std::nullopt;
              }
              ceilings_s += static_cast<double>(sys::monotonic_ns() - ceiling_t0) / 1e9;
            }
            run.ceiling = ceilings[key];
          }
        }
        const std::int64_t rep_t0 = sys::monotonic_ns();
        RepOutcome o = run_one_repetition(c, *run.cfg, cpus, cfg.seed + round);
        const std::int64_t rep_t1 = sys::monotonic_ns();
        run.rep_s = static_cast<double>(rep_t1 - rep_t0) / 1e9;
        repetitions_wall_s += run.rep_s;
        if (o.figures) measured_s += o.figures->duration_s;
        ++repetitions_run;
        ++reps_since_floor;
        if (tier == Tier::summary) {
          ++summary_racing;
          deepening_racing += deepening ? 1 : 0;
        } else if (tier == Tier::rest) {
          ++rest_racing;
        }
        // A repetition the interruption cut short measured nothing that can be trusted: it is
        // left out; the cell keeps the repetitions it finished.
        if (sys::interrupt_signal() != 0 && !o.figures) {
          stopped = true;
          break;
        }
        // Near the ceiling: the harness or the mechanism? Its bare loop says, measured now,
        // next to the figure it is held against (this VM's speed moves from minute to minute).
        // Not counted in the ETA's figures: one short run per such cell. Whatever IPC object
        // it leaves (a child killed on a timeout) is removed here, as the repetition's leak
        // check never sees it.
        if (o.figures && run.ceiling && !run.bare_tried && sys::interrupt_signal() == 0 &&
            o.figures->throughput.msgs_per_s >= detail::kHarnessBoundFraction * *run.ceiling) {
          run.bare_tried = true;
          const auto names_before = sys::own_ipc_names();
          run.bare = detail::bare_transport(c, *run.cfg, cpus, static_cast<std::size_t>(o.figures->wire_bytes_per_msg));
          (void)check_leaks(names_before, -1);
        }
        if (o.figures) {
          run.reps.push_back(std::move(*o.figures));
          run.rep_ends_ns.push_back(rep_t1);
        } else {
          run.error = std::move(o.error);
        }
      }
      if (stopped) break;
    }
  }
  if (floor_start && !moved_floors.empty())
    res.warnings.push_back(another_mode_warning(*floor_start, moved_floors, later_rounds));
  // The race's last word on each cell (a cell still open is undecided: the cap, the budget or
  // an interruption ended it).
  if (racing) {
    verdicts = judge_cells(race_entries(cells, runs, cfg, summary.by_cpu, cell_modes(runs, floor_marks)),
                           cells.size(), beaten_entries);
    // A budget that ends the race after some racing is the plan (the defaults are sized so),
    // which the summary and the console note (report/decisions.hpp race_budget_note()); one
    // that left no racing repetition at all left every open margin on the first pass alone.
    if (budget_skipped > 0 && summary_racing + rest_racing == 0)
      res.warnings.push_back(fmt::format(
          "the time budget ({}) ended the run with its first pass: {} not run, so the cells still open are "
          "marked undecided (--budget, or --race 0 for a fixed count)",
          format_elapsed_s(cfg.budget_s), format_count(budget_skipped, "racing repetition")));
  }
  res.environment["race"] = {{"first_pass_rounds", first_pass},
                             {"max_repetitions", max_rounds},
                             {"budget_s", cfg.budget_s},
                             {"repetitions_run", repetitions_run},
                             {"repetitions_wall_s", repetitions_wall_s},
                             {"measured_s", measured_s},
                             {"ceilings_s", ceilings_s},
                             {"floors_s", floors_s},
                             {"budget_skipped", budget_skipped},
                             {"machine_steady", machine_steady},
                             {"summary_cells", static_cast<std::size_t>(std::count(summary.candidate.begin(),
                                                                                    summary.candidate.end(), true))},
                             {"summary_waves", waves.size()},
                             {"summary_racing_repetitions", summary_racing},
                             {"summary_wave_repetitions", wave_rounds},
                             {"summary_deepening_repetitions", deepening_racing},
                             {"rest_racing_repetitions", rest_racing}};
  // Results in plan order; a cell the interruption left without a repetition is left out.
  std::size_t short_of_reps = 0, left_out = 0;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    CellRun& run = runs[i];
    if (run.error.empty() && run.reps.empty()) {  // never ran (no configuration yet) or cut short
      ++left_out;
      continue;
    }
    if (run.error.empty() && run.reps.size() < first_pass) ++short_of_reps;
    CellResult r = finish_cell(cells[i], run.cfg ? *run.cfg : cfg, cpus, std::move(run.reps), run.error, idle_cache);
    apply_ceiling(r, run.ceiling, run.bare);
    if (racing && r.ok()) r.race = verdicts[i].open ? RaceOutcome::undecided : verdicts[i].outcome;
    res.cells.push_back(std::move(r));
    if (cb.on_cell_done) cb.on_cell_done(i, cells.size(), res.cells.back());
  }
  if (const int sig = sys::interrupt_signal(); sig != 0) {
    res.complete = false;
    res.interrupted_by = sys::signal_name(sig);
    res.warnings.push_back(fmt::format(
        "incomplete: interrupted by {} after {} repetition(s) ({} cells, {} round(s) each asked): {} cell(s) written, "
        "{} of them with fewer repetitions than asked, {} not measured",
        res.interrupted_by, repetitions_run, cells.size(), first_pass, res.cells.size(), short_of_reps, left_out));
    // Not measured again: the user asked to stop.
    res.environment["floor"] = {{"start", floor_json(floor_start)}, {"end", nullptr}};
  } else {
    record_floor(res, floor_start, measure_floor(cpus), too_few_cpus_for_floor(cpus));
  }
  if (!round_floors.empty()) res.environment["floor"]["rounds"] = round_floors;
  if (!pass_floors.empty()) res.environment["floor"]["first_pass"] = pass_floors;
  res.elapsed_s = static_cast<double>(sys::monotonic_ns() - t0) / 1e9;
  return res;
}

}  // namespace ipcmatrix
