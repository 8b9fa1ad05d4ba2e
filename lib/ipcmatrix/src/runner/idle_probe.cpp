#include "idle_probe.hpp"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "ipcmatrix/runner/protocol.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "launch.hpp"

namespace ipcmatrix::detail {

namespace {
constexpr std::int64_t kReportTimeoutMs = 10'000;
constexpr std::int64_t kExitTimeoutMs = 5'000;
}  // namespace

double idle_cpu_percent(const Cell& c, const RunConfig& cfg) {
  const TransportSpec& t = *c.mechanism;
  auto ch = t.create(channel_options(c, cfg, 1));
  WorkerTask task;
  task.kind = TaskKind::idle_probe;
  task.clock = sys::detail::g_clock;
  task.ins.push_back(ch->spec(Role::receiver));
  std::vector<int> keep;
  for (const int fd : task.ins.back().inherited_fds())
    if (fd >= 0) keep.push_back(fd);
  Worker w = spawn_worker(0, keep);
  send_task(w.ctl.get(), task);
  // The silent sender is a child of its own, never this process: a mechanism with a
  // per-process runtime (iceoryx) must not register the coordinator with its daemon. It
  // holds its end open until `done` closes.
  sys::Fd done_r, done_w;
  sys::make_pipe(done_r, done_w);
  const ChannelSpec tx_spec = ch->take(Role::sender);
  sys::Child sender = sys::fork_child([&] {
    done_w.reset();
    for (const int fd : task.ins.back().inherited_fds())
      if (fd >= 0) ::close(fd);
    auto tx = t.open(tx_spec, Role::sender);
    (void)sys::wait_readable(done_r.get(), kReadyTimeoutMs + kIdleWindowMs + kReportTimeoutMs);
    return 0;  // tx closes: the receiver's recv now returns peer_closed
  });
  for (const int fd : tx_spec.inherited_fds())
    if (fd >= 0) ::close(fd);
  ch->close_local_fds();
  double pct = -1;
  if (auto ready = recv_reply(w.ctl.get(), kReadyTimeoutMs); ready && ready->kind == WorkerReply::Kind::ready) {
    send_start(w.ctl.get());
    std::this_thread::sleep_for(std::chrono::milliseconds(kIdleWindowMs));
    done_w.reset();
    if (auto r = recv_reply(w.ctl.get(), kReportTimeoutMs); r && r->kind == WorkerReply::Kind::report) {
      const WorkerReport& rep = r->report;
      if (rep.wall_s > 0) pct = 100.0 * (rep.usage.user_s + rep.usage.sys_s) / rep.wall_s;
    }
  }
  done_w.reset();
  (void)sender.wait_for(std::chrono::milliseconds(kExitTimeoutMs));
  (void)w.child.wait_for(std::chrono::milliseconds(kExitTimeoutMs));
  return pct;
}

}  // namespace ipcmatrix::detail
