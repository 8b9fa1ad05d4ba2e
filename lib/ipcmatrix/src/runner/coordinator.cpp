#include "ipcmatrix/runner/coordinator.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/pattern/topology.hpp"
#include "ipcmatrix/runner/control.hpp"
#include "ipcmatrix/runner/worker.hpp"
#include "ipcmatrix/stats/histogram_json.hpp"
#include "ipcmatrix/stats/statistics.hpp"
#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/environment.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {

namespace {

constexpr std::int64_t kReadyTimeoutMs = 60'000;
constexpr std::int64_t kIdleWindowMs = 250;
constexpr std::int64_t kHybridSpinNs = 50'000;

bool can_spin(const std::string& mechanism) { return find_transport(mechanism).caps.spin_wait; }

int cpu_for(const std::string& placement, const std::vector<int>& cpus, std::size_t participant) {
  if (placement == "unpinned" || cpus.empty()) return -1;
  if (placement == "same-core") return cpus[0];
  return cpus[participant % cpus.size()];
}

ChannelOptions channel_options(const Cell& c, const RunConfig& cfg) {
  ChannelOptions o;
  if (c.wait != "kernel") (void)parse_wait_strategy(c.wait, o.wait);  // validated by the config
  o.spin_ns = kHybridSpinNs;
  o.capacity_bytes = cfg.ring_bytes;
  o.pipe_bytes = cfg.pipe_bytes;
  o.open_timeout_ms = kReadyTimeoutMs;
  return o;
}

/// A spawned participant and the coordinator's end of its control socket.
struct Worker {
  sys::Child child;
  sys::Fd ctl;
  std::size_t participant = 0;
  std::string role;
  int cpu = -1;
};

Worker spawn_worker(std::size_t participant, std::vector<int> keep) {
  Worker w;
  w.participant = participant;
  sys::Fd child_end;
  sys::make_socketpair(w.ctl, child_end);
  keep.push_back(child_end.get());
  w.child = sys::spawn_self({std::string(kWorkerFlag), std::to_string(child_end.get()),
                             std::to_string(::getpid())},
                            keep);
  return w;
}

/// The run's clock calibration, handed to every worker so all convert ticks alike.
nlohmann::json clock_json() {
  const sys::ClockCalibration& c = sys::detail::g_clock;
  return {{"tsc", c.tsc}, {"tsc0", c.tsc0}, {"mono0", c.mono0}, {"mult", c.mult}};
}

/// What one repetition of a cell produced.
struct Rep {
  std::string error;
  std::vector<nlohmann::json> reports;  // per participant
  std::vector<std::string> roles;
  std::vector<int> cpus;
};

std::string fault_target() {
  const char* f = std::getenv(kFaultEnv);
  return f ? f : "";
}

Rep run_once(const Cell& c, const RunConfig& cfg, const std::vector<int>& cpus, std::uint64_t seed) {
  Rep rep;
  const Topology topo = make_topology(c.pattern, c.procs);
  const TransportSpec& t = find_transport(c.mechanism);
  const ChannelOptions opts = channel_options(c, cfg);
  std::vector<std::unique_ptr<Channel>> channels;
  for (std::size_t i = 0; i < topo.channels.size(); ++i) channels.push_back(t.create(opts));

  // Specs now: they carry the fd numbers the children inherit, which close_local_fds() drops.
  std::vector<nlohmann::json> out_specs(topo.participants.size(), nlohmann::json::array());
  std::vector<nlohmann::json> in_specs(topo.participants.size(), nlohmann::json::array());
  for (std::size_t p = 0; p < topo.participants.size(); ++p) {
    for (int ch : topo.participants[p].outs) out_specs[p].push_back(to_text(channels[ch]->spec(Role::sender)));
    for (int ch : topo.participants[p].ins) in_specs[p].push_back(to_text(channels[ch]->spec(Role::receiver)));
  }
  std::vector<Worker> workers;
  for (std::size_t p = 0; p < topo.participants.size(); ++p) {
    const Participant& part = topo.participants[p];
    std::vector<int> keep;
    for (int ch : part.outs)
      if (int fd = channels[ch]->spec(Role::sender).fd; fd >= 0) keep.push_back(fd);
    for (int ch : part.ins)
      if (int fd = channels[ch]->spec(Role::receiver).fd; fd >= 0) keep.push_back(fd);
    workers.push_back(spawn_worker(p, keep));
    workers.back().role = std::string(to_string(part.role));
    workers.back().cpu = cpu_for(c.placement, cpus, p);
  }
  // The children hold their ends now; ours must go, or a peer's death would not show as EOF.
  for (auto& ch : channels) ch->close_local_fds();

  const std::int64_t deadline = sys::monotonic_ns() + static_cast<std::int64_t>(cfg.cell_timeout_s * 1e9);
  auto left_ms = [&] { return std::max<std::int64_t>(0, (deadline - sys::monotonic_ns()) / 1'000'000); };
  auto fail = [&](std::string msg) {
    if (rep.error.empty()) rep.error = std::move(msg);
  };
  auto describe_exit = [&](Worker& w) {
    auto st = w.child.wait_for(std::chrono::milliseconds(2000));
    return "participant " + std::to_string(w.participant) + " (" + w.role + ") " +
           (st ? st->describe() : std::string("stopped answering"));
  };

  try {
    for (auto& w : workers) {
      const Participant& part = topo.participants[w.participant];
      send_record(w.ctl.get(),
                  {{"type", "task"},
                   {"role", w.role},
                   {"index", w.participant},
                   {"distribution", topo.distribution == Distribution::all ? "all" : "round_robin"},
                   {"size_bytes", c.size_bytes},
                   {"serializer", c.serializer},
                   {"zstd_level", cfg.zstd_level},
                   {"content", cfg.content},
                   {"seed", seed},
                   {"messages", cfg.messages},
                   {"warmup", cfg.warmup},
                   {"duration_s", cfg.duration_s},
                   {"rate", cfg.rate},
                   {"batch", c.batch},
                   {"record_hops", c.pattern == "pipeline" && part.role == RoleKind::consumer},
                   {"cpu", w.cpu},
                   {"clock", clock_json()},
                   {"outs", out_specs[w.participant]},
                   {"ins", in_specs[w.participant]}});
    }
    for (auto& w : workers) {
      if (!rep.error.empty()) break;
      bool timed_out = false;
      auto ready = recv_record(w.ctl.get(), std::min(left_ms(), kReadyTimeoutMs), &timed_out);
      if (!ready) fail(timed_out ? "participant " + std::to_string(w.participant) + " not ready in time" : describe_exit(w));
      else if (ready->value("type", "") != "ready") fail(ready->value("error", std::string("worker failed to open its channels")));
    }
    if (rep.error.empty()) {
      for (auto& w : workers) send_record(w.ctl.get(), {{"type", "start"}});
      const std::string fault = fault_target();
      if (!fault.empty() && fault == "kill:" + c.pattern + ":" + c.mechanism) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        workers.back().child.kill(SIGKILL);
      }
      for (auto& w : workers) {
        bool timed_out = false;
        auto r = recv_record(w.ctl.get(), left_ms(), &timed_out);
        if (!r) {
          fail(timed_out ? "cell timed out after " + std::to_string(cfg.cell_timeout_s) + " s waiting for participant " +
                               std::to_string(w.participant) + " (" + w.role + ")"
                         : describe_exit(w) + " before reporting");
          break;
        }
        if (r->value("type", "") == "error") {
          fail("participant " + std::to_string(w.participant) + " (" + w.role + "): " + r->value("error", std::string()));
          break;
        }
        if (const auto e = r->value("error", std::string()); !e.empty())
          fail("participant " + std::to_string(w.participant) + " (" + w.role + "): " + e);
        rep.reports.push_back(std::move(*r));
        rep.roles.push_back(w.role);
        rep.cpus.push_back(w.cpu);
      }
    }
  } catch (const std::exception& e) {
    fail(e.what());
  }
  // Reap everyone; a participant still running after a failure is killed.
  for (auto& w : workers) {
    if (!rep.error.empty()) w.child.kill(SIGKILL);
    auto st = w.child.wait_for(std::chrono::milliseconds(rep.error.empty() ? 10'000 : 2'000));
    if (!st) {
      w.child.kill_and_reap();
      fail("participant " + std::to_string(w.participant) + " did not exit after reporting");
    } else if (!st->ok() && rep.error.empty()) {
      fail("participant " + std::to_string(w.participant) + " (" + w.role + ") " + st->describe());
    }
  }
  if (!rep.error.empty()) return rep;

  // Every channel: what its sender sent is exactly what its receiver got, in order.
  std::vector<std::size_t> out_pos(topo.participants.size()), in_pos(topo.participants.size());
  for (std::size_t ch = 0; ch < topo.channels.size(); ++ch) {
    const auto [from, to] = topo.channels[ch];
    const auto& s = rep.reports[from].at("sent").at(out_pos[from]++);
    const auto& r = rep.reports[to].at("received").at(in_pos[to]++);
    const auto sc = s.at("count").get<std::uint64_t>(), rc = r.at("count").get<std::uint64_t>();
    if (sc != rc) {
      fail("channel " + std::to_string(from) + "->" + std::to_string(to) + ": sent " + std::to_string(sc) +
           " messages, received " + std::to_string(rc));
    } else if (s.at("sum").get<std::uint64_t>() != r.at("sum").get<std::uint64_t>()) {
      fail("channel " + std::to_string(from) + "->" + std::to_string(to) + ": checksum mismatch (corrupted bytes)");
    } else if (!r.at("in_order").get<bool>()) {
      fail("channel " + std::to_string(from) + "->" + std::to_string(to) + ": messages out of order or duplicated");
    }
  }
  if (cfg.duration_s == 0 && rep.error.empty()) {
    std::uint64_t delivered = 0;
    for (const auto& r : rep.reports) delivered += r.at("measured_received").get<std::uint64_t>();
    const std::uint64_t want = topo.deliveries(cfg.messages);
    if (delivered != want)
      fail("expected " + std::to_string(want) + " measured deliveries, got " + std::to_string(delivered));
  }
  return rep;
}

/// CPU% of one idle receiving endpoint of `mechanism` with `wait`: a spinning ring burns
/// a core while it waits, a blocking one costs nothing. Measured once per pair.
double idle_cpu_percent(const Cell& c, const RunConfig& cfg) {
  const TransportSpec& t = find_transport(c.mechanism);
  auto ch = t.create(channel_options(c, cfg));
  std::vector<int> keep;
  if (int fd = ch->spec(Role::receiver).fd; fd >= 0) keep.push_back(fd);
  Worker w = spawn_worker(0, keep);
  const std::string rx_spec = to_text(ch->spec(Role::receiver));
  send_record(w.ctl.get(), {{"type", "task"}, {"role", "idle"}, {"cpu", -1},
                            {"outs", nlohmann::json::array()}, {"ins", nlohmann::json::array({rx_spec})}});
  auto tx = t.open(ch->take(Role::sender), Role::sender);
  ch->close_local_fds();
  double pct = -1;
  if (auto ready = recv_record(w.ctl.get(), kReadyTimeoutMs); ready && ready->value("type", "") == "ready") {
    send_record(w.ctl.get(), {{"type", "start"}});
    std::this_thread::sleep_for(std::chrono::milliseconds(kIdleWindowMs));
    tx.reset();  // the receiver's recv now returns peer_closed
    if (auto r = recv_record(w.ctl.get(), 10'000)) {
      const auto& u = r->at("usage");
      const double wall = r->at("wall_s").get<double>();
      if (wall > 0) pct = 100.0 * (u.at("user_s").get<double>() + u.at("sys_s").get<double>()) / wall;
    }
  }
  w.child.wait_for(std::chrono::milliseconds(5000));
  return pct;
}

std::uint64_t sum_u64(const std::vector<nlohmann::json>& rs, const char* key) {
  std::uint64_t s = 0;
  for (const auto& r : rs) s += r.at(key).get<std::uint64_t>();
  return s;
}

/// Turns one successful repetition into figures.
CellResult figures(const Cell& c, const RunConfig& cfg, const Rep& rep) {
  CellResult r;
  Histogram uncorrected, hop;
  std::int64_t first = 0, last = 0;
  double enc = 0, dec = 0;
  std::uint64_t enc_n = 0, dec_n = 0;
  for (std::size_t i = 0; i < rep.reports.size(); ++i) {
    const auto& j = rep.reports[i];
    r.histogram.merge(histogram_from_json(j.at("latency")));
    uncorrected.merge(histogram_from_json(j.at("uncorrected")));
    hop.merge(histogram_from_json(j.at("hop")));
    const auto f = j.at("first_send_ns").get<std::int64_t>();
    if (f && (!first || f < first)) first = f;
    last = std::max(last, j.at("last_recv_ns").get<std::int64_t>());
    enc += j.at("encode_ns").get<double>();
    enc_n += j.at("encode_samples").get<std::uint64_t>();
    dec += j.at("decode_ns").get<double>();
    dec_n += j.at("decode_samples").get<std::uint64_t>();
    ProcessStats ps;
    ps.role = rep.roles[i];
    ps.index = static_cast<int>(i);
    ps.cpu = rep.cpus[i];
    const auto& u = j.at("usage");
    ps.user_s = u.at("user_s").get<double>();
    ps.sys_s = u.at("sys_s").get<double>();
    ps.voluntary_ctx = u.at("voluntary_ctx").get<std::int64_t>();
    ps.involuntary_ctx = u.at("involuntary_ctx").get<std::int64_t>();
    ps.max_rss_kb = u.at("max_rss_kb").get<std::int64_t>();
    for (const auto& s : j.at("sent")) ps.sent += s.at("count").get<std::uint64_t>();
    for (const auto& s : j.at("received")) ps.received += s.at("count").get<std::uint64_t>();
    r.cpu.user_s += ps.user_s;
    r.cpu.sys_s += ps.sys_s;
    r.processes.push_back(ps);
  }
  r.messages_sent = sum_u64(rep.reports, "measured_sent");
  r.messages_received = sum_u64(rep.reports, "measured_received");
  r.latency_ns = summarize(r.histogram);
  if (cfg.rate > 0 && c.pattern != "pingpong") r.latency_uncorrected_ns = summarize(uncorrected);
  if (c.pattern == "pipeline") r.hop_latency_ns = summarize(hop);
  r.duration_s = (last > first && first) ? (last - first) / 1e9 : 0;
  const std::uint64_t wire = sum_u64(rep.reports, "wire_bytes"), wire_n = sum_u64(rep.reports, "wire_msgs");
  if (r.duration_s > 0) {
    r.throughput.msgs_per_s = r.messages_received / r.duration_s;
    r.throughput.payload_bytes_per_s = r.throughput.msgs_per_s * static_cast<double>(c.size_bytes);
    r.throughput.wire_bytes_per_s = wire / r.duration_s;
  }
  r.wire_bytes_per_msg = wire_n ? static_cast<double>(wire) / wire_n : 0;
  r.encode_ns_per_msg = enc_n ? enc / enc_n : 0;
  r.decode_ns_per_msg = dec_n ? dec / dec_n : 0;
  if (r.messages_received) r.cpu.per_msg_ns = (r.cpu.user_s + r.cpu.sys_s) * 1e9 / r.messages_received;
  return r;
}

std::vector<std::string> cell_warnings(const Cell& c, const RunConfig& cfg, std::size_t ncpus) {
  std::vector<std::string> w;
  if (c.wait == "spin") {
    const Topology topo = make_topology(c.pattern, c.procs);
    std::size_t spinners = 0;
    for (const auto& p : topo.participants) spinners += p.role == RoleKind::peer ? p.ins.size() + 1 : 1;
    if (c.placement == "same-core")
      w.push_back("spinning participants share one CPU: each waits for the scheduler to run the other (milliseconds)");
    else if (spinners > ncpus)
      w.push_back(std::to_string(spinners) + " spinning participants on " + std::to_string(ncpus) +
                  " CPUs: spinners steal each other's time; latency reflects scheduling, not the mechanism");
  }
  if (c.pattern == "pingpong" && cfg.rate > 0) w.push_back("pingpong is closed loop: --rate ignored");
  if (c.pattern == "pingpong" && c.batch > 1) w.push_back("pingpong sends one message per round trip: --batch ignored");
  return w;
}

FigureSpread make_spread(const std::vector<double>& v) {
  const Spread s = spread(v);
  return {s.median, s.min, s.max, s.rel_spread, static_cast<int>(s.n)};
}

CellResult run_cell(const Cell& c, const RunConfig& cfg, const std::vector<int>& cpus,
                    std::map<std::string, double>& idle_cache) {
  std::vector<CellResult> reps;
  std::string error;
  const auto names_before = sys::ipc_names();
  const int fds_before = sys::open_fd_count();
  for (int i = 0; i < cfg.repetitions && error.empty(); ++i) {
    try {
      Rep rep = run_once(c, cfg, cpus, cfg.seed + static_cast<std::uint64_t>(i));
      if (!rep.error.empty()) error = rep.error;
      else reps.push_back(figures(c, cfg, rep));
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  // Nothing may outlive the cell: segments, socket files, fds.
  std::vector<std::string> leaked;
  for (const auto& n : sys::ipc_names())
    if (!names_before.count(n)) leaked.push_back(n);
  for (const auto& n : leaked) sys::remove_ipc_name(n);
  if (error.empty() && !leaked.empty()) error = "leaked " + leaked.front() + (leaked.size() > 1 ? " and more" : "");
  if (const int fds = sys::open_fd_count(); error.empty() && fds_before >= 0 && fds > fds_before)
    error = "leaked " + std::to_string(fds - fds_before) + " file descriptor(s) in the coordinator";

  CellResult r;
  if (error.empty() && !reps.empty()) {
    // Report the median repetition (by p50 latency); keep the spread of the others.
    std::vector<double> p50, p99, tput;
    for (const auto& x : reps) {
      p50.push_back(static_cast<double>(x.histogram.value_at_percentile(50)));
      p99.push_back(static_cast<double>(x.histogram.value_at_percentile(99)));
      tput.push_back(x.throughput.msgs_per_s);
    }
    std::vector<std::size_t> order(reps.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return p50[a] < p50[b]; });
    r = std::move(reps[order[order.size() / 2]]);
    r.repetitions = static_cast<int>(reps.size());
    if (reps.size() > 1) {
      r.p50_spread = make_spread(p50);
      r.p99_spread = make_spread(p99);
      r.throughput_spread = make_spread(tput);
      r.noisy = r.p50_spread->rel_spread > 0.10 || r.throughput_spread->rel_spread > 0.10;
    }
  } else {
    r.status = "error";
    r.error = error.empty() ? "no repetition completed" : error;
  }
  r.pattern = c.pattern;
  r.mechanism = c.mechanism;
  r.serializer = c.serializer;
  r.wait = c.wait;
  r.placement = c.placement;
  r.content = cfg.content;
  r.size_bytes = c.size_bytes;
  r.procs = c.procs;
  r.batch = c.batch;
  r.rate = c.pattern == "pingpong" ? 0 : cfg.rate;
  r.warnings = cell_warnings(c, cfg, cpus.size());
  if (r.noisy) r.warnings.push_back("noisy: repetitions differ by more than 10%");
  const std::string key = c.mechanism + "/" + c.wait;
  if (!idle_cache.count(key)) {
    try {
      idle_cache[key] = idle_cpu_percent(c, cfg);
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

std::vector<Cell> plan_cells(const RunConfig& cfg, int cpus) {
  std::vector<Cell> out;
  for (const auto& pattern : cfg.patterns) {
    const int procs = resolve_procs(cfg, pattern, cpus);
    for (const auto& mech : cfg.mechanisms) {
      const std::vector<std::string> waits = can_spin(mech) ? cfg.waits : std::vector<std::string>{"kernel"};
      for (const auto& ser : cfg.serializers)
        for (auto size : cfg.sizes)
          for (const auto& wait : waits)
            for (const auto& placement : cfg.placements) {
              std::vector<int> batches = pattern == "pingpong" ? std::vector<int>{1} : cfg.batches;
              for (int batch : batches) out.push_back({pattern, mech, ser, wait, placement, size, procs, batch});
            }
    }
  }
  return out;
}

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
  res.warnings = sys::environment_warnings(res.environment);
  res.config = cfg.to_json();
  const std::vector<int> cpus = sys::allowed_cpus();
  const auto cells = plan_cells(cfg, static_cast<int>(cpus.size()));
  std::map<std::string, double> idle_cache;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (cb.on_cell_start) cb.on_cell_start(i, cells.size(), cells[i]);
    res.cells.push_back(run_cell(cells[i], cfg, cpus, idle_cache));
    if (cb.on_cell_done) cb.on_cell_done(i, cells.size(), res.cells.back());
  }
  res.elapsed_s = (sys::monotonic_ns() - t0) / 1e9;
  return res;
}

}  // namespace ipcmatrix
