#pragma once
// Private to runner/: a fork server for worker processes.
//
// Exec'ing this binary for every worker cost each repetition 30-45 ms on the 2-core VM
// (measured with a trace of 546 repetitions: 6-15 ms to fork and exec 2-4 workers, then
// 20-28 ms until the last of them reached main, most of it page faults while the dynamic
// loader maps and relocates some 30 libraries), a sixth of a 64 B repetition. The zygote is
// one exec'd worker image, started once per run before any cell, that forks a worker on
// request: the child starts with every library loaded, at the cost of a fork of a small,
// single-threaded process.
//
// Contract:
// - A worker it forks is a child of the coordinator, as an exec'd one is: the coordinator
//   is a child subreaper while a Zygote lives, and the zygote forks twice (its child forks
//   the workers of one request and exits), so each worker is re-parented to the
//   coordinator, which waits for it, kills it and counts it like any sys::Child. The worker
//   then asks for the parent-death signal against the coordinator, and runs in a process
//   group of its own.
// - The fds a worker inherits (its control socket, its channel ends) travel over the
//   zygote's socket with SCM_RIGHTS and are placed at the numbers they have in the
//   coordinator, which is what the task's channel specs name. A worker keeps only its own
//   (not those of the others forked with it), and the zygote closes its copies at once: a
//   peer's death must show as EOF, and the zygote holds nothing of a cell's.
// - The zygote never opens a channel, a transport or a thread itself, so every worker
//   starts as clean as an exec'd one (its peak RSS counts from the zygote's few MiB, as an
//   exec'd worker's counts from its own start).
// - Where the zygote cannot start or has died, spawn_worker() execs as before.

#include <memory>
#include <span>
#include <vector>

#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"

namespace ipcmatrix::detail {

/// argv[1] of the zygote: <exe> --ipcmatrix-zygote <socket-fd> <coordinator-pid>.
inline constexpr std::string_view kZygoteFlag = "--ipcmatrix-zygote";

/// Most fds one request passes (one message's worth), for all the workers it forks
/// together; a worker that needs more alone is exec'd.
inline constexpr std::size_t kZygoteMaxFds = sys::kMaxPassedFds;
/// Most workers one request forks: each needs at least its control socket.
inline constexpr std::size_t kZygoteMaxWorkers = kZygoteMaxFds;

/// The coordinator's side: the zygote process and its socket.
class Zygote {
 public:
  /// Starts the zygote and makes this process a child subreaper; nullptr where either
  /// fails (the caller execs its workers then).
  [[nodiscard]] static std::unique_ptr<Zygote> start();
  /// Closes the socket (the zygote exits on EOF), reaps it, and ends the subreaper role
  /// where start() began it.
  ~Zygote();
  Zygote(const Zygote&) = delete;
  Zygote& operator=(const Zygote&) = delete;

  /// One worker per entry of `workers`, forked with its fds at the same numbers (its first
  /// one its control socket), each a child of this process, in one round trip: the zygote
  /// forks one intermediate process for them all, not one per worker (one fork, exit and
  /// round trip fewer a worker: 2.5-4 ms off a repetition of 2-4 processes, in three
  /// interleaved runs of 72 at 64 B). At most kZygoteMaxWorkers workers and kZygoteMaxFds
  /// fds in all. Throws Error when the zygote fails or has gone (alive() is false then);
  /// workers already forked when a fork fails are killed and reaped.
  [[nodiscard]] std::vector<sys::Child> spawn(std::span<const std::vector<int>> workers);
  [[nodiscard]] bool alive() const noexcept { return alive_; }
  [[nodiscard]] int pid() const noexcept { return child_.pid(); }

 private:
  Zygote() = default;
  sys::Child child_;
  sys::Fd sock_;
  bool alive_ = true;
  bool was_subreaper_ = false;
};

/// The zygote process itself: serves spawn requests on `sock` until EOF; in each worker it
/// forks, calls `worker(control_fd, coordinator)` and exits with its return value. Returns
/// the zygote's exit code.
int serve_zygote(int sock, int coordinator, int (*worker)(int control_fd, int coordinator));

}  // namespace ipcmatrix::detail
