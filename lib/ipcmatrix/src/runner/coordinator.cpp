#include "ipcmatrix/runner/coordinator.hpp"

#include <ctime>
#include <map>

#include "aggregate.hpp"
#include "idle_probe.hpp"
#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/environment.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "repetition.hpp"

namespace ipcmatrix {

namespace {

/// The idle cost of each (mechanism, wait), measured once per run.
using IdleCache = std::map<std::string, double>;

/// The name of every IPC object that appeared since `before`, removed; an error naming the
/// first one when there were any, or when the coordinator holds more fds than `fds_before`.
std::string check_leaks(const std::set<std::string>& before, int fds_before) {
  std::vector<std::string> leaked;
  for (const auto& n : sys::ipc_names())
    if (!before.count(n)) leaked.push_back(n);
  for (const auto& n : leaked) sys::remove_ipc_name(n);
  if (!leaked.empty()) return "leaked " + leaked.front() + (leaked.size() > 1 ? " and more" : "");
  if (const int fds = sys::open_fd_count(); fds_before >= 0 && fds > fds_before)
    return "leaked " + std::to_string(fds - fds_before) + " file descriptor(s) in the coordinator";
  return {};
}

CellResult run_cell(const Cell& c, const RunConfig& cfg, const std::vector<int>& cpus, IdleCache& idle_cache) {
  std::vector<CellResult> reps;
  std::string error;
  const auto names_before = sys::ipc_names();
  const int fds_before = sys::open_fd_count();
  for (int i = 0; i < cfg.repetitions && error.empty(); ++i) {
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
    r.status = "error";
    r.error = error.empty() ? "no repetition completed" : error;
  }
  r.pattern = std::string(c.pattern->name);
  r.mechanism = std::string(c.mechanism->name);
  r.serializer = c.serializer;
  r.wait = c.wait_name();
  r.placement = std::string(to_string(c.placement));
  r.content = cfg.content;
  r.size_bytes = c.size_bytes;
  r.procs = c.procs;
  r.batch = c.batch;
  r.rate = c.pattern->loop == LoopKind::closed ? 0 : cfg.rate;
  r.api = std::string(to_string(c.api));
  r.verify = cfg.verify;
  r.latency_sample = latency_sample_for(c, cfg);
  std::vector<std::string> figure_warnings = std::move(r.warnings);
  r.warnings = cell_warnings(c, cfg, cpus.size());
  r.warnings.insert(r.warnings.end(), figure_warnings.begin(), figure_warnings.end());
  if (r.noisy) r.warnings.push_back("noisy: repetitions differ by more than 10%");
  const std::string key = r.mechanism + "/" + r.wait;
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
  const std::vector<int> cpus = sys::allowed_cpus();
  const auto cells = plan_cells(cfg, static_cast<int>(cpus.size()));
  IdleCache idle_cache;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (cb.on_cell_start) cb.on_cell_start(i, cells.size(), cells[i]);
    res.cells.push_back(run_cell(cells[i], cfg, cpus, idle_cache));
    if (cb.on_cell_done) cb.on_cell_done(i, cells.size(), res.cells.back());
  }
  res.elapsed_s = static_cast<double>(sys::monotonic_ns() - t0) / 1e9;
  return res;
}

}  // namespace ipcmatrix
