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

#include "ipcmatrix/stats/histogram.hpp"

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

// Two timestamps, subtraction, record: exactly what a pattern does per message.
void BM_PerMessageCost(benchmark::State& state) {
  auto h = std::make_unique<Histogram>();
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto t1 = std::chrono::steady_clock::now();
    h->record(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
  }
  benchmark::DoNotOptimize(h->count());
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("budget < 50 ns per message");
}
BENCHMARK(BM_PerMessageCost);

// Back-to-back messages can share timestamps: the end of message i is the start of
// message i + 1, which halves the clock reads. Shown for comparison with BM_PerMessageCost,
// whose cost is dominated by the two clock reads.
void BM_PerMessageCostChained(benchmark::State& state) {
  auto h = std::make_unique<Histogram>();
  auto previous = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const auto now = std::chrono::steady_clock::now();
    h->record(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - previous).count()));
    previous = now;
  }
  benchmark::DoNotOptimize(h->count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PerMessageCostChained);

}  // namespace

BENCHMARK_MAIN();
