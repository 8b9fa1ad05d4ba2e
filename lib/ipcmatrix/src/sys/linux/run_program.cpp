#include "ipcmatrix/sys/run_program.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string_view>
#include <system_error>
#include <thread>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/posix.hpp"

namespace ipcmatrix::sys {

namespace {

constexpr std::string_view kComponent = "program";
// How long a running child may go unchecked when it gives no other sign of life. waitpid()
// is polled rather than woken by SIGCHLD, whose handler would be process-global.
constexpr auto kMaxNap = std::chrono::milliseconds(10);

[[noreturn]] void fail(int err, const std::string& program, std::string_view what) {
  throw Error(std::error_code(err, std::generic_category()), kComponent, program, what);
}

// An fd closed on scope exit. Not sys::Fd: that lives in the ipcmatrix library, which the
// portable core this file is built into does not link.
class OwnedFd {
 public:
  OwnedFd() noexcept = default;
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd() { reset(); }
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  [[nodiscard]] int* out() noexcept { return &fd_; }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// posix_spawn's attributes and file actions, destroyed on scope exit.
struct SpawnSetup {
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};
  SpawnSetup() {
    if (const int rc = ::posix_spawnattr_init(&attr); rc != 0) fail(rc, "", "posix_spawnattr_init");
    if (const int rc = ::posix_spawn_file_actions_init(&actions); rc != 0) {
      ::posix_spawnattr_destroy(&attr);
      fail(rc, "", "posix_spawn_file_actions_init");
    }
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
  }
};

// The child, reaped on every path out of run_program: killed first when still running.
class Reaper {
 public:
  explicit Reaper(pid_t pid) noexcept : pid_(pid) {}
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;
  ~Reaper() { kill_and_reap(); }

  [[nodiscard]] bool reaped() const noexcept { return reaped_; }
  [[nodiscard]] int raw_status() const noexcept { return raw_; }
  /// Reaps the child when it has ended; true once it has been.
  bool poll() noexcept {
    if (reaped_) return true;
    const pid_t rc = retry_eintr([&] { return ::waitpid(pid_, &raw_, WNOHANG); });
    // ECHILD: someone else reaped it; its status is lost (raw_ stays as it was).
    if (rc == pid_ || (rc < 0 && errno == ECHILD)) reaped_ = true;
    return reaped_;
  }
  void kill_and_reap() noexcept {
    if (reaped_) return;
    ::kill(pid_, SIGKILL);
    retry_eintr([&] { return ::waitpid(pid_, &raw_, 0); });
    reaped_ = true;
  }

 private:
  pid_t pid_;
  int raw_ = -1;
  bool reaped_ = false;
};

}  // namespace

std::string ProgramResult::describe() const {
  switch (end) {
    case End::exited: return "exited with code " + std::to_string(exit_code);
    case End::signalled: {
      const char* name = ::sigdescr_np(signal);
      return "killed by signal " + std::to_string(signal) + " (" + (name ? name : "unknown") + ")";
    }
    case End::timed_out: return "timed out and was killed";
  }
  return "?";
}

ProgramResult run_program(const std::vector<std::string>& argv, const ProgramOptions& options) {
  if (argv.empty()) throw Error(kComponent, "", "nothing to run (empty argv)");
  const std::string& program = argv.front();
  std::vector<std::string> args = argv;  // posix_spawn takes char* const[]
  std::vector<char*> cargs;
  cargs.reserve(args.size() + 1);
  for (std::string& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);

  SpawnSetup setup;
  // These fail only for want of memory or a bad fd; say which step if they do.
  const auto must = [&program](int rc, std::string_view step) {
    if (rc != 0) fail(rc, program, step);
  };
  OwnedFd read_end, write_end;
  if (options.capture_stdout) {
    std::array<int, 2> fds{};
    // O_CLOEXEC: only the child's stdout (the dup2 below) keeps the write end past exec.
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) fail(errno, program, "pipe2");
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
    must(::posix_spawn_file_actions_adddup2(&setup.actions, write_end.get(), STDOUT_FILENO), "adddup2");
  } else {
    must(::posix_spawn_file_actions_addopen(&setup.actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0), "addopen");
  }
  must(::posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0), "addopen");
  must(::posix_spawn_file_actions_addopen(&setup.actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0), "addopen");
  // The caller may block the stopping signals (InterruptWatch) or ignore SIGPIPE; both would
  // pass through exec to the program, which expects neither.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  must(::posix_spawnattr_setsigmask(&setup.attr, &none), "setsigmask");
  must(::posix_spawnattr_setsigdefault(&setup.attr, &all), "setsigdefault");
  must(::posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF), "setflags");

  pid_t pid = -1;
  // glibc's posix_spawnp reports a failed exec (ENOENT, EACCES) here, not as exit code 127.
  if (const int rc = ::posix_spawnp(&pid, program.c_str(), &setup.actions, &setup.attr, cargs.data(), environ);
      rc != 0) {
    fail(rc, program, "cannot start");
  }
  Reaper child(pid);
  write_end.reset();  // or the pipe would never report end of file

  ProgramResult result;
  std::array<char, 16384> buf{};
  // One read of what the pipe holds; false once it reported end of file.
  const auto read_some = [&]() -> bool {
    const ssize_t n = retry_eintr([&] { return ::read(read_end.get(), buf.data(), buf.size()); });
    if (n < 0) fail(errno, program, "read of its output");
    if (n == 0) {
      read_end.reset();
      return false;
    }
    const std::size_t room = options.max_output_bytes - std::min(options.max_output_bytes, result.out.size());
    const auto got = static_cast<std::size_t>(n);
    result.out.append(buf.data(), std::min(got, room));
    if (got > room) result.out_truncated = true;
    return true;
  };
  // Whether the pipe has something to read (data or end of file) within timeout_ms.
  const auto readable = [&](int timeout_ms) -> bool {
    pollfd p{read_end.get(), POLLIN, 0};
    const int rc = ::poll(&p, 1, timeout_ms);
    if (rc < 0 && errno != EINTR) fail(errno, program, "poll of its output");
    return rc > 0;
  };

  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  auto nap = std::chrono::milliseconds(1);
  while (true) {
    if (child.poll()) {
      // What it wrote before exiting is in the pipe now; a descendant that still holds the
      // pipe open is not waited for.
      while (read_end.valid() && readable(0) && read_some()) {
      }
      break;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      child.kill_and_reap();
      result.end = ProgramResult::End::timed_out;
      result.signal = SIGKILL;
      return result;
    }
    const auto wait = std::min(left, nap);
    if (read_end.valid()) {
      if (readable(static_cast<int>(wait.count()))) {
        read_some();
        continue;  // output flowing: check again at once
      }
    } else {
      std::this_thread::sleep_for(wait);
    }
    nap = std::min(nap * 2, kMaxNap);
  }

  const int raw = child.raw_status();
  if (raw == -1) {
    // Reaped by someone else: how it ended is unknown, and exit_code -1 is never ok().
  } else if (WIFSIGNALED(raw)) {
    result.end = ProgramResult::End::signalled;
    result.signal = WTERMSIG(raw);
  } else if (WIFEXITED(raw)) {
    result.exit_code = WEXITSTATUS(raw);
  }
  return result;
}

}  // namespace ipcmatrix::sys
