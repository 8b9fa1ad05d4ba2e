#include "ipcmatrix/sys/clock.hpp"

#include <algorithm>
#include <climits>
#include <fstream>
#include <string>
#include <thread>

namespace ipcmatrix::sys {

namespace detail {
ClockCalibration g_clock;
}

namespace {
bool kernel_uses_tsc() {
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string s;
  return f >> s && s == "tsc";
}
}  // namespace

ClockCalibration calibrate_clock(std::int64_t window_ns) {
  ClockCalibration c;
#if defined(__x86_64__)
  if (!kernel_uses_tsc()) return c;
  // Bracket each TSC read between two clock reads and keep the tightest pair, so the
  // pairing error is a few ns over a 50 ms window: well under 1 ppm.
  auto pair = [](std::uint64_t& tsc, std::int64_t& mono) {
    std::int64_t best = INT64_MAX;
    for (int i = 0; i < 50; ++i) {
      const std::int64_t a = monotonic_ns();
      _mm_lfence();
      const std::uint64_t t = __rdtsc();
      _mm_lfence();
      const std::int64_t b = monotonic_ns();
      if (b - a < best) {
        best = b - a;
        tsc = t;
        mono = a + (b - a) / 2;
      }
    }
  };
  std::uint64_t t0 = 0, t1 = 0;
  std::int64_t m0 = 0, m1 = 0;
  pair(t0, m0);
  std::this_thread::sleep_for(std::chrono::nanoseconds(window_ns));
  pair(t1, m1);
  if (t1 <= t0 || m1 <= m0) return c;
  c.tsc = true;
  c.tsc0 = t0;
  c.mono0 = m0;
  c.mult = static_cast<std::uint64_t>((static_cast<Uint128>(m1 - m0) << 32) / (t1 - t0));
#else
  (void)window_ns;
#endif
  return c;
}

void use_clock(const ClockCalibration& c) noexcept { detail::g_clock = c; }

std::int64_t clock_read_cost_ns() noexcept {
  // Per clock source: use_clock() may switch it after a first measurement.
  static std::int64_t cost[2] = {-1, -1};
  std::int64_t& c = cost[detail::g_clock.tsc ? 1 : 0];
  if (c < 0) {
    std::int64_t best = INT64_MAX;
    for (int i = 0; i < 200; ++i) {
      const std::int64_t a = now_ns();
      const std::int64_t b = now_ns();
      best = std::min(best, b - a);
    }
    c = std::max<std::int64_t>(best, 0);
  }
  return c;
}

}  // namespace ipcmatrix::sys
