#include "ipcmatrix/sys/posix.hpp"

#include <sys/mman.h>
#include <sys/statvfs.h>

#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "ipcmatrix/error.hpp"

namespace ipcmatrix::sys {

void Fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);  // close() is not retried on EINTR: on Linux the fd is gone.
  fd_ = fd;
}

int check_errno(int rc, std::string_view call, std::string_view component,
                std::string_view object) {
  if (rc == -1) {
    const int e = errno;
    throw Error(std::error_code(e, std::generic_category()), component, object,
                std::string(call) + " failed: " + std::generic_category().message(e));
  }
  return rc;
}

std::string random_id() {
  unsigned char bytes[8];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    check_errno(static_cast<int>(n < 0 ? -1 : 0), "getrandom", "sys");
    got += static_cast<std::size_t>(n);
  }
  char out[17];
  for (std::size_t i = 0; i < sizeof bytes; ++i) std::snprintf(out + 2 * i, 3, "%02x", bytes[i]);
  return std::string(out, 16);
}

void ignore_sigpipe() noexcept { ::signal(SIGPIPE, SIG_IGN); }

bool ProcessWatch::watch(int pid) noexcept {
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) {
    gone_ = (errno == ESRCH);
    return !gone_;
  }
  fd_.reset(static_cast<int>(fd));
  return true;
}

bool ProcessWatch::exited() noexcept {
  if (gone_) return true;
  if (!fd_.valid()) return false;
  pollfd p{fd_.get(), POLLIN, 0};
  if (retry_eintr([&] { return ::poll(&p, 1, 0); }) > 0) gone_ = true;
  return gone_;
}

int futex_wait(const void* addr, std::uint32_t expected, std::int64_t timeout_ns) noexcept {
  timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000),
              static_cast<long>(timeout_ns % 1'000'000'000)};
  // FUTEX_WAIT (not _PRIVATE): the word lives in shared memory mapped by several processes.
  const long rc = ::syscall(SYS_futex, addr, FUTEX_WAIT, expected, &ts, nullptr, 0);
  if (rc == 0) return 0;
  return errno == EAGAIN ? 0 : errno;
}

void futex_wake(const void* addr, int n) noexcept {
  ::syscall(SYS_futex, addr, FUTEX_WAKE, n, nullptr, nullptr, 0);
}

std::optional<unsigned long long> read_number_file(const char* path) noexcept {
  std::FILE* f = std::fopen(path, "r");
  if (!f) return std::nullopt;
  unsigned long long v = 0;
  const bool ok = std::fscanf(f, "%llu", &v) == 1;
  std::fclose(f);
  return ok ? std::optional(v) : std::nullopt;
}

Fd make_eventfd() {
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) throw Error(std::error_code(errno, std::generic_category()), "eventfd", "", "eventfd()");
  return Fd(fd);
}

void eventfd_signal(int fd) noexcept {
  const std::uint64_t one = 1;
  // EINTR cannot happen on a non-blocking fd; EAGAIN only at a count of 2^64-2.
  [[maybe_unused]] const ssize_t n = ::write(fd, &one, sizeof one);
}

void eventfd_drain(int fd) noexcept {
  std::uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(fd, &count, sizeof count);
}

bool eventfd_wait(int fd, std::int64_t timeout_ns) noexcept {
  pollfd p{fd, POLLIN, 0};
  const timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
  if (::ppoll(&p, 1, &ts, nullptr) <= 0) return false;  // timeout or EINTR: the caller looks again
  std::uint64_t count = 0;
  return ::read(fd, &count, sizeof count) == static_cast<ssize_t>(sizeof count);
}

}  // namespace ipcmatrix::sys

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdlib>

namespace ipcmatrix::sys {

bool wait_readable(int fd, std::int64_t timeout_ms) noexcept {
  const std::int64_t deadline = monotonic_ns() + timeout_ms * 1'000'000;
  while (true) {
    const std::int64_t left_ms = (deadline - monotonic_ns()) / 1'000'000;
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left_ms, 0)));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return true;  // let the following read/accept report the error
  }
}

void make_private_dir(const std::string& path) {
  check_errno(::mkdir(path.c_str(), 0700), "mkdir", "dir", path);
}

void remove_quietly(const std::string& file, const std::string& dir) noexcept {
  if (!file.empty()) ::unlink(file.c_str());
  if (!dir.empty()) ::rmdir(dir.c_str());
}

std::string temp_dir() {
  const char* t = std::getenv("TMPDIR");
  return (t && *t) ? t : "/tmp";
}

std::size_t set_pipe_size(int fd, std::size_t bytes) {
  const int rc = check_errno(::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(bytes)),
                             "fcntl(F_SETPIPE_SZ)", "pipe");
  return static_cast<std::size_t>(rc);
}

void make_pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  check_errno(::pipe2(fds, O_CLOEXEC), "pipe2", "pipe");
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
}

}  // namespace ipcmatrix::sys

#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cinttypes>

namespace ipcmatrix::sys {

void write_all(int fd, const void* data, std::size_t n, std::string_view what) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == ENOTSOCK) {
      const ssize_t w2 = retry_eintr([&] { return ::write(fd, p, n); });
      check_errno(w2 < 0 ? -1 : 0, "write", "control", what);
      p += w2;
      n -= static_cast<std::size_t>(w2);
      continue;
    }
    check_errno(w < 0 ? -1 : 0, "send", "control", what);
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

bool read_exact(int fd, void* data, std::size_t n, std::int64_t timeout_ms, std::string_view what) {
  auto* p = static_cast<char*>(data);
  std::size_t got = 0;
  const std::int64_t deadline = monotonic_ns() + timeout_ms * 1'000'000;
  while (got < n) {
    const std::int64_t left_ms = (deadline - monotonic_ns()) / 1'000'000;
    if (left_ms <= 0 || !wait_readable(fd, left_ms)) {
      if (got == 0) return false;
      throw Error(std::make_error_code(std::errc::timed_out), "control", what, "record cut short");
    }
    const ssize_t r = retry_eintr([&] { return ::read(fd, p + got, n - got); });
    check_errno(r < 0 ? -1 : 0, "read", "control", what);
    if (r == 0) {
      if (got == 0) return false;
      throw Error(std::make_error_code(std::errc::connection_aborted), "control", what,
                  "peer closed mid-record");
    }
    got += static_cast<std::size_t>(r);
  }
  return true;
}

long send_with_fds(int sock, const void* data, std::size_t n, std::span<const int> fds) noexcept {
  if (fds.empty() || fds.size() > kMaxPassedFds) {
    errno = EINVAL;
    return -1;
  }
  iovec iov{const_cast<void*>(data), n};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
  mh.msg_control = ctl;
  mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  return retry_eintr([&] { return ::sendmsg(sock, &mh, MSG_NOSIGNAL); });
}

long send_with_fd(int sock, const void* data, std::size_t n, int fd) noexcept {
  return send_with_fds(sock, data, n, std::span<const int>(&fd, 1));
}

long recv_with_fd(int sock, void* data, std::size_t n, Fd& fd, int flags) noexcept {
  fd.reset();
  iovec iov{data, n};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(4 * sizeof(int))] = {};
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof ctl;
  const long got = retry_eintr([&] { return ::recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC); });
  if (got < 0) return got;
  (void)take_passed_fds(mh, fd);
  if ((mh.msg_flags & MSG_CTRUNC) != 0) fd.reset();
  return got;
}

std::size_t take_passed_fds(msghdr& mh, std::span<int> keep) noexcept {
  std::size_t passed = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t k = 0; k < count; ++k, ++passed) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
      if (passed < keep.size()) {
        keep[passed] = fd;
      } else {
        ::close(fd);
      }
    }
  }
  return passed;
}

std::size_t take_passed_fds(msghdr& mh, Fd& first) noexcept {
  int fd = -1;
  const std::size_t passed = take_passed_fds(mh, std::span<int>(&fd, 1));
  if (passed > 0) first.reset(fd);
  return passed;
}

void make_socketpair(Fd& a, Fd& b, int type) {
  int fds[2];
  check_errno(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds), "socketpair", "control");
  a.reset(fds[0]);
  b.reset(fds[1]);
}

Usage self_usage() noexcept {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  Usage u;
  u.user_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  u.sys_s = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  u.voluntary_ctx = ru.ru_nvcsw;
  u.involuntary_ctx = ru.ru_nivcsw;
  return u;
}

std::int64_t peak_rss_kb() noexcept {
  std::FILE* f = std::fopen("/proc/self/status", "re");
  if (!f) return 0;
  std::int64_t kb = 0;
  char line[256];
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmHWM: %" SCNd64, &kb) == 1) break;
  std::fclose(f);
  return kb;
}

bool populate_for_write(void* p, std::size_t n) noexcept {
#ifndef MADV_POPULATE_WRITE
  constexpr int MADV_POPULATE_WRITE = 23;  // linux/mman.h since 5.14; Debian 12's glibc lacks it
#endif
  if (p == nullptr || n == 0) return true;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(p) & ~(page - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(p) + n;
  return ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE) == 0;
}

int open_fd_count() noexcept {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;  // the DIR's own fd
}

SharedAnonymous::SharedAnonymous(std::size_t bytes) : n_(bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  check_errno(p == MAP_FAILED ? -1 : 0, "mmap", "shared anonymous memory");
  p_ = p;
}

SharedAnonymous::~SharedAnonymous() {
  if (p_ != nullptr) ::munmap(p_, n_);
}

std::uint64_t free_bytes(const char* path) noexcept {
  struct statvfs st {};
  if (::statvfs(path, &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

namespace {
std::string mib(std::uint64_t bytes) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}
}  // namespace

void require_shm_space(std::size_t bytes, std::string_view component, std::string_view object) {
  struct statvfs st {};
  // Unknown, or a tmpfs mounted without a size limit (it reports 0 blocks): nothing to check.
  if (::statvfs(kShmDir, &st) != 0 || st.f_blocks == 0) return;
  const std::uint64_t free = free_bytes(kShmDir);
  if (free < bytes) {
    throw Error(std::make_error_code(std::errc::no_space_on_device), component, object,
                "needs " + std::to_string(bytes) + " bytes (" + mib(bytes) + ") of shared memory, " + kShmDir +
                    " has " + std::to_string(free) + " bytes (" + mib(free) + ") free");
  }
}

void reserve_shared_memory(int fd, std::size_t bytes, std::string_view component, std::string_view object) {
  require_shm_space(bytes, component, object);
  int rc = 0;
  do rc = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  while (rc == EINTR);
  if (rc != 0) {
    const std::uint64_t free = free_bytes(kShmDir);
    throw Error(std::error_code(rc, std::generic_category()), component, object,
                "cannot reserve " + std::to_string(bytes) + " bytes (" + mib(bytes) + ") of shared memory: " +
                    std::generic_category().message(rc) + "; " + kShmDir + " has " + std::to_string(free) +
                    " bytes (" + mib(free) + ") free");
  }
}

void sleep_for_ns(std::int64_t ns) noexcept {
  if (ns <= 0) return;
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  timespec left{};
  while (::clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &left) == EINTR) ts = left;
}

}  // namespace ipcmatrix::sys

