#pragma once
/// @file clock.hpp
/// The measurement clock: CLOCK_MONOTONIC, or the TSC converted to the same nanoseconds
/// with one calibration shared by every process of a run.
///
/// Why: a vDSO clock_gettime costs ~23 ns here and every message pays one read on each
/// side; an ordered TSC read costs a few ns. The coordinator calibrates once and hands the
/// same (tsc0, mono0, mult) to every worker, so all processes convert ticks identically:
/// differences between their timestamps carry only the calibration's rate error (a few
/// ppm, i.e. nanoseconds on a millisecond), never an offset between processes.
/// The TSC is used only where the kernel itself trusts it (current clocksource "tsc",
/// which it picks only for an invariant TSC synchronised across CPUs).

#include <cstdint>

#include "ipcmatrix/sys/posix.hpp"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace ipcmatrix::sys {

/// 128-bit product for the tick conversion (a GCC/Clang extension; __extension__ keeps
/// -Wpedantic quiet about it).
__extension__ typedef unsigned __int128 Uint128;

/// Ticks-to-nanoseconds conversion: ns = mono0 + ((tsc - tsc0) * mult) >> 32.
struct ClockCalibration {
  bool tsc = false;         ///< false: use CLOCK_MONOTONIC directly
  std::uint64_t tsc0 = 0;
  std::int64_t mono0 = 0;
  std::uint64_t mult = 0;   ///< ns per tick, 32.32 fixed point
  [[nodiscard]] double tsc_hz() const noexcept { return mult ? 4294967296.0 * 1e9 / static_cast<double>(mult) : 0; }
};

/// Measures the TSC rate against CLOCK_MONOTONIC over window_ns when the kernel's
/// clocksource is the TSC; otherwise returns {tsc = false}.
[[nodiscard]] ClockCalibration calibrate_clock(std::int64_t window_ns = 50'000'000);
/// Makes now_ns() use this calibration in this process (call before any timing).
void use_clock(const ClockCalibration& c) noexcept;

namespace detail {
extern ClockCalibration g_clock;
}

/// Current time in CLOCK_MONOTONIC nanoseconds (TSC-derived when calibrated).
[[nodiscard]] inline std::int64_t now_ns() noexcept {
#if defined(__x86_64__)
  const ClockCalibration& c = detail::g_clock;
  if (c.tsc) {
    // lfence: the read is not hoisted above earlier loads (the kernel's rdtsc_ordered).
    _mm_lfence();
    const std::uint64_t d = __rdtsc() - c.tsc0;
    return c.mono0 + static_cast<std::int64_t>((static_cast<Uint128>(d) * c.mult) >> 32);
  }
#endif
  return monotonic_ns();
}

/// The cost of one now_ns() call in this process (the minimum of back-to-back pairs),
/// subtracted from short intervals such as one encode, where it would otherwise be most
/// of the figure. Measured once, on first use.
[[nodiscard]] std::int64_t clock_read_cost_ns() noexcept;

}  // namespace ipcmatrix::sys
