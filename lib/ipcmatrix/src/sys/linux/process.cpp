#include "ipcmatrix/sys/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <vector>
#include <thread>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/posix.hpp"

namespace ipcmatrix::sys {

namespace {

// Every child not yet reaped, for signal_children(). Reaping happens under the same mutex
// (reap_locked), so a pid is never signalled after waitpid() released it for reuse.
std::mutex g_children_mu;
std::vector<int> g_children;

void track(int pid) {
  if (pid <= 0) return;
  const std::lock_guard lock(g_children_mu);
  g_children.push_back(pid);
}

/// waitpid() and forgetting the pid, as one step under the registry's lock.
int reap_locked(int pid, int* raw, int flags) noexcept {
  const std::lock_guard lock(g_children_mu);
  const int rc = retry_eintr([&] { return ::waitpid(pid, raw, flags); });
  if (rc == pid || (rc < 0 && errno == ECHILD)) std::erase(g_children, pid);
  return rc;
}

/// In a child between fork and exec (async-signal-safe calls only): signals the parent
/// blocked for its InterruptWatch are unblocked, or the child could not be stopped by them,
/// and the stopping signals take their default action again (a parent's handler, such as a
/// test framework's, must not run in a child that is about to exec).
void reset_signals_in_child() noexcept {
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_DFL);
}
void unblock_signals_in_child() noexcept {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

/// Every signal blocked in the parent across fork(), so none can reach the child before it has
/// reset its dispositions (reset_signals_in_child); the parent's mask is restored after.
class SignalsBlockedAcrossFork {
 public:
  SignalsBlockedAcrossFork() noexcept {
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old_);
  }
  ~SignalsBlockedAcrossFork() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  SignalsBlockedAcrossFork(const SignalsBlockedAcrossFork&) = delete;
  SignalsBlockedAcrossFork& operator=(const SignalsBlockedAcrossFork&) = delete;

 private:
  sigset_t old_{};
};

/// fork() with every signal blocked across it; the child resets the stopping signals'
/// dispositions and clears its mask before it returns. Buffered output is flushed first (or it
/// would be written twice). Throws Error naming `what` when fork fails.
pid_t fork_reset(std::string_view what) {
  std::fflush(nullptr);
  pid_t pid = -1;
  {
    const SignalsBlockedAcrossFork blocked;
    pid = ::fork();
    if (pid == 0) reset_signals_in_child();
  }
  if (pid == 0) unblock_signals_in_child();
  check_errno(pid < 0 ? -1 : 0, "fork", what);
  return pid;
}

ExitStatus decode(int raw) {
  ExitStatus s;
  if (WIFEXITED(raw)) s.code = WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) s.signal = WTERMSIG(raw);
  return s;
}
}  // namespace

std::string ExitStatus::describe() const {
  if (signal != 0) return std::string("killed by signal ") + std::to_string(signal) + " (" +
                          ::strsignal(signal) + ")";
  return "exited with code " + std::to_string(code);
}

Child::Child(int pid) noexcept : pid_(pid) {
  try {
    track(pid);
  } catch (...) {
    // Out of memory for one int: the child is still reaped, just not signalled on interrupt.
  }
}

void signal_children(int sig) noexcept {
  const std::lock_guard lock(g_children_mu);
  for (const int pid : g_children) ::kill(pid, sig);
}

Child::Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)), status_(o.status_) {}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    kill_and_reap();
    pid_ = std::exchange(o.pid_, -1);
    status_ = o.status_;
  }
  return *this;
}

Child::~Child() { kill_and_reap(); }

void Child::kill(int sig) noexcept {
  if (running()) ::kill(pid_, sig);
}

std::optional<ExitStatus> Child::poll() noexcept {
  if (pid_ <= 0 || status_) return status_;
  int raw = 0;
  const int rc = reap_locked(pid_, &raw, WNOHANG);
  if (rc == pid_) status_ = decode(raw);
  else if (rc < 0 && errno == ECHILD) status_ = ExitStatus{};  // reaped elsewhere
  return status_;
}

std::optional<ExitStatus> Child::wait_for(std::chrono::milliseconds timeout) noexcept {
  // Polling waitpid keeps this free of SIGCHLD handlers (which would be process-global);
  // the back-off caps the cost at a few hundred wake-ups per second.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto nap = std::chrono::microseconds(50);
  while (true) {
    if (auto s = poll()) return s;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(5000));
  }
}

ExitStatus Child::kill_and_reap() noexcept {
  if (pid_ <= 0) return {};
  if (!poll()) {
    ::kill(pid_, SIGKILL);
    // Wait for the exit without reaping and without the registry's lock (a child writing a
    // core dump may take a while; signal_children must not block behind it), then reap.
    siginfo_t info{};
    retry_eintr([&] { return ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT); });
    int raw = 0;
    const int rc = reap_locked(pid_, &raw, 0);
    status_ = rc == pid_ ? decode(raw) : ExitStatus{};
  }
  return *status_;
}

Child fork_child(const std::function<int()>& body) {
  const int parent = current_pid();
  const pid_t pid = fork_reset("process");
  if (pid == 0) {
    // A killed parent must not leave a spinning child (the floor's echo spins until told).
    die_with_parent(parent);
    int rc = 1;
    try {
      rc = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child %d: %s\n", ::getpid(), e.what());
    } catch (...) {
      std::fprintf(stderr, "child %d: unknown exception\n", ::getpid());
    }
    std::fflush(nullptr);
    ::_exit(rc);
  }
  return Child(pid);
}

void set_cloexec(int fd, bool on) {
  int flags = check_errno(::fcntl(fd, F_GETFD), "fcntl(F_GETFD)", "process");
  flags = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
  check_errno(::fcntl(fd, F_SETFD, flags), "fcntl(F_SETFD)", "process");
}

Child spawn_self(const std::vector<std::string>& args, std::span<const int> keep_fds) {
  // Build argv before fork: after fork only async-signal-safe calls are allowed.
  std::vector<char*> argv;
  std::string self = "/proc/self/exe";
  argv.push_back(self.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);

  // Test hook: tests prove that a bad command line spawns nothing by naming a log here.
  if (const char* log = std::getenv("IPCMATRIX_SPAWN_LOG"); log && *log) {
    if (std::FILE* f = std::fopen(log, "a")) {
      std::fprintf(f, "spawn\n");
      std::fclose(f);
    }
  }
  const pid_t pid = fork_reset("process");
  if (pid == 0) {
    // A group of its own: a Ctrl-C at the terminal reaches the coordinator alone, which ends
    // the running cell in order instead of every worker dying mid-message.
    ::setpgid(0, 0);
    for (int fd : keep_fds) {
      const int flags = ::fcntl(fd, F_GETFD);
      if (flags >= 0) ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
    ::execv(argv[0], argv.data());
    const char msg[] = "ipc-matrix: exec of worker failed\n";
    [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  return Child(pid);
}

Child spawn_program(const std::string& path, const std::vector<std::string>& args, int log_fd,
                    int parent_death_signal) {
  std::vector<std::string> copy{path};
  copy.insert(copy.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int parent = current_pid();
  const pid_t pid = fork_reset(path);
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, parent_death_signal);
    if (::getppid() != parent) ::_exit(70);  // the parent died between fork and prctl
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    if (log_fd >= 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return Child(pid);
}

void die_with_parent(int expected_parent) noexcept {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died between fork and prctl: then we were re-parented already.
  if (::getppid() != expected_parent) ::_exit(70);
}

int current_pid() noexcept { return static_cast<int>(::getpid()); }

}  // namespace ipcmatrix::sys
