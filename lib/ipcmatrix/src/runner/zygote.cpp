#include "zygote.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>

#include "ipcmatrix/error.hpp"

namespace ipcmatrix::detail {

namespace {

constexpr std::uint32_t kMagic = 0x5a79676f;  // "Zygo"
/// How long the coordinator waits for the zygote's answer; a fork takes about a millisecond.
constexpr std::int64_t kReplyTimeoutMs = 10'000;
/// How long a worker waits to be re-parented to the coordinator (its zygote-side parent
/// exits once it forked the request's last worker, a millisecond or so each); past this
/// the coordinator is no subreaper or has died.
constexpr int kReparentTries = 20'000;
constexpr useconds_t kReparentNapUs = 50;

struct Request {
  std::uint32_t magic = kMagic;
  std::uint32_t workers = 0;
  std::uint32_t count = 0;                       ///< fds passed, all workers' together
  std::uint32_t fds_of[kZygoteMaxWorkers] = {};  ///< how many of them each worker takes, in order
  std::int32_t target[kZygoteMaxFds] = {};       ///< the number each passed fd has in the coordinator
};
struct Reply {
  std::int32_t error = 0;    ///< an errno value when fewer than all were forked
  std::uint32_t forked = 0;  ///< the first `forked` workers run, with these pids
  std::int32_t pid[kZygoteMaxWorkers] = {};
};

/// One request and the fds it passed (CLOEXEC here; the worker's dup2 clears it): the bytes
/// read (0 at EOF, -1 on error) and, in `n`, how many fds arrived (all of them kept, up to
/// kZygoteMaxFds; more are closed and make n larger than the array, a request refused).
long recv_request(int sock, Request& r, int (&fds)[kZygoteMaxFds], std::size_t& n) noexcept {
  n = 0;
  iovec iov{&r, sizeof r};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kZygoteMaxFds)] = {};
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof ctl;
  const long got = sys::retry_eintr([&] { return ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC); });
  if (got <= 0) return got;
  n = sys::take_passed_fds(mh, fds);
  if ((mh.msg_flags & MSG_CTRUNC) != 0) n = kZygoteMaxFds + 1;
  return got;
}

/// In a worker: the passed fds moved to their target numbers, and nothing else of them left.
/// First every one above all the numbers involved, then each to its target, so that a passed
/// fd whose number is another's target is not overwritten before it moved.
void place_fds(const int* fds, const std::int32_t* targets, std::size_t n) noexcept {
  int base = 3;
  for (std::size_t i = 0; i < n; ++i) base = std::max({base, fds[i] + 1, targets[i] + 1});
  int high[kZygoteMaxFds];
  for (std::size_t i = 0; i < n; ++i) {
    high[i] = ::fcntl(fds[i], F_DUPFD_CLOEXEC, base);
    ::close(fds[i]);
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (high[i] < 0 || ::dup2(high[i], targets[i]) < 0) ::_exit(71);
    ::close(high[i]);
  }
}

/// In the zygote's child: forks each worker, tells the zygote their pids over `pid_w`, and
/// exits, which re-parents them to the coordinator, the nearest child subreaper. A plain
/// fork() each time, not a clone with CLONE_PARENT (one fork fewer): a raw clone leaves
/// glibc's cached thread id stale, and iceoryx's process-shared robust mutexes then fail
/// to unlock (EPERM, measured). Never returns.
[[noreturn]] void fork_workers(int sock, int pid_r, int pid_w, const int* fds, const Request& req, int coordinator,
                               int (*worker)(int, int)) {
  Reply rep;
  std::size_t first = 0;  // worker k's fds are [first, first + fds_of[k])
  for (std::uint32_t k = 0; k < req.workers; first += req.fds_of[k], ++k) {
    const pid_t w = ::fork();
    if (w < 0) {
      rep.error = errno;
      break;
    }
    if (w == 0) {
      ::close(sock);
      ::close(pid_r);
      ::close(pid_w);
      // The other workers' fds go before this one's are placed: a worker holding a peer's
      // channel end would hide that peer's death (no EOF while it lives).
      for (std::size_t i = 0; i < req.count; ++i)
        if (i < first || i >= first + req.fds_of[k]) ::close(fds[i]);
      place_fds(fds + first, req.target + first, req.fds_of[k]);
      // A group of its own, as an exec'd worker: a Ctrl-C at the terminal reaches the
      // coordinator alone.
      ::setpgid(0, 0);
      // The parent exits once all are forked; the worker asks for the coordinator's death
      // signal (worker_main) only once the coordinator is its parent.
      for (int i = 0; ::getppid() != coordinator; ++i) {
        if (i >= kReparentTries) ::_exit(70);
        ::usleep(kReparentNapUs);
      }
      const int rc = worker(req.target[first], coordinator);
      std::fflush(nullptr);
      ::_exit(rc);
    }
    rep.pid[k] = w;
    rep.forked = k + 1;
  }
  [[maybe_unused]] const auto n = ::write(pid_w, &rep, sizeof rep);
  ::_exit(0);
}

/// Whether a request's counts add up: 1..kZygoteMaxWorkers workers of at least one fd each,
/// `n` fds passed in all.
bool well_formed(const Request& req, long got, std::size_t n) noexcept {
  if (got != static_cast<long>(sizeof req) || req.magic != kMagic || n == 0 || n != req.count) return false;
  if (req.workers == 0 || req.workers > kZygoteMaxWorkers) return false;
  std::size_t sum = 0;
  for (std::uint32_t k = 0; k < req.workers; ++k) {
    if (req.fds_of[k] == 0) return false;
    sum += req.fds_of[k];
  }
  return sum == n;
}

}  // namespace

std::unique_ptr<Zygote> Zygote::start() {
  int was = 0;
  if (::prctl(PR_GET_CHILD_SUBREAPER, &was) != 0) return nullptr;
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return nullptr;
  std::unique_ptr<Zygote> z(new Zygote);
  z->was_subreaper_ = was != 0;
  try {
    sys::Fd child_end;
    // Seqpacket: a request and its fds arrive whole, or not at all.
    sys::make_socketpair(z->sock_, child_end, SOCK_SEQPACKET);
    const int keep[] = {child_end.get()};
    z->child_ = sys::spawn_self(
        {std::string(kZygoteFlag), std::to_string(child_end.get()), std::to_string(sys::current_pid())}, keep);
  } catch (const std::exception&) {
    return nullptr;  // the destructor ends the subreaper role
  }
  return z;
}

Zygote::~Zygote() {
  sock_.reset();
  if (child_.pid() > 0 && !child_.wait_for(std::chrono::milliseconds(2'000))) child_.kill_and_reap();
  if (!was_subreaper_) ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

std::vector<sys::Child> Zygote::spawn(std::span<const std::vector<int>> workers) {
  if (!alive_) throw Error(std::make_error_code(std::errc::no_such_process), "zygote", "spawn", "the zygote has gone");
  Request req;
  std::vector<int> fds;
  for (const std::vector<int>& w : workers) {
    if (w.empty() || req.workers == kZygoteMaxWorkers || fds.size() + w.size() > kZygoteMaxFds)
      throw Error("zygote", "spawn",
                  "at least 1 fd a worker, at most " + std::to_string(kZygoteMaxFds) + " fds a request");
    req.fds_of[req.workers++] = static_cast<std::uint32_t>(w.size());
    fds.insert(fds.end(), w.begin(), w.end());
  }
  if (fds.empty()) return {};
  req.count = static_cast<std::uint32_t>(fds.size());
  std::copy(fds.begin(), fds.end(), req.target);
  const auto gone = [&](std::string_view what) {
    alive_ = false;
    child_.kill_and_reap();
    return Error(std::make_error_code(std::errc::broken_pipe), "zygote", "spawn", what);
  };
  if (sys::send_with_fds(sock_.get(), &req, sizeof req, fds) != static_cast<long>(sizeof req))
    throw gone("request not sent");
  Reply rep;
  if (!sys::wait_readable(sock_.get(), kReplyTimeoutMs)) throw gone("no answer");
  if (sys::retry_eintr([&] { return ::recv(sock_.get(), &rep, sizeof rep, 0); }) != static_cast<long>(sizeof rep))
    throw gone("no answer");
  std::vector<sys::Child> out;
  for (std::uint32_t k = 0; k < std::min(rep.forked, req.workers); ++k)
    if (rep.pid[k] > 0) out.emplace_back(rep.pid[k]);
  // A repetition runs whole or not at all: those forked are killed and reaped with `out`.
  if (out.size() < req.workers)
    throw Error(std::error_code(rep.error != 0 ? rep.error : EPROTO, std::generic_category()), "zygote", "fork",
                "worker not forked");
  return out;
}

int serve_zygote(int sock, int coordinator, int (*worker)(int, int)) {
  sys::die_with_parent(coordinator);
  sys::ignore_sigpipe();
  sys::set_cloexec(sock, true);
  while (true) {
    Request req;
    int fds[kZygoteMaxFds];
    std::size_t n = 0;
    const long got = recv_request(sock, req, fds, n);
    if (got == 0) return 0;  // the coordinator closed: the run is over
    if (got < 0) return 1;
    const std::size_t kept = std::min(n, kZygoteMaxFds);
    const auto close_passed = [&] {
      for (std::size_t i = 0; i < kept; ++i) ::close(fds[i]);
    };
    Reply rep;
    int pid_pipe[2] = {-1, -1};
    if (!well_formed(req, got, n)) {
      rep.error = EPROTO;
    } else if (::pipe2(pid_pipe, O_CLOEXEC) != 0) {
      rep.error = errno;
    } else {
      std::fflush(nullptr);  // or the workers would write the zygote's buffered output again
      const pid_t a = ::fork();
      if (a == 0) fork_workers(sock, pid_pipe[0], pid_pipe[1], fds, req, coordinator, worker);
      ::close(pid_pipe[1]);
      if (a < 0) {
        rep.error = errno;
      } else {
        // One write of a few hundred bytes, under PIPE_BUF: whole or nothing.
        if (sys::retry_eintr([&] { return ::read(pid_pipe[0], &rep, sizeof rep); }) != static_cast<long>(sizeof rep))
          rep = Reply{EPROTO, 0, {}};
        // Reaped before the answer: by then the workers are the coordinator's children.
        int raw = 0;
        sys::retry_eintr([&] { return ::waitpid(a, &raw, 0); });
      }
      ::close(pid_pipe[0]);
    }
    // The zygote keeps nothing of a worker's: its peers must see EOF when it ends.
    close_passed();
    if (sys::retry_eintr([&] { return ::send(sock, &rep, sizeof rep, MSG_NOSIGNAL); }) != static_cast<long>(sizeof rep))
      return 1;
  }
}

}  // namespace ipcmatrix::detail
