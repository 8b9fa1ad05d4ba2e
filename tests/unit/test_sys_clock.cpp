// The measurement clock: TSC ticks converted with a shared calibration must read as
// CLOCK_MONOTONIC nanoseconds, so stamps from different processes compare directly.
// Also the peak resident set a worker reports (peak_rss_kb) and the pages a message pool maps
// at once (populate_for_write), other facts of the process's memory.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdlib>
#include <vector>

#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "support/test_support.hpp"

using namespace ipcmatrix;

TEST_SUITE("sys") {

TEST_CASE("clock: now_ns tracks CLOCK_MONOTONIC with or without the TSC") {
  const sys::ClockCalibration cal = sys::calibrate_clock(20'000'000);
  for (bool tsc : {false, true}) {
    sys::use_clock(tsc ? cal : sys::ClockCalibration{});
    std::int64_t prev = sys::now_ns();
    for (int i = 0; i < 1000; ++i) {
      const std::int64_t a = sys::monotonic_ns();
      const std::int64_t t = sys::now_ns();
      const std::int64_t b = sys::monotonic_ns();
      CHECK(t >= prev);  // never runs backwards
      prev = t;
      // Generous bound: a preemption between the reads on a loaded machine is allowed.
      CHECK(t >= a - 5'000'000);
      CHECK(t <= b + 5'000'000);
    }
  }
  if (cal.tsc) CHECK(cal.tsc_hz() > 1e8);
  sys::use_clock({});
}

TEST_CASE("clock: a child using the parent's calibration reads the same time scale") {
  const sys::ClockCalibration cal = sys::calibrate_clock(20'000'000);
  sys::use_clock(cal);
  const std::int64_t before = sys::now_ns();
  auto child = sys::fork_child([&] {
    sys::use_clock(cal);
    const std::int64_t t = sys::now_ns();
    return (t >= before && t - before < 30'000'000'000) ? 0 : 1;
  });
  auto st = child.wait_for(std::chrono::milliseconds(60'000));
  REQUIRE(st.has_value());
  CHECK(st->ok());
  sys::use_clock({});
}

TEST_CASE("peak_rss_kb: this image's peak resident set, raised by the memory it touches") {
  // The worker's max_rss_kb. getrusage's ru_maxrss would also count the coordinator's
  // footprint, carried across the worker's exec; VmHWM is the image's own.
  CHECK(sys::peak_rss_kb() > 0);
  // From the resident set now, not the peak: an earlier test in this process may have
  // peaked higher than this one will.
  const std::int64_t resident_kib = test::resident_kib();
  constexpr std::size_t kTouched = std::size_t{64} << 20;
  std::vector<char> block(kTouched);
  for (std::size_t i = 0; i < block.size(); i += 4096) block[i] = static_cast<char>(i);
  CHECK(sys::peak_rss_kb() - resident_kib >= static_cast<std::int64_t>(kTouched / 1024) * 9 / 10);
  CHECK(block[4096] == static_cast<char>(4096));
}

TEST_CASE("populate_for_write: a reserved buffer's pages are resident before it is written") {
  // What a 1 MiB sender's pool relies on: its bodies' pages mapped in one call, not faulted
  // in one by one at first touch. Reserved and untouched, a 32 MiB vector is not resident
  // (glibc maps it fresh); populated, it is, before any write.
  constexpr std::size_t kBytes = std::size_t{32} << 20;
  std::vector<std::byte> body;
  body.reserve(kBytes);
  const std::int64_t before_kib = test::resident_kib();
  REQUIRE(sys::populate_for_write(body.data(), kBytes));
  CHECK(test::resident_kib() - before_kib >= static_cast<std::int64_t>(kBytes / 1024) * 9 / 10);
  CHECK(sys::populate_for_write(nullptr, 0));
}

}  // TEST_SUITE
