// The zygote (src/runner/zygote.hpp), across real processes: a worker it forks is this
// process's child, holds its fds at this process's numbers and nothing else of the zygote's,
// and the zygote keeps no copy (a peer's death shows as EOF); spawn_worker() uses it while a
// ZygoteScope lives. The test binary plays the zygote and its workers (tests/main.cpp).
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/pattern/pattern.hpp"
#include "ipcmatrix/runner/config.hpp"
#include "ipcmatrix/runner/plan.hpp"
#include "ipcmatrix/runner/worker.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "runner/idle_probe.hpp"
#include "runner/launch.hpp"
#include "runner/zygote.hpp"

using namespace ipcmatrix;
namespace fs = std::filesystem;

namespace {

/// The fd numbers open in process pid.
std::set<int> open_fds(int pid) {
  std::set<int> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec))
    out.insert(std::stoi(e.path().filename().string()));
  return out;
}

/// What fd `fd` of process pid refers to ("pipe:[1234]").
std::string fd_target(int pid, int fd) {
  std::error_code ec;
  return fs::read_symlink("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd), ec).string();
}

/// The command line of pid, its arguments separated by NULs.
std::string cmdline_of(int pid) {
  std::string out;
  if (std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/cmdline").c_str(), "r")) {
    char buf[512] = {};
    out.assign(buf, std::fread(buf, 1, sizeof buf - 1, f));
    std::fclose(f);
  }
  return out;
}

/// The parent pid of pid, from /proc/<pid>/stat.
int parent_of(int pid) {
  std::error_code ec;
  std::string stat;
  if (std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r")) {
    char buf[512] = {};
    stat.assign(buf, std::fread(buf, 1, sizeof buf - 1, f));
    std::fclose(f);
  }
  const auto paren = stat.rfind(')');
  int ppid = 0;
  char state = 0;
  if (paren == std::string::npos || std::sscanf(stat.c_str() + paren + 1, " %c %d", &state, &ppid) != 2) return -1;
  return ppid;
}

}  // namespace

TEST_CASE("zygote: a forked worker is our child, with exactly its fds at our numbers, and the zygote keeps none") {
  auto zygote = detail::Zygote::start();
  REQUIRE(zygote != nullptr);
  const int zygote_pid = zygote->pid();
  sys::Fd ctl, ctl_child, pipe_r, pipe_w;
  sys::make_socketpair(ctl, ctl_child);
  sys::make_pipe(pipe_r, pipe_w);
  const std::vector<int> fds[] = {{ctl_child.get(), pipe_w.get()}};
  sys::Child worker = std::move(zygote->spawn(fds).front());
  REQUIRE(worker.pid() > 0);
  CHECK(parent_of(worker.pid()) == sys::current_pid());

  // The worker places its fds right after the fork: wait (bounded) until it has.
  const std::string pipe_is = fd_target(sys::current_pid(), pipe_w.get());
  const std::string ctl_is = fd_target(sys::current_pid(), ctl_child.get());
  for (int i = 0; i < 500 && fd_target(worker.pid(), pipe_w.get()) != pipe_is; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(fd_target(worker.pid(), pipe_w.get()) == pipe_is);
  CHECK(fd_target(worker.pid(), ctl_child.get()) == ctl_is);
  // The zygote holds nothing of the worker's...
  const std::set<int> in_zygote = open_fds(zygote_pid);
  for (const int fd : in_zygote) {
    CHECK(fd_target(zygote_pid, fd) != pipe_is);
    CHECK(fd_target(zygote_pid, fd) != ctl_is);
  }
  // ...and, where the zygote started with nothing but its standard streams and its socket
  // (a test process that leaked no inheritable fd), the worker has exactly its own fds
  // besides those streams: the zygote's socket is not among them.
  if (in_zygote.size() == 4) CHECK(open_fds(worker.pid()) == std::set<int>{0, 1, 2, ctl_child.get(), pipe_w.get()});

  // Ours closed and the worker killed, the pipe's last writer is gone: EOF, not a hang.
  pipe_w.reset();
  ctl_child.reset();
  worker.kill(SIGKILL);
  const auto st = worker.wait_for(std::chrono::milliseconds(10'000));
  REQUIRE(st.has_value());
  CHECK(st->signal == SIGKILL);
  CHECK(sys::wait_readable(pipe_r.get(), 10'000));
  char byte = 0;
  CHECK(::read(pipe_r.get(), &byte, 1) == 0);

  // The zygote ends with its owner.
  zygote.reset();
  CHECK(parent_of(zygote_pid) != sys::current_pid());
}

TEST_CASE(
    "zygote: workers forked in one request are all our children, and each holds its own fds, none of the others'") {
  auto zygote = detail::Zygote::start();
  REQUIRE(zygote != nullptr);
  const int zygote_pid = zygote->pid();
  const bool clean = open_fds(zygote_pid).size() == 4;  // see the test above
  constexpr std::size_t kWorkers = 3;
  sys::Fd ctl[kWorkers], ctl_child[kWorkers], pipe_r[kWorkers], pipe_w[kWorkers];
  std::vector<std::vector<int>> fds;
  for (std::size_t k = 0; k < kWorkers; ++k) {
    sys::make_socketpair(ctl[k], ctl_child[k]);
    sys::make_pipe(pipe_r[k], pipe_w[k]);
    fds.push_back({ctl_child[k].get(), pipe_w[k].get()});
  }
  std::vector<sys::Child> workers = zygote->spawn(fds);
  REQUIRE(workers.size() == kWorkers);
  for (std::size_t k = 0; k < kWorkers; ++k) {
    CAPTURE(k);
    REQUIRE(workers[k].pid() > 0);
    CHECK(parent_of(workers[k].pid()) == sys::current_pid());
    const std::string pipe_is = fd_target(sys::current_pid(), pipe_w[k].get());
    for (int i = 0; i < 500 && fd_target(workers[k].pid(), pipe_w[k].get()) != pipe_is; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(fd_target(workers[k].pid(), pipe_w[k].get()) == pipe_is);
    CHECK(fd_target(workers[k].pid(), ctl_child[k].get()) == fd_target(sys::current_pid(), ctl_child[k].get()));
    // None of the other workers' ends: their pipes must see EOF when they die.
    for (const int fd : open_fds(workers[k].pid()))
      for (std::size_t j = 0; j < kWorkers; ++j)
        if (j != k) CHECK(fd_target(workers[k].pid(), fd) != fd_target(sys::current_pid(), pipe_w[j].get()));
    if (clean) CHECK(open_fds(workers[k].pid()) == std::set<int>{0, 1, 2, ctl_child[k].get(), pipe_w[k].get()});
  }
  // Each pipe reads EOF once its own worker is gone, whatever the others do: the first
  // worker killed while the rest still run.
  for (std::size_t k = 0; k < kWorkers; ++k) {
    pipe_w[k].reset();
    ctl_child[k].reset();
  }
  workers[0].kill(SIGKILL);
  REQUIRE(workers[0].wait_for(std::chrono::milliseconds(10'000)).has_value());
  CHECK(sys::wait_readable(pipe_r[0].get(), 10'000));
  char byte = 0;
  CHECK(::read(pipe_r[0].get(), &byte, 1) == 0);
  CHECK(workers[1].running());
  for (auto& w : workers) CHECK(w.kill_and_reap().signal == SIGKILL);

  // More fds than one request passes: refused before anything is forked, and the zygote
  // still serves.
  std::vector<std::vector<int>> too_many(detail::kZygoteMaxFds / 2 + 1, std::vector<int>{0, 1});
  CHECK_THROWS_AS((void)zygote->spawn(too_many), Error);
  CHECK(zygote->alive());
}

TEST_CASE("zygote: once it has died, spawn_workers execs every worker, and the run goes on") {
  const detail::ZygoteScope scope;
  REQUIRE(detail::ZygoteScope::active());
  // The zygote: our child whose command line carries its flag (once its exec is through:
  // until then the child shows ours).
  int zygote_pid = -1;
  for (int tries = 0; zygote_pid < 0 && tries < 500; ++tries) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
      const std::string name = e.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      const int pid = std::stoi(name);
      if (parent_of(pid) == sys::current_pid() && cmdline_of(pid).find(detail::kZygoteFlag) != std::string::npos)
        zygote_pid = pid;
    }
    if (zygote_pid < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(zygote_pid > 0);
  REQUIRE(::kill(zygote_pid, SIGKILL) == 0);

  sys::Fd pipe_r[2], pipe_w[2];
  for (int k = 0; k < 2; ++k) sys::make_pipe(pipe_r[k], pipe_w[k]);
  std::vector<detail::Worker> workers = detail::spawn_workers({{pipe_w[0].get()}, {pipe_w[1].get()}});
  CHECK_FALSE(detail::ZygoteScope::active());
  REQUIRE(workers.size() == 2);
  for (std::size_t k = 0; k < 2; ++k) {
    CAPTURE(k);
    CHECK(workers[k].participant == k);
    REQUIRE(workers[k].child.pid() > 0);
    CHECK(parent_of(workers[k].child.pid()) == sys::current_pid());
    // Exec'd, not forked: the worker flag on its command line (once the exec is through),
    // its pipe end at our number across it.
    const auto execd = [&] { return cmdline_of(workers[k].child.pid()).find(kWorkerFlag) != std::string::npos; };
    for (int i = 0; i < 500 && !execd(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(execd());
    CHECK(fd_target(workers[k].child.pid(), pipe_w[k].get()) == fd_target(sys::current_pid(), pipe_w[k].get()));
  }
  // A worker whose control socket closes exits by itself: no task comes.
  for (auto& w : workers) {
    w.ctl.reset();
    const auto st = w.child.wait_for(std::chrono::milliseconds(10'000));
    CHECK(st.has_value());
  }
}

TEST_CASE("zygote: spawn_worker forks from it while a ZygoteScope lives, and a worker it forked does a real task") {
  CHECK_FALSE(detail::ZygoteScope::active());
  Cell c;
  c.pattern = &find_pattern("stream");
  c.mechanism = &find_transport("pipe");
  c.serializer = "raw";
  c.size_bytes = 64;
  c.wait = Wait::kernel;
  RunConfig cfg;
  {
    const detail::ZygoteScope scope;
    REQUIRE(detail::ZygoteScope::active());
    // The idle probe: a worker receives its task and a channel end over the control socket
    // fd it was given, opens the end, waits on it and reports its CPU.
    const double pct = detail::idle_cpu_percent(c, cfg);
    CHECK(pct >= 0);
    CHECK(detail::ZygoteScope::active());
  }
  CHECK_FALSE(detail::ZygoteScope::active());
}
