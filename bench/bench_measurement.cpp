// Per-message cost of the measurement itself: what every timed message pays on top of the
// IPC being measured. The full path (BM_PerMessageCost) must stay well under 50 ns so that
// it is small next to the microsecond-scale latencies the matrix reports.

#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <time.h>

#include "ipcmatrix/pattern/roles.hpp"
#include "ipcmatrix/stats/histogram.hpp"
#include "ipcmatrix/sys/clock.hpp"

using namespace ipcmatrix;

namespace {

using ipcmatrix::Histogram;

// Power of two so the cycling index is a mask, not a modulo, in the timed loop.
constexpr std::size_t kValueCount = 4096;

// Latency-like values spread over many buckets, so record() does not hit one hot counter
// and the branch predictor cannot learn a single bucket index.
const std::array<std::uint64_t, kValueCount>& varied_values() {
  static const auto values = [] {
    std::array<std::uint64_t, kValueCount> v{};
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> d(7.0, 1.5);  // median ~1.1 us, long tail
    for (auto& x : v) x = static_cast<std::uint64_t>(d(rng));
    return v;
  }();
  return values;
}

void BM_ClockGettimeMonotonic(benchmark::State& state) {
  timespec ts{};
  for (auto _ : state) {
    clock_gettime(CLOCK_MONOTONIC, &ts);
    benchmark::DoNotOptimize(ts);
  }
}
BENCHMARK(BM_ClockGettimeMonotonic);

void BM_SteadyClockNow(benchmark::State& state) {
  for (auto _ : state) {
    auto t = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_SteadyClockNow);

void BM_HistogramRecord(benchmark::State& state) {
  const auto& values = varied_values();
  auto h = std::make_unique<Histogram>();
  std::size_t i = 0;
  for (auto _ : state) {
    h->record(values[i++ & (kValueCount - 1)]);
  }
  benchmark::DoNotOptimize(h->count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramRecord);

// The measurement clock the role loops use (sys::now_ns): an ordered TSC read converted
// with the run's shared calibration, or CLOCK_MONOTONIC where the kernel does not trust
// the TSC. Arg 1 = calibrated TSC, 0 = CLOCK_MONOTONIC.
void use(const benchmark::State& state) {
  static const sys::ClockCalibration tsc = sys::calibrate_clock();
  sys::use_clock(state.range(0) ? tsc : sys::ClockCalibration{});
}

void BM_NowNs(benchmark::State& state) {
  use(state);
  for (auto _ : state) benchmark::DoNotOptimize(sys::now_ns());
  state.SetLabel(sys::detail::g_clock.tsc ? "tsc" : "CLOCK_MONOTONIC");
}
BENCHMARK(BM_NowNs)->Arg(0)->Arg(1);

// What one message costs the measurement, both ends added up, exactly as the role loops
// do it: the sender stamps the envelope (one read); the receiver stamps after decoding
// (one read), subtracts and records; one message in kSerdeSampleEvery also pays two
// extra reads on each side for the encode/decode timing. Budget: < 50 ns per message.
void BM_PerMessageCost(benchmark::State& state) {
  use(state);
  auto h = std::make_unique<Histogram>();
  std::uint64_t i = 0;
  for (auto _ : state) {
    const std::int64_t sent = sys::now_ns();  // sender: envelope stamp
    benchmark::DoNotOptimize(sent);
    if (i % kSerdeSampleEvery == 0) benchmark::DoNotOptimize(sys::now_ns() + sys::now_ns());
    const std::int64_t received = sys::now_ns();  // receiver: after decode
    h->record(static_cast<std::uint64_t>(received - sent));
    if (i++ % kSerdeSampleEvery == 0) benchmark::DoNotOptimize(sys::now_ns() + sys::now_ns());
  }
  benchmark::DoNotOptimize(h->count());
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string(sys::detail::g_clock.tsc ? "tsc" : "CLOCK_MONOTONIC") +
                 ", budget < 50 ns per message");
}
BENCHMARK(BM_PerMessageCost)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
