#include "ipcmatrix/sys/interrupt.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"

namespace ipcmatrix::sys {

namespace {

// Written by the watch thread, read by the runner's loops: relaxed is enough, nothing else is
// published through it (the runner only decides to stop).
std::atomic<int> g_signal{0};

sigset_t interrupt_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

struct InterruptWatch::State {
  sigset_t old_mask{};
  Fd sigfd;
  Fd stopfd;
  std::thread thread;
};

InterruptWatch::InterruptWatch(std::chrono::milliseconds grace, std::function<void()> on_abort)
    : s_(std::make_unique<State>()) {
  const sigset_t set = interrupt_set();
  ::pthread_sigmask(SIG_BLOCK, &set, &s_->old_mask);
  s_->sigfd.reset(check_errno(::signalfd(-1, &set, SFD_CLOEXEC), "signalfd", "interrupt"));
  s_->stopfd.reset(check_errno(::eventfd(0, EFD_CLOEXEC), "eventfd", "interrupt"));
  const int sigfd = s_->sigfd.get(), stopfd = s_->stopfd.get();
  s_->thread = std::thread([sigfd, stopfd, grace, abort = std::move(on_abort)] {
    std::int64_t kill_at = -1;  // monotonic ns when children get SIGKILL, once signalled
    while (true) {
      pollfd fds[2] = {{sigfd, POLLIN, 0}, {stopfd, POLLIN, 0}};
      int timeout_ms = -1;
      if (kill_at >= 0) timeout_ms = static_cast<int>(std::max<std::int64_t>(0, (kill_at - monotonic_ns()) / 1'000'000));
      const int rc = ::poll(fds, 2, timeout_ms);
      if (rc < 0) continue;  // EINTR
      if (fds[1].revents) return;
      if (fds[0].revents) {
        signalfd_siginfo info{};
        if (::read(sigfd, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) continue;
        const int sig = static_cast<int>(info.ssi_signo);
        int expected = 0;
        if (g_signal.compare_exchange_strong(expected, sig, std::memory_order_relaxed)) {
          kill_at = monotonic_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(grace).count();
          continue;
        }
        // Second signal: stop everything now, still removing what this run created.
        signal_children(SIGKILL);
        try {
          if (abort) abort();
        } catch (...) {
          // Exiting with the signal's code matters more than the rest of the clean-up.
        }
        ::_exit(128 + sig);
      }
      if (kill_at >= 0 && monotonic_ns() >= kill_at) {
        signal_children(SIGKILL);
        kill_at = monotonic_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(grace).count();
      }
    }
  });
}

InterruptWatch::~InterruptWatch() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(s_->stopfd.get(), &one, sizeof one);
  s_->thread.join();
  ::pthread_sigmask(SIG_SETMASK, &s_->old_mask, nullptr);
}

int interrupt_signal() noexcept { return g_signal.load(std::memory_order_relaxed); }

std::string signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "signal " + std::to_string(sig);
  }
}

}  // namespace ipcmatrix::sys
