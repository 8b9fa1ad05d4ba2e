#pragma once
/// @file interrupt.hpp
/// Graceful interruption of a run by SIGINT, SIGTERM or SIGHUP.
///
/// Contract:
///   - While an InterruptWatch lives, those signals do not kill the process. The first one is
///     recorded (interrupt_signal() turns non-zero) and nothing else happens at once: the runner
///     polls the flag, starts no new cell, and lets the running one end. Children still running
///     `grace` after the signal are sent SIGKILL (sys::signal_children).
///   - A second signal aborts at once: every child gets SIGKILL, `on_abort` runs (the runner
///     removes its IPC objects there), and the process _exits with 128 + signal.
///   - Signals are handled on a thread of the watch's own through a signalfd, not in a signal
///     handler, so on_abort may allocate and touch the filesystem.
///   - Construct it before any other thread or child exists: the signals are blocked in the
///     constructing thread and every thread started after it inherits that. Children unblock
///     them before exec (spawn_self, fork_child).

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace ipcmatrix::sys {

class InterruptWatch {
 public:
  InterruptWatch(std::chrono::milliseconds grace, std::function<void()> on_abort);
  ~InterruptWatch();
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

/// The first interrupting signal received (SIGINT, SIGTERM, SIGHUP), 0 while there was none.
[[nodiscard]] int interrupt_signal() noexcept;
/// "SIGINT", "SIGTERM", "SIGHUP" (or "signal N").
[[nodiscard]] std::string signal_name(int sig);

}  // namespace ipcmatrix::sys
