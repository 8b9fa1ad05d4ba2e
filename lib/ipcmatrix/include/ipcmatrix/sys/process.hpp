#pragma once
/// @file process.hpp
/// Child processes: every endpoint of a measurement is a real process. A Child is
/// always reaped: its destructor kills (SIGKILL) and waits for one still running.

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ipcmatrix::sys {

/// How a child ended.
struct ExitStatus {
  int code = -1;    ///< exit code when exited normally, else -1
  int signal = 0;   ///< terminating signal, 0 when exited normally
  [[nodiscard]] bool ok() const noexcept { return signal == 0 && code == 0; }
  [[nodiscard]] std::string describe() const;
};

/// An owned child process. Move-only; not thread-safe.
class Child {
 public:
  Child() = default;
  /// Owns pid (a child of this process); it is signalled by signal_children() until reaped.
  explicit Child(int pid) noexcept;
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  [[nodiscard]] int pid() const noexcept { return pid_; }
  [[nodiscard]] bool running() const noexcept { return pid_ > 0 && !status_; }
  /// Sends sig when still running.
  void kill(int sig) noexcept;
  /// Waits up to timeout for the child to end; nullopt when it is still running.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout) noexcept;
  /// Non-blocking check.
  std::optional<ExitStatus> poll() noexcept;
  /// Kills with SIGKILL if running and reaps. Idempotent.
  ExitStatus kill_and_reap() noexcept;

 private:
  int pid_ = -1;
  std::optional<ExitStatus> status_;
};

/// Forks; the child runs body() and _exits with its return value (1 and a message on
/// stderr if it throws). For tests and for roles that need no exec. The parent should
/// not have other threads running (POSIX fork rules).
Child fork_child(const std::function<int()>& body);

/// Re-executes this program (/proc/self/exe) with args (argv[1..]) in a new process.
/// The fds in keep_fds stay open across exec at the same numbers; every other fd this
/// library opened has FD_CLOEXEC and closes. Throws ipcmatrix::Error on failure.
Child spawn_self(const std::vector<std::string>& args, std::span<const int> keep_fds);

/// Runs the program at `path` (argv[0] = path, then args) as a daemon this process owns: in a
/// process group of its own (a Ctrl-C at the terminal reaches the coordinator alone, which
/// stops the daemon in order), stdin from /dev/null, stdout and stderr into `log_fd`, and
/// `parent_death_signal` sent to it by the kernel when the calling thread's process dies
/// (PR_SET_PDEATHSIG, set in the child before exec). Call it from the main thread: the
/// signal follows the thread that forked. Throws ipcmatrix::Error when fork fails; a failed
/// exec is the child's exit code 127.
Child spawn_program(const std::string& path, const std::vector<std::string>& args, int log_fd,
                    int parent_death_signal);

/// Called first thing in a worker: the kernel sends SIGKILL to this process when the
/// parent dies, so no orphan keeps spinning. Exits at once if the parent is already gone
/// (getppid() != expected_parent).
void die_with_parent(int expected_parent) noexcept;

/// Sends sig to every Child of this process not yet reaped (InterruptWatch: SIGKILL after the
/// grace period or at a second signal). Thread-safe.
void signal_children(int sig) noexcept;

/// This process's pid.
[[nodiscard]] int current_pid() noexcept;

/// Clears FD_CLOEXEC on fd (so a spawned child inherits it) or sets it.
void set_cloexec(int fd, bool on);

}  // namespace ipcmatrix::sys
