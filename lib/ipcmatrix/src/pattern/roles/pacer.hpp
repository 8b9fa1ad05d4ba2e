#pragma once
/// @file pacer.hpp
/// Pacer: the open-loop sender's schedule, message i due at start + i / rate.
///
/// Part of roles.cpp's translation unit, included by it alone. Its contents sit in an
/// anonymous namespace, as they did inside roles.cpp, so the compiler sees and inlines the
/// hot loops across these files exactly as when they were one file (bench_matrix_vs_bare
/// measured the matrix-vs-bare ratios before and after the split, interleaved).
#ifndef IPCMATRIX_ROLES_TU
#error "pacer.hpp is part of roles.cpp's translation unit; include it only from there"
#endif

#include <cstdint>

#include "ipcmatrix/pattern/roles.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/posix.hpp"

namespace ipcmatrix {
namespace {

/// Paces an open-loop sender: message i is due at start + i / rate. Sleeps are relative
/// durations measured on the same clock as the due times, never an absolute time on
/// another clock.
class Pacer {
 public:
  explicit Pacer(double rate) : interval_ns_(rate > 0 ? 1e9 / rate : 0) {}
  [[nodiscard]] bool open_loop() const noexcept { return interval_ns_ > 0; }
  /// Waits until message i is due and returns its intended send time (0 when closed loop).
  std::int64_t wait(std::uint64_t i, RoleReport& r) noexcept {
    if (interval_ns_ <= 0) return 0;
    if (start_ == 0) start_ = sys::now_ns();
    const std::int64_t due = start_ + static_cast<std::int64_t>(static_cast<double>(i) * interval_ns_);
    std::int64_t now = sys::now_ns();
    // Sleep while far away, spin the last stretch: sleeping alone overshoots by ~50 us.
    if (due - now > kSleepAboveNs) {
      sys::sleep_for_ns(due - now - kSpinLastNs);
      now = sys::now_ns();
    }
    const std::int64_t spin_from = now;
    while (now < due) {
      sys::cpu_relax();
      now = sys::now_ns();
    }
    r.pacer_spin_ns += now - spin_from;
    return due;
  }

 private:
  static constexpr std::int64_t kSleepAboveNs = 200'000;
  static constexpr std::int64_t kSpinLastNs = 100'000;
  double interval_ns_;
  std::int64_t start_ = 0;
};

}  // namespace
}  // namespace ipcmatrix
