#include "idle_probe.hpp"

#include <chrono>
#include <thread>

#include "ipcmatrix/runner/protocol.hpp"
#include "ipcmatrix/sys/clock.hpp"
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
  auto tx = t.open(ch->take(Role::sender), Role::sender);
  ch->close_local_fds();
  double pct = -1;
  if (auto ready = recv_reply(w.ctl.get(), kReadyTimeoutMs); ready && ready->kind == WorkerReply::Kind::ready) {
    send_start(w.ctl.get());
    std::this_thread::sleep_for(std::chrono::milliseconds(kIdleWindowMs));
    tx.reset();  // the receiver's recv now returns peer_closed
    if (auto r = recv_reply(w.ctl.get(), kReportTimeoutMs); r && r->kind == WorkerReply::Kind::report) {
      const WorkerReport& rep = r->report;
      if (rep.wall_s > 0) pct = 100.0 * (rep.usage.user_s + rep.usage.sys_s) / rep.wall_s;
    }
  }
  (void)w.child.wait_for(std::chrono::milliseconds(kExitTimeoutMs));
  return pct;
}

}  // namespace ipcmatrix::detail
