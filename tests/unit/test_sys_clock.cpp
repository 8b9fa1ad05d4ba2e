// The measurement clock: TSC ticks converted with a shared calibration must read as
// CLOCK_MONOTONIC nanoseconds, so stamps from different processes compare directly.
#include <doctest/doctest.h>

#include <cstdlib>

#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/process.hpp"

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

}  // TEST_SUITE
