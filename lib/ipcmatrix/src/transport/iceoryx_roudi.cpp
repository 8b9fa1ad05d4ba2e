// RouDi's life cycle as ipc-matrix owns it (iceoryx_roudi.hpp has the contract).
//
// Steps of start():
//   1. flock(kLockPath, LOCK_EX | LOCK_NB); a held lock means another ipc-matrix process owns
//      the daemon: give up at once. Having locked, check that the path still names the file
//      locked (its last owner may have unlinked it between our open and our flock).
//   2. foreign_roudi(): a RouDi we did not start, or its names, means give up (and let go).
//   3. mkdtemp a 0700 directory, write roudi.toml into it, spawn iox-roudi with its log there.
//   4. Poll the log for RouDi's "ready" line, bounded, watching for the daemon's early exit.
// stop(): SIGTERM, wait, SIGKILL; remove what a killed daemon leaves; the directory; the lock.
#include "ipcmatrix/transport/iceoryx_roudi.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"

namespace ipcmatrix::iceoryx {
namespace {

constexpr std::string_view kComponent = "iceoryx";
constexpr std::string_view kReadyLine = "RouDi is ready for clients";
constexpr std::uint64_t kKiB = 1024;
/// RouDi's other fixed names in /tmp (iceoryx 2.0: IOX_UDS_SOCKET_PATH_PREFIX, ROUDI_LOCK_NAME).
constexpr const char* kRoudiSocketLock = "/tmp/roudi.lock";
constexpr const char* kUniqueLock = "/tmp/iox-unique-roudi.lock";
/// A little more than RouDi's keep-alive timeout (PROCESS_KEEP_ALIVE_TIMEOUT, 1.5 s).
constexpr std::chrono::milliseconds kMonitorGrace{2000};

bool exists(const std::string& path) noexcept {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

/// /dev/shm/<user>: RouDi's data segment is named after the user it runs as.
std::string user_segment() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw != nullptr ? std::string("/dev/shm/") + pw->pw_name : std::string();
}

/// Pids of processes named iox-roudi (comm), other than `except`.
std::vector<int> roudi_processes(int except) {
  std::vector<int> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || pid == except) continue;
    std::ifstream comm(std::string("/proc/") + e->d_name + "/comm");
    std::string name;
    if (std::getline(comm, name) && name == "iox-roudi") out.push_back(static_cast<int>(pid));
  }
  ::closedir(d);
  return out;
}

/// The sockets (and their .lock files) of this tool's runtimes whose process is gone: a process
/// that ended without unregistering from RouDi (a forked child's _exit, a kill).
std::vector<std::string> stale_runtime_files() {
  std::vector<std::string> stale;
  DIR* d = ::opendir("/tmp");
  if (d == nullptr) return stale;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view n(e->d_name);
    if (n.substr(0, kRuntimePrefix.size()) != kRuntimePrefix) continue;
    const long pid = std::strtol(e->d_name + kRuntimePrefix.size(), nullptr, 10);
    struct stat st {};
    const std::string path = std::string("/tmp/") + e->d_name;
    // A runtime's socket and its "<name>.lock" file beside it.
    const bool lock_file = n.size() > 5 && n.substr(n.size() - 5) == ".lock";
    if (::lstat(path.c_str(), &st) != 0 || st.st_uid != ::geteuid() ||
        !(S_ISSOCK(st.st_mode) || (lock_file && S_ISREG(st.st_mode))))
      continue;
    if (pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) continue;  // still running
    stale.push_back(path);
  }
  ::closedir(d);
  return stale;
}

/// Removes what a RouDi killed before its own clean-up left, and stale_runtime_files(). Only
/// called by the owner of the lock after its daemon ended.
void remove_leftovers() noexcept {
  try {
    for (const std::string& p : {std::string(kMgmtSegment), user_segment(), std::string(kRoudiSocket),
                                 std::string(kRoudiSocketLock), std::string(kUniqueLock)})
      if (!p.empty()) ::unlink(p.c_str());
    for (const auto& p : stale_runtime_files()) ::unlink(p.c_str());
  } catch (...) {
    // Out of memory while naming files: what is left is left.
  }
}

/// The exclusive lock on kLockPath, unlinked when let go.
class OwnerLock {
 public:
  /// Locked, or invalid with *why set.
  static OwnerLock take(std::string* why) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      sys::Fd fd(::open(kLockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
      if (!fd.valid()) {
        *why = std::string("cannot open the lock ") + kLockPath + ": " + std::strerror(errno);
        return {};
      }
      if (sys::retry_eintr([&] { return ::flock(fd.get(), LOCK_EX | LOCK_NB); }) != 0) {
        *why = std::string("another ipc-matrix process owns the iceoryx daemon (") + kLockPath + " is locked)";
        return {};
      }
      struct stat a {
      }, b{};
      if (::fstat(fd.get(), &a) == 0 && ::stat(kLockPath, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
        OwnerLock l;
        l.fd_ = std::move(fd);
        return l;
      }
      // Its owner unlinked the file we opened after we opened it: lock the new one.
    }
    *why = std::string("the lock ") + kLockPath + " keeps being replaced";
    return {};
  }
  [[nodiscard]] bool held() const noexcept { return fd_.valid(); }
  void release() noexcept {
    if (!fd_.valid()) return;
    ::unlink(kLockPath);  // while still locked: a waiter re-checks the path after locking
    fd_.reset();
  }

 private:
  sys::Fd fd_;
};

std::string log_tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > 600) s = s.substr(s.size() - 600);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool log_says_ready(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.find(kReadyLine) != std::string::npos) return true;
  return false;
}

}  // namespace

struct Roudi::State {
  RoudiConfig config;
  OwnerLock lock;
  std::string dir;
  sys::Child child;
  double startup_ms = 0;
  std::mutex mu;  // stop() against abort_owned_roudi()
  bool stopped = false;

  void stop_locked(std::chrono::milliseconds term_timeout) noexcept {
    if (stopped) return;
    stopped = true;
    if (child.running()) {
      // RouDi's shutdown sends SIGTERM to every process still registered, and aborts (leaving
      // its names) when one is already gone. A client that ended without unregistering is
      // dropped by RouDi's keep-alive check within 1.5 s: give it that first.
      try {
        if (!stale_runtime_files().empty()) std::this_thread::sleep_for(kMonitorGrace);
      } catch (...) {
      }
      child.kill(SIGTERM);
      if (!child.wait_for(term_timeout)) child.kill_and_reap();
    }
    (void)child.kill_and_reap();
    // RouDi removes its names when SIGTERM lets it; after a SIGKILL (ours, the interrupt
    // watch's, anyone's) they are left, and ours to remove.
    remove_leftovers();
    if (!dir.empty()) {
      sys::remove_quietly(dir + "/roudi.toml", "");
      sys::remove_quietly(dir + "/roudi.log", dir);
    }
    lock.release();
  }
};

namespace {
std::atomic<Roudi::State*> g_owned{nullptr};
}

std::uint64_t RoudiConfig::bytes() const noexcept {
  std::uint64_t b = 0;
  for (const auto& p : pools) b += p.payload_bytes * p.count;
  return b;
}

std::uint64_t RoudiConfig::pool_size_for(std::uint64_t n) noexcept {
  return std::max<std::uint64_t>(1, (n + kKiB - 1) / kKiB) * kKiB;
}

void RoudiConfig::add_cell(std::uint64_t largest_message_bytes, std::size_t channels) {
  const std::uint64_t size = pool_size_for(largest_message_bytes);
  const std::uint64_t count = std::max<std::size_t>(channels, 1) * kChunksPerChannel;
  auto it = std::find_if(pools.begin(), pools.end(), [&](const Mempool& p) { return p.payload_bytes >= size; });
  if (it == pools.end() || it->payload_bytes != size) it = pools.insert(it, Mempool{size, 0});
  const std::uint64_t busiest = std::max(
      count, std::max_element(pools.begin(), pools.end(), [](auto& a, auto& b) { return a.count < b.count; })->count);
  for (auto& p : pools) p.count = busiest;
}

RoudiConfig default_config() {
  RoudiConfig c;
  c.pools = {{kKiB, 512},
             {16 * kKiB, 128},
             {128 * kKiB, 64},
             {RoudiConfig::pool_size_for((1u << 20) + 64), 40},
             {RoudiConfig::pool_size_for(kMaxMessageBytes), 6}};
  return c;
}

std::string to_toml(const RoudiConfig& c) {
  std::string s = "# generated by ipc-matrix for its own iox-roudi\n[general]\nversion = 1\n\n[[segment]]\n";
  for (const auto& p : c.pools)
    s += "\n[[segment.mempool]]\nsize = " + std::to_string(p.payload_bytes) + "\ncount = " + std::to_string(p.count) +
         "\n";
  return s;
}

std::string foreign_roudi() {
  std::vector<std::string> seen;
  const std::vector<int> procs = roudi_processes(-1);
  if (!procs.empty()) seen.push_back("a process named iox-roudi runs (pid " + std::to_string(procs.front()) + ")");
  for (const char* p : {kMgmtSegment, kRoudiSocket})
    if (exists(p)) seen.push_back(std::string(p) + " exists");
  std::string out;
  for (const auto& s : seen) out += (out.empty() ? "" : ", ") + s;
  if (!out.empty() && procs.empty())
    out +=
        "; no iox-roudi process runs, so these may be left by a RouDi that was killed: once sure, remove "
        "/dev/shm/iceoryx_mgmt, /dev/shm/<user>, /tmp/roudi, /tmp/roudi.lock and /tmp/iox-unique-roudi.lock";
  return out;
}

bool is_roudi_segment(const std::string& path) { return path == kMgmtSegment || path == user_segment(); }

bool roudi_reachable() noexcept { return exists(kRoudiSocket); }

std::unique_ptr<Roudi> Roudi::start(const RoudiConfig& config, std::string* why,
                                    std::chrono::milliseconds ready_timeout) {
  std::string dummy;
  if (why == nullptr) why = &dummy;
  if (::access(kRoudiProgram, X_OK) != 0) {
    *why = std::string(kRoudiProgram) + " is not installed (Debian package iceoryx)";
    return nullptr;
  }
  auto s = std::make_unique<State>();
  s->config = config;
  s->lock = OwnerLock::take(why);
  if (!s->lock.held()) return nullptr;
  if (std::string foreign = foreign_roudi(); !foreign.empty()) {
    *why = "a RouDi that ipc-matrix did not start is running or left its names (" + foreign + "); it is left alone";
    s->lock.release();
    return nullptr;
  }
  std::string tmpl = "/tmp/ipc-matrix-roudi-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    s->lock.release();
    throw Error(std::error_code(errno, std::generic_category()), kComponent, tmpl, "mkdtemp");
  }
  s->dir = tmpl;
  const std::string cfg = s->dir + "/roudi.toml", log = s->dir + "/roudi.log";
  try {
    {
      std::ofstream out(cfg);
      out << to_toml(config);
      if (!out) throw Error(kComponent, cfg, "cannot write RouDi's config");
    }
    const sys::Fd log_fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    sys::check_errno(log_fd.get(), "open", kComponent, log);
    const std::int64_t t0 = sys::monotonic_ns();
    s->child = sys::spawn_program(kRoudiProgram, {"-c", cfg, "-l", "warning", "-m", "on"}, log_fd.get(), SIGTERM);
    const std::int64_t deadline = t0 + std::chrono::nanoseconds(ready_timeout).count();
    auto nap = std::chrono::microseconds(200);
    while (!log_says_ready(log)) {
      if (s->child.poll()) throw Error(kComponent, kRoudiProgram, "RouDi exited before it was ready: " + log_tail(log));
      if (sys::monotonic_ns() > deadline)
        throw Error(kComponent, kRoudiProgram,
                    "RouDi was not ready within " + std::to_string(ready_timeout.count()) + " ms: " + log_tail(log));
      std::this_thread::sleep_for(nap);
      nap = std::min(nap * 2, std::chrono::microseconds(10'000));
    }
    s->startup_ms = static_cast<double>(sys::monotonic_ns() - t0) / 1e6;
  } catch (...) {
    s->stop_locked(std::chrono::milliseconds(2000));
    throw;
  }
  g_owned.store(s.get());
  return std::unique_ptr<Roudi>(new Roudi(std::move(s)));
}

Roudi::Roudi(std::unique_ptr<State> s) noexcept : s_(std::move(s)) {}

Roudi::~Roudi() {
  stop();
  g_owned.store(nullptr);
}

void Roudi::stop() noexcept {
  const std::lock_guard l(s_->mu);
  s_->stop_locked(kStopTimeout);
}

int Roudi::pid() const noexcept { return s_->child.pid(); }
double Roudi::startup_ms() const noexcept { return s_->startup_ms; }
const RoudiConfig& Roudi::config() const noexcept { return s_->config; }

void abort_owned_roudi() noexcept {
  Roudi::State* s = g_owned.load();
  if (s == nullptr) return;
  // A stop() in progress on the main thread finishes first; a second signal should not wait
  // for long, so try the lock briefly.
  std::unique_lock l(s->mu, std::defer_lock);
  for (int i = 0; i < 200 && !l.try_lock(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (l.owns_lock()) s->stop_locked(std::chrono::milliseconds(2000));
}

}  // namespace ipcmatrix::iceoryx
