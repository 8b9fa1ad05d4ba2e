#include "ipcmatrix/runner/coordinator.hpp"

#include <cmath>
#include <ctime>
#include <map>

#include <fmt/format.h>

#include "aggregate.hpp"
#include "harness_ceiling.hpp"
#include "idle_probe.hpp"
#include "ipcmatrix/runner/floor.hpp"
#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/environment.hpp"
#include "ipcmatrix/sys/interrupt.hpp"
#include "ipcmatrix/sys/ipc_names.hpp"
#include "ipcmatrix/sys/posix.hpp"
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
/// whether the cell came near it.
void apply_ceiling(CellResult& r, const std::optional<double>& ceiling) {
  if (!ceiling || !r.ok()) return;
  r.harness_ceiling_msgs_per_s = *ceiling;
  r.harness_bound = r.throughput.msgs_per_s >= detail::kHarnessBoundFraction * *ceiling;
  if (r.harness_bound) {
    r.warnings.push_back(fmt::format("harness-bound: {:.0f}% of the {:.3g} msgs/s the harness alone reaches "
                                     "for this pattern, size, serializer and api; the mechanism may be faster",
                                     100.0 * r.throughput.msgs_per_s / *ceiling, *ceiling));
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

CellResult run_cell(const Cell& c, const RunConfig& cfg, const std::vector<int>& cpus, IdleCache& idle_cache) {
  std::vector<CellResult> reps;
  std::string error;
  const auto names_before = sys::own_ipc_names();
  const int fds_before = sys::open_fd_count();
  for (int i = 0; i < cfg.repetitions && error.empty(); ++i) {
    if (const int sig = sys::interrupt_signal(); sig != 0) {
      error = "interrupted by " + sys::signal_name(sig);
      break;
    }
    try {
      const detail::Repetition rep = detail::run_repetition(c, cfg, cpus, cfg.seed + static_cast<std::uint64_t>(i));
      if (!rep.error.empty()) error = rep.error;
      else reps.push_back(detail::figures(c, cfg, rep));
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  // Nothing may outlive the cell: segments, socket files, fds. Leaks are removed either way.
  if (std::string leak = check_leaks(names_before, fds_before); error.empty()) error = std::move(leak);

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
  if (r.noisy) r.warnings.push_back("noisy: repetitions differ by more than 10%");
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
      out.warmup = std::min(out.warmup, kSporadicWarmup);
      break;
  }
  return out;
}

constexpr double kFloorMovedWarn = 0.25;
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
void record_floor(RunResult& res, const std::optional<MachineFloor>& start, const std::optional<MachineFloor>& end) {
  res.environment["floor"] = {{"start", floor_json(start)}, {"end", floor_json(end)}};
  if (!start || !end) {
    res.warnings.push_back("the machine's floor could not be measured; figures have no reference");
    return;
  }
  const double rtt_moved = std::abs(end->cacheline_rtt_ns - start->cacheline_rtt_ns) / start->cacheline_rtt_ns;
  const double ring_moved = std::abs(end->ring_msgs_per_s - start->ring_msgs_per_s) / start->ring_msgs_per_s;
  const double moved = std::max(rtt_moved, ring_moved);
  res.environment["floor"]["moved_percent"] = 100.0 * moved;
  if (moved > kFloorMovedWarn) {
    res.warnings.push_back(fmt::format(
        "the machine's floor moved {:.0f}% during the run (cache-line round trip {:.0f} -> {:.0f} ns, bare ring "
        "{:.3g} -> {:.3g} msgs/s): cells measured at different times are not comparable",
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
  const std::vector<int> cpus = sys::allowed_cpus();
  auto cells = plan_cells(cfg, static_cast<int>(cpus.size()));
  // Daemons a mechanism needs (iceoryx's RouDi): started before the floor and the first cell,
  // stopped when this scope ends, whichever way it ends. Not counted in any cell.
  const std::unique_ptr<iceoryx::Roudi> roudi = detail::start_run_roudi(cells, res.environment, res.warnings);
  const std::optional<MachineFloor> floor_start = measure_floor(cpus);
  IdleCache idle_cache;
  CeilingCache ceilings;
  // Per producer, of the last closed-loop cell: load points planned after it are fractions of it.
  std::optional<double> saturation;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (sys::interrupt_signal() != 0) break;
    const Cell& c = cells[i];
    if (cb.on_cell_start) cb.on_cell_start(i, cells.size(), c);
    std::optional<double> ceiling;
    if (closed_loop_throughput(c, cfg)) {
      // Outside the cell's leak-check window: the ceiling run makes rings of its own.
      const std::string key = ceiling_key(c);
      if (!ceilings.count(key)) {
        try {
          ceilings[key] = detail::harness_ceiling(c, cfg);
        } catch (const std::exception&) {
          ceilings[key] = std::nullopt;
        }
      }
      ceiling = ceilings[key];
    }
    CellResult r;
    if (!c.load) {
      r = run_cell(c, cfg, cpus, idle_cache);
      saturation = sent_per_producer(r, c);
    } else if (c.load->kind == LoadPoint::Kind::fraction && !saturation) {
      fill_identity(r, c, cfg);
      r.status = CellStatus::error;
      r.error = "load " + c.load->label() + ": the same cell closed loop measured no rate to take it of";
    } else {
      r = run_cell(c, load_config(cfg, *c.load, saturation.value_or(0)), cpus, idle_cache);
    }
    // A cell the interruption cut short measured nothing that can be trusted: it is left out
    // and named, and the results say they are incomplete.
    if (const int sig = sys::interrupt_signal(); sig != 0 && !r.ok()) {
      res.warnings.push_back(fmt::format("interrupted by {} during cell {}/{} ({} {} {}B); that cell is left out",
                                         sys::signal_name(sig), i + 1, cells.size(), c.pattern->name,
                                         c.mechanism->name, c.size_bytes));
      break;
    }
    apply_ceiling(r, ceiling);
    res.cells.push_back(std::move(r));
    if (cb.on_cell_done) cb.on_cell_done(i, cells.size(), res.cells.back());
  }
  if (const int sig = sys::interrupt_signal(); sig != 0) {
    res.complete = false;
    res.interrupted_by = sys::signal_name(sig);
    res.warnings.push_back(fmt::format("incomplete: interrupted by {} after {} of {} cells", res.interrupted_by,
                                       res.cells.size(), cells.size()));
    // Not measured again: the user asked to stop.
    res.environment["floor"] = {{"start", floor_json(floor_start)}, {"end", nullptr}};
  } else {
    record_floor(res, floor_start, measure_floor(cpus));
  }
  res.elapsed_s = static_cast<double>(sys::monotonic_ns() - t0) / 1e9;
  return res;
}

}  // namespace ipcmatrix
