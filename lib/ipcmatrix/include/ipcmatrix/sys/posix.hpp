#pragma once
/// @file posix.hpp
/// The only door to raw POSIX for the rest of the library: an owning fd, the errno +
/// EINTR wrapper, the monotonic clock, random run ids and process liveness checks.
/// Implemented in src/sys/linux/.

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <span>
#include <ctime>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace ipcmatrix::sys {

/// Owns one file descriptor; closes it on destruction. Move-only.
class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

/// Throws ipcmatrix::Error(errno, component, object, call) when rc == -1.
/// Use with retry_eintr for calls that may be interrupted.
int check_errno(int rc, std::string_view call, std::string_view component,
                std::string_view object = {});

/// Calls f() until it does not fail with EINTR (at most kEintrRetries times, then
/// returns the last result with errno == EINTR).
inline constexpr int kEintrRetries = 1000;
template <class F>
auto retry_eintr(F&& f) noexcept -> decltype(f()) {
  decltype(f()) rc{};
  for (int i = 0; i < kEintrRetries; ++i) {
    rc = f();
    if (!(rc == -1 && errno == EINTR)) break;
  }
  return rc;
}

/// CLOCK_MONOTONIC in nanoseconds: one clock shared by every process on the host,
/// so a timestamp taken by a sender can be compared with one taken by a receiver.
[[nodiscard]] inline std::int64_t monotonic_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// 16 lowercase hex characters from getrandom(): unpredictable names for segments,
/// sockets and directories (a pid alone is predictable and reused).
[[nodiscard]] std::string random_id();

/// Process ignores SIGPIPE from now on, so a write to a dead peer returns EPIPE instead
/// of killing the process. Idempotent.
void ignore_sigpipe() noexcept;

/// Watches one process for exit through a pidfd (a zombie counts as gone, unlike kill(pid, 0)).
/// A pid is reused only after the parent reaps it; our peers are reaped by the coordinator
/// after they are watched, so the window is the time between reap and pidfd_open.
class ProcessWatch {
 public:
  ProcessWatch() = default;
  /// Starts watching pid. Returns false when the pid does not exist (already gone).
  bool watch(int pid) noexcept;
  [[nodiscard]] bool watching() const noexcept { return fd_.valid() || gone_; }
  /// true once the watched process has exited. Costs one poll() syscall.
  [[nodiscard]] bool exited() noexcept;

 private:
  Fd fd_;
  bool gone_ = false;
};

/// Pause hint for spin loops (x86 `pause`, Arm `yield`): lowers power and the
/// memory-order-violation penalty when the awaited line finally changes.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

/// Asks for a cache line in a writable state ahead of a store. GCC turns
/// __builtin_prefetch(p, 1) into a plain read prefetch unless built for PRFCHW, and a
/// line fetched shared still needs an invalidation round trip at the store. PREFETCHW
/// (0F 0D /1) is a no-op on x86-64 CPUs that predate it, so it is safe everywhere.
inline void prefetch_for_write(const void* p) noexcept {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 1);
#endif
}

/// Shared (cross-process) futex on a 32-bit word: waits while *addr == expected, at most
/// timeout_ns. Returns 0 when woken or the value differed, ETIMEDOUT, or EINTR.
int futex_wait(const void* addr, std::uint32_t expected, std::int64_t timeout_ns) noexcept;
/// Wakes up to n waiters on addr.
void futex_wake(const void* addr, int n) noexcept;

/// The unsigned number a /proc (or /sys) file starts with, such as a sysctl's value; nullopt
/// when the file cannot be opened or does not start with one.
[[nodiscard]] std::optional<unsigned long long> read_number_file(const char* path) noexcept;

/// A non-blocking, close-on-exec eventfd with count 0 (shm's --wait eventfd); throws Error.
[[nodiscard]] Fd make_eventfd();
/// Adds 1 to an eventfd's count: it becomes readable. Never blocks (the count cannot
/// reach its 2^64-2 limit: every wait drains it).
void eventfd_signal(int fd) noexcept;
/// Waits at most timeout_ns for the eventfd to become readable, then reads its count back
/// to 0 (EAGAIN: it was not signalled). Returns true when it had been signalled.
bool eventfd_wait(int fd, std::int64_t timeout_ns) noexcept;
/// Reads the count back to 0 without waiting.
void eventfd_drain(int fd) noexcept;

}  // namespace ipcmatrix::sys

namespace ipcmatrix::sys {
/// Waits until fd is readable (or hung up) for at most timeout_ms. Returns true when
/// readable, false on timeout. Retries EINTR against the same deadline.
[[nodiscard]] bool wait_readable(int fd, std::int64_t timeout_ms) noexcept;
/// Creates a directory with mode 0700 that must not exist yet; throws Error.
void make_private_dir(const std::string& path);
/// Removes a file and then an (empty) directory, ignoring ENOENT. Never throws.
void remove_quietly(const std::string& file, const std::string& dir) noexcept;
/// $TMPDIR or /tmp.
[[nodiscard]] std::string temp_dir();
/// F_SETPIPE_SZ; returns the size the kernel granted. Throws Error.
std::size_t set_pipe_size(int fd, std::size_t bytes);
/// pipe2(O_CLOEXEC); [0] read end, [1] write end. Throws Error.
void make_pipe(Fd& read_end, Fd& write_end);
}  // namespace ipcmatrix::sys

namespace ipcmatrix::sys {
/// Writes all of data to fd (retries partial writes and EINTR). Throws Error.
void write_all(int fd, const void* data, std::size_t n, std::string_view what);
/// Reads exactly n bytes within timeout_ms. Returns false on EOF before any byte or on
/// timeout; throws Error on I/O errors or EOF mid-record.
[[nodiscard]] bool read_exact(int fd, void* data, std::size_t n, std::int64_t timeout_ms,
                              std::string_view what);
/// socketpair(AF_UNIX, type | SOCK_CLOEXEC). Throws Error.
void make_socketpair(Fd& a, Fd& b, int type = SOCK_STREAM);
/// Most fds one message passes through send_with_fds() (the kernel's SCM_MAX_FD is 253).
inline constexpr std::size_t kMaxPassedFds = 64;
/// One sendmsg of n bytes passing `fds` (SCM_RIGHTS, 1 to kMaxPassedFds: others fail with
/// EINVAL) on a Unix socket, MSG_NOSIGNAL, retried on EINTR. Returns the bytes sent, or -1
/// with errno set.
[[nodiscard]] long send_with_fds(int sock, const void* data, std::size_t n,
                                 std::span<const int> fds) noexcept;
/// send_with_fds() with one fd.
[[nodiscard]] long send_with_fd(int sock, const void* data, std::size_t n, int fd) noexcept;
/// One recvmsg of up to n bytes (flags | MSG_CMSG_CLOEXEC, retried on EINTR); the first fd
/// passed with it goes into `fd` (any others are closed; `fd` is reset when none came or the
/// control data was truncated). Returns the bytes received, or -1 with errno set.
[[nodiscard]] long recv_with_fd(int sock, void* data, std::size_t n, Fd& fd, int flags) noexcept;
/// The fds a received message passed (SCM_RIGHTS in mh's control data): the first
/// keep.size() of them go into `keep`, in order, every other is closed. Returns how many were
/// passed (more than keep.size() when some were closed).
std::size_t take_passed_fds(msghdr& mh, std::span<int> keep) noexcept;
/// take_passed_fds() keeping the first in `first` (reset to it when one came).
std::size_t take_passed_fds(msghdr& mh, Fd& first) noexcept;
/// CPU time and context switches of this process (all threads), from getrusage.
struct Usage {
  double user_s = 0, sys_s = 0;
  std::int64_t voluntary_ctx = 0, involuntary_ctx = 0;
  /// Left 0 by self_usage(): getrusage's ru_maxrss counts the parent's memory carried
  /// across exec. A worker sets it from peak_rss_kb().
  std::int64_t max_rss_kb = 0;
};
[[nodiscard]] Usage self_usage() noexcept;
/// Peak resident set of this process image since its exec, KiB (VmHWM of /proc/self/status);
/// 0 when unreadable. Not getrusage's ru_maxrss: Linux carries that across exec from the
/// forked copy of the parent, so a worker reported the coordinator's footprint as its own.
[[nodiscard]] std::int64_t peak_rss_kb() noexcept;
/// Maps the pages of [p, p + n) for writing in one call (MADV_POPULATE_WRITE) instead of a
/// page fault per 4 KiB page at first touch: 28 ms against 48 ms for a 16 MiB message pool
/// on this VM, where each fault traps to the hypervisor. A hint: where the kernel lacks it
/// (before 5.14) the pages fault in as before, and it returns false.
bool populate_for_write(void* p, std::size_t n) noexcept;
/// Anonymous shared memory that forked children share with their parent (MAP_SHARED |
/// MAP_ANONYMOUS): for measurements between related processes that need no name.
/// Move-only; unmapped on destruction. The constructor throws Error.
class SharedAnonymous {
 public:
  explicit SharedAnonymous(std::size_t bytes);
  SharedAnonymous(SharedAnonymous&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(o.n_) {}
  SharedAnonymous& operator=(SharedAnonymous&&) = delete;
  SharedAnonymous(const SharedAnonymous&) = delete;
  ~SharedAnonymous();
  [[nodiscard]] void* get() const noexcept { return p_; }

 private:
  void* p_ = nullptr;
  std::size_t n_ = 0;
};

/// Bytes available to unprivileged users in the filesystem of `path` (statvfs), 0 if unknown.
[[nodiscard]] std::uint64_t free_bytes(const char* path) noexcept;
/// Where POSIX shared memory lives on Linux.
inline constexpr const char* kShmDir = "/dev/shm";
/// Reserves the first `bytes` of a shared-memory object (posix_fallocate on its fd), so a full
/// /dev/shm is an Error naming the size and the free space now, instead of a SIGBUS later in
/// whichever process first touches a page that tmpfs cannot supply.
void reserve_shared_memory(int fd, std::size_t bytes, std::string_view component, std::string_view object);
/// Throws Error naming the size and the free space when /dev/shm cannot hold `bytes` more.
void require_shm_space(std::size_t bytes, std::string_view component, std::string_view object);
/// Open fds of this process (entries in /proc/self/fd), -1 if unreadable.
[[nodiscard]] int open_fd_count() noexcept;
/// Sleeps for ns nanoseconds (relative; resumes after signals until the time is up).
void sleep_for_ns(std::int64_t ns) noexcept;
}  // namespace ipcmatrix::sys

