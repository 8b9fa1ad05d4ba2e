#include "ipcmatrix/runner/worker.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "ipcmatrix/pattern/roles.hpp"
#include "ipcmatrix/runner/protocol.hpp"
#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "zygote.hpp"

namespace ipcmatrix {

namespace {

constexpr std::int64_t kTaskTimeoutMs = 60'000;
constexpr std::int64_t kStartTimeoutMs = 600'000;
constexpr int kExitNoTask = 64;
constexpr int kExitNoStart = 65;
/// Receive buffer of the idle probe: nothing arrives, the sender only closes.
constexpr std::size_t kIdleProbeBuffer = 64;

sys::Usage usage_delta(const sys::Usage& a, const sys::Usage& b) {
  return {b.user_s - a.user_s, b.sys_s - a.sys_s, b.voluntary_ctx - a.voluntary_ctx,
          b.involuntary_ctx - a.involuntary_ctx, b.max_rss_kb};
}

int run(int fd) {
  const auto task = recv_task(fd, kTaskTimeoutMs);
  if (!task) return kExitNoTask;
  if (task->cpu >= 0) sys::pin_to_cpu(task->cpu);
  sys::use_clock(task->clock);
  (void)sys::clock_read_cost_ns();  // measured now, not inside the first timed message
  std::vector<std::unique_ptr<Transport>> outs, ins;
  // Sending ends first: they do not wait for the peer, receiving ends may (sockets accept);
  // a publisher's (fan-out) does wait for its subscribers, which are other participants'
  // receiving ends and never the same process's (a fan-out producer receives nothing).
  for (const auto& spec : task->outs) outs.push_back(find_transport(spec.mechanism).open(spec, Role::sender));
  for (const auto& spec : task->ins) ins.push_back(find_transport(spec.mechanism).open(spec, Role::receiver));
  send_ready(fd);
  if (!recv_start(fd, kStartTimeoutMs)) return kExitNoStart;

  WorkerReport report;
  const sys::Usage u0 = sys::self_usage();
  const std::int64_t t0 = sys::monotonic_ns();
  if (task->kind == TaskKind::idle_probe) {
    // Wait for a message that never comes, until the coordinator closes the sending end.
    std::vector<std::byte> buf(kIdleProbeBuffer);
    std::size_t len = 0;
    (void)ins.at(0)->recv(buf, len);
    report.cpu = sys::current_cpu();
    report.wall_s = static_cast<double>(sys::monotonic_ns() - t0) / 1e9;
    report.usage = usage_delta(u0, sys::self_usage());
  } else {
    report.role = run_role(task->params, outs, ins);
    ins.clear();
    report.cpu = task->cpu;
    // CPU over the measured phase only, where the role loop marked it: building the
    // message pool, warm-up and the wait for the start are not charged to measured
    // messages. Peak RSS stays the whole process's: this image's, since its exec.
    const RoleReport& role = report.role;
    const bool phase = role.usage_start && role.usage_end;
    report.usage = phase ? usage_delta(*role.usage_start, *role.usage_end) : usage_delta(u0, sys::self_usage());
    report.usage.max_rss_kb = sys::peak_rss_kb();
    report.wall_s = phase ? static_cast<double>(role.phase_end_ns - role.phase_start_ns) / 1e9
                          : static_cast<double>(sys::monotonic_ns() - t0) / 1e9;
  }
  send_report(fd, report);
  return 0;
}

/// A worker's life from its control socket on, exec'd or forked by the zygote alike.
int worker_main(int fd, int coordinator) {
  sys::die_with_parent(coordinator);
  sys::ignore_sigpipe();
  sys::set_cloexec(fd, true);
  try {
    return run(fd);
  } catch (const std::exception& e) {
    try {
      send_failure(fd, e.what());
    } catch (...) {
    }
    std::fprintf(stderr, "ipc-matrix worker %d: %s\n", sys::current_pid(), e.what());
    return 1;
  }
}

}  // namespace

int maybe_run_worker(int argc, char** argv) {
  if (argc < 4) return -1;
  const std::string_view flag = argv[1];
  if (flag == detail::kZygoteFlag) return detail::serve_zygote(std::atoi(argv[2]), std::atoi(argv[3]), worker_main);
  if (flag != kWorkerFlag) return -1;
  return worker_main(std::atoi(argv[2]), std::atoi(argv[3]));
}

}  // namespace ipcmatrix
