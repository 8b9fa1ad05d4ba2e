#include "repetition.hpp"

#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "ipcmatrix/runner/coordinator.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "verify.hpp"
#include "launch.hpp"

namespace ipcmatrix::detail {

namespace {

std::string fault_target() {
  const char* f = std::getenv(kFaultEnv);
  return f ? f : "";
}

/// IPCMATRIX_FAULT="<fault>:<pattern>:<mechanism>" (corrupt, drop, duplicate) damages
/// measured message kFaultAt of participant 0 in matching cells. The target is parsed into
/// the registries' entries and compared by identity; an unknown name matches nothing.
Fault fault_for(const Cell& c) {
  const std::string f = fault_target();
  const auto first = f.find(':');
  const auto second = first == std::string::npos ? std::string::npos : f.find(':', first + 1);
  if (second == std::string::npos) return Fault::none;
  const auto fault = parse_name<Fault>(f.substr(0, first));
  try {
    const PatternSpec& pattern = find_pattern(f.substr(first + 1, second - first - 1));
    const TransportSpec& mechanism = find_transport(f.substr(second + 1));
    if (&pattern != c.pattern || &mechanism != c.mechanism) return Fault::none;
  } catch (const std::exception&) {
    return Fault::none;
  }
  return fault.value_or(Fault::none);
}

std::string who(const Worker& w, const Topology& t) {
  return "participant " + std::to_string(w.participant) + " (" +
         std::string(to_string(t.participants[w.participant].role)) + ")";
}

}  // namespace

Repetition run_repetition(const Cell& c, const RunConfig& cfg, const std::vector<int>& cpus, std::uint64_t seed) {
  Repetition rep;
  rep.topology = make_topology(*c.pattern, c.procs);
  const Topology& topo = rep.topology;
  const TransportSpec& t = *c.mechanism;
  rep.options = channel_options(c, cfg, topo.endpoints());
  rep.options.receivers = topo.fan_out_receivers();  // the record's; each endpoint gets its own below
  const ChannelOptions& opts = rep.options;
  const Fault fault = fault_for(c);
  // One created channel per endpoint: edges that share one (a fan-in over one shared
  // socket) get the same sending spec, and their receiver opens it once.
  std::vector<std::unique_ptr<Channel>> channels;
  for (std::size_t i = 0; i < topo.endpoints(); ++i) {
    ChannelOptions mine = opts;
    mine.receivers = topo.fan_out_receivers(static_cast<int>(i));
    channels.push_back(t.create(mine));
  }
  const auto endpoint_of = [&](int ch) -> Channel& {
    return *channels[static_cast<std::size_t>(topo.channels[static_cast<std::size_t>(ch)].endpoint)];
  };

  // Tasks now: their specs carry the fd numbers the children inherit, which
  // close_local_fds() drops.
  std::vector<WorkerTask> tasks(topo.participants.size());
  std::vector<std::vector<int>> keeps(topo.participants.size());
  for (std::size_t p = 0; p < topo.participants.size(); ++p) {
    const Participant& part = topo.participants[p];
    WorkerTask& task = tasks[p];
    task.params = role_params(c, cfg, topo, p, seed);
    if (p == 0) {
      task.params.fault = fault;
      task.params.fault_at = kFaultAt;
    }
    task.cpu = cpu_for(c.placement, cpus, p);
    task.clock = sys::detail::g_clock;
    std::vector<int>& keep = keeps[p];
    for (int ch : part.outs) {
      if (task.params.shared_out && !task.outs.empty()) break;  // one sending end for them all
      task.outs.push_back(endpoint_of(ch).spec(Role::sender));
      for (const int fd : task.outs.back().inherited_fds())
        if (fd >= 0) keep.push_back(fd);
    }
    for (int ch : part.ins) {
      if (task.params.shared_in && !task.ins.empty()) break;  // one receiving end for them all
      task.ins.push_back(endpoint_of(ch).spec(Role::receiver));
      for (const int fd : task.ins.back().inherited_fds())
        if (fd >= 0) keep.push_back(fd);
    }
  }
  std::vector<Worker> workers = spawn_workers(keeps);
  // The children hold their ends now; ours must go, or a peer's death would not show as EOF.
  for (auto& ch : channels) ch->close_local_fds();

  const std::int64_t deadline = sys::monotonic_ns() + static_cast<std::int64_t>(cfg.cell_timeout_s * 1e9);
  auto left_ms = [&] { return std::max<std::int64_t>(0, (deadline - sys::monotonic_ns()) / 1'000'000); };
  auto fail = [&](std::string msg) {
    if (rep.error.empty()) rep.error = std::move(msg);
  };
  auto describe_exit = [&](Worker& w) {
    auto st = w.child.wait_for(std::chrono::milliseconds(2000));
    return who(w, topo) + " " + (st ? st->describe() : std::string("stopped answering"));
  };

  std::vector<WorkerReport> reports;
  try {
    for (auto& w : workers) send_task(w.ctl.get(), tasks[w.participant]);
    // Readiness in the order it comes: an open may wait for a peer (a receiving socket for
    // its sender, a publisher for all its subscribers), so the first participant to fail is
    // reported as it fails, not after another's open has timed out waiting for it.
    std::vector<Worker*> pending;
    for (auto& w : workers) pending.push_back(&w);
    const std::int64_t ready_by = sys::monotonic_ns() + std::min(left_ms(), kReadyTimeoutMs) * 1'000'000;
    while (!pending.empty() && rep.error.empty()) {
      std::vector<pollfd> fds;
      for (const Worker* w : pending) fds.push_back({w->ctl.get(), POLLIN, 0});
      const std::int64_t wait_ms = std::max<std::int64_t>(0, (ready_by - sys::monotonic_ns()) / 1'000'000);
      const int n = sys::retry_eintr([&] { return ::poll(fds.data(), fds.size(), static_cast<int>(wait_ms)); });
      if (n <= 0) {
        fail("participant " + std::to_string(pending.front()->participant) + " not ready in time");
        break;
      }
      for (std::size_t k = fds.size(); k-- > 0;) {
        if (fds[k].revents == 0) continue;
        Worker& w = *pending[k];
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(k));
        bool timed_out = false;
        auto ready = recv_reply(w.ctl.get(), std::min(left_ms(), kReadyTimeoutMs), &timed_out);
        if (!ready) {
          fail(timed_out ? "participant " + std::to_string(w.participant) + " not ready in time" : describe_exit(w));
        } else if (ready->kind != WorkerReply::Kind::ready) {
          fail(ready->error.empty() ? std::string("worker failed to open its channels") : ready->error);
        }
      }
    }
    if (rep.error.empty()) {
      for (auto& w : workers) send_start(w.ctl.get());
      const std::string fault = fault_target();
      if (!fault.empty() && fault == "kill:" + std::string(c.pattern->name) + ":" + std::string(c.mechanism->name)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(kFaultDelayMs));
        workers.back().child.kill(SIGKILL);
      }
      for (auto& w : workers) {
        bool timed_out = false;
        auto r = recv_reply(w.ctl.get(), left_ms(), &timed_out);
        if (!r) {
          fail(timed_out ? "cell timed out after " + std::to_string(cfg.cell_timeout_s) +
                               " s waiting for " + who(w, topo)
                         : describe_exit(w) + " before reporting");
          break;
        }
        if (r->kind != WorkerReply::Kind::report) {
          fail(who(w, topo) + ": " + r->error);
          break;
        }
        if (!r->report.role.error.empty()) fail(who(w, topo) + ": " + r->report.role.error);
        reports.push_back(std::move(r->report));
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
      fail(who(w, topo) + " " + st->describe());
    }
  }
  if (!rep.error.empty()) return rep;
  rep.reports = std::move(reports);
  rep.error = verify_deliveries(topo, rep.reports, cfg, rep.dropped, rep.lossy_sent);
  return rep;
}

}  // namespace ipcmatrix::detail
