// Round-trip latency of every mechanism at one message size, next to the hardware floor:
// two processes ping-ponging on one shared cache line with no abstraction at all.
//
//   bench_pingpong [--size 64] [--rounds 200000] [--warmup 20000] [--placement cross-core]
//
// Each round trip is timed individually with CLOCK_MONOTONIC on the initiating side
// (the clock read, ~25 ns, is inside every figure, the floor's too) and recorded into a
// log-linear histogram (< 1% error). Warm-up rounds are not recorded.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fmt/core.h>
#include <new>

#include "ipcmatrix/runner/floor.hpp"
#include "ipcmatrix/stats/histogram.hpp"
#include "ipcmatrix/stats/statistics.hpp"
#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "ipcmatrix/util/aligned_buffer.hpp"

using namespace ipcmatrix;

namespace {

struct Config {
  std::size_t size = 64;
  std::uint64_t rounds = 200'000;
  std::uint64_t warmup = 20'000;
  std::string placement = "cross-core";
  std::vector<std::string> mechanisms;
  std::size_t ring_bytes = 0;
  int ratio_reps = 5;
};

struct Cpus {
  int parent = -1, child = -1;
};

Cpus choose_cpus(const std::string& placement) {
  const auto cpus = sys::allowed_cpus();
  if (placement == "unpinned" || cpus.empty()) return {};
  if (placement == "same-core" || cpus.size() < 2) return {cpus[0], cpus[0]};
  return {cpus[0], cpus[1]};
}

void pin(int cpu) {
  if (cpu >= 0) sys::pin_to_cpu(cpu);
}

// The floor: parent stores an odd value, child answers with the next even one.
Histogram floor_pingpong(const Config& c, Cpus cpus) {
  sys::SharedAnonymous mem(sizeof(FloorLine));
  auto* line = new (mem.get()) FloorLine;
  auto child = sys::fork_child([&] {
    pin(cpus.child);
    line->echo();
    return 0;
  });
  pin(cpus.parent);
  Histogram h;
  for (std::uint64_t i = 0; i < c.warmup + c.rounds; ++i) {
    const std::int64_t t0 = sys::monotonic_ns();
    line->round_trip(i);
    const std::int64_t t1 = sys::monotonic_ns();
    if (i >= c.warmup) h.record(static_cast<std::uint64_t>(t1 - t0));
  }
  line->stop();
  child.wait_for(std::chrono::seconds(10));
  return h;
}

Histogram mechanism_pingpong(const Config& c, const TransportSpec& t, const ChannelOptions& o,
                             Cpus cpus) {
  auto a = t.create(o);  // parent -> child
  auto b = t.create(o);  // child -> parent
  const auto a_tx = a->spec(Role::sender), a_rx = a->spec(Role::receiver);
  const auto b_tx = b->spec(Role::sender), b_rx = b->spec(Role::receiver);
  const std::uint64_t total = c.warmup + c.rounds;
  auto child = sys::fork_child([&] {
    pin(cpus.child);
    for (const ChannelSpec* s : {&a_tx, &b_rx})
      for (const int fd : s->inherited_fds())
        if (fd >= 0) sys::Fd{fd};
    auto in = t.open(a_rx, Role::receiver);
    auto out = t.open(b_tx, Role::sender);
    AlignedBuffer buf(c.size);  // page-aligned, as the matrix's receivers (util/aligned_buffer.hpp)
    for (std::uint64_t i = 0; i < total; ++i) {
      std::size_t len = 0;
      if (in->recv(buf, len) != IoStatus::ok) return 2;
      if (out->send({buf.data(), len}) != IoStatus::ok) return 3;
    }
    return 0;
  });
  pin(cpus.parent);
  // take(): this process now owns its two ends; close_local_fds() drops the child's.
  auto out = t.open(a->take(Role::sender), Role::sender);
  auto in = t.open(b->take(Role::receiver), Role::receiver);
  a->close_local_fds();
  b->close_local_fds();
  std::vector<std::byte> msg(c.size, std::byte{0x5a});
  AlignedBuffer back(c.size);
  Histogram h;
  for (std::uint64_t i = 0; i < total; ++i) {
    std::size_t len = 0;
    const std::int64_t t0 = sys::monotonic_ns();
    if (out->send(msg) != IoStatus::ok || in->recv(back, len) != IoStatus::ok)
      throw std::runtime_error(std::string(t.name) + ": round trip failed");
    const std::int64_t t1 = sys::monotonic_ns();
    if (len != c.size || !std::equal(msg.begin(), msg.end(), back.data())) throw std::runtime_error(std::string(t.name) + ": corrupt echo");
    if (i >= c.warmup) h.record(static_cast<std::uint64_t>(t1 - t0));
  }
  out.reset();
  in.reset();
  auto st = child.wait_for(std::chrono::seconds(30));
  if (!st || !st->ok()) throw std::runtime_error(std::string(t.name) + ": echo process failed");
  return h;
}

void row(const std::string& name, const Histogram& h, double floor_p50) {
  const double p50 = static_cast<double>(h.value_at_percentile(50));
  fmt::print("{:<16} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f} {:>9.2f}x\n", name, p50 / 1e3,
             h.value_at_percentile(90) / 1e3, h.value_at_percentile(99) / 1e3,
             h.value_at_percentile(99.9) / 1e3, floor_p50 > 0 ? p50 / floor_p50 : 0.0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  CLI::App app{"Round-trip latency per mechanism, next to the one-cache-line floor"};
  app.add_option("--size", c.size, "message bytes")->check(CLI::Range(std::size_t{0}, std::size_t{1} << 26));
  app.add_option("--rounds", c.rounds, "measured round trips per mechanism")->check(CLI::PositiveNumber);
  app.add_option("--warmup", c.warmup, "unrecorded round trips first");
  app.add_option("--placement", c.placement, "cross-core | same-core | unpinned")
      ->check(CLI::IsMember({"cross-core", "same-core", "unpinned"}));
  app.add_option("--mechanisms", c.mechanisms, "subset of mechanisms")->delimiter(',');
  app.add_option("--ratio-reps", c.ratio_reps, "floor/shm pairs for the ratio (0: skip)");
  app.add_option("--ring-bytes", c.ring_bytes, "shm ring / bipc-mq capacity (0: default)");
  CLI11_PARSE(app, argc, argv);

  const Cpus cpus = choose_cpus(c.placement);
  fmt::print("# ping-pong round trip, {} B, {} rounds after {} warm-up, placement {} (cpus {} / {})\n",
             c.size, c.rounds, c.warmup, c.placement, cpus.parent, cpus.child);
  if (cpus.parent >= 0 && cpus.parent == cpus.child)
    fmt::print("# WARNING: both processes share one CPU: spinning waits collapse to scheduler quanta\n");
  fmt::print("{:<16} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "mechanism", "p50 us", "p90 us",
             "p99 us", "p99.9 us", "vs floor");
  const Histogram floor = floor_pingpong(c, cpus);
  const double floor_p50 = static_cast<double>(floor.value_at_percentile(50));
  row("floor(1 line)", floor, floor_p50);
  int rc = 0;
  for (const auto* t : all_transports()) {
    if (!c.mechanisms.empty() &&
        std::find(c.mechanisms.begin(), c.mechanisms.end(), t->name) == c.mechanisms.end())
      continue;
    std::vector<Wait> waits{Wait::hybrid};
    if (t->caps.spin_wait) waits = {Wait::spin, Wait::hybrid, Wait::block};
    for (auto w : waits) {
      ChannelOptions o;
      o.wait = w;
      o.capacity_bytes = c.ring_bytes;
      const std::string name = t->caps.spin_wait ? fmt::format("{}/{}", t->name, to_string(w)) : std::string(t->name);
      try {
        row(name, mechanism_pingpong(c, *t, o, cpus), floor_p50);
      } catch (const std::exception& e) {
        fmt::print("{:<16} FAILED: {}\n", name, e.what());
        rc = 1;
      }
    }
  }
  // The floor moves with where the hypervisor puts our two vCPUs, so the ratio is taken
  // from back-to-back pairs (floor, then shm/spin) and the median pair is reported.
  const bool want_shm = c.mechanisms.empty() ||
                        std::find(c.mechanisms.begin(), c.mechanisms.end(), "shm") != c.mechanisms.end();
  if (want_shm && c.ratio_reps > 0) {
    ChannelOptions o;
    o.wait = Wait::spin;
    o.capacity_bytes = c.ring_bytes;
    std::vector<double> ratios;
    for (int r = 0; r < c.ratio_reps; ++r) {
      const double f = static_cast<double>(floor_pingpong(c, cpus).value_at_percentile(50));
      const double s = static_cast<double>(mechanism_pingpong(c, find_transport("shm"), o, cpus).value_at_percentile(50));
      ratios.push_back(s / f);
      fmt::print("# pair {}: floor p50 {:.0f} ns, shm/spin p50 {:.0f} ns, ratio {:.2f}\n", r + 1, f, s, s / f);
    }
    fmt::print("shm/spin p50 to floor p50 ratio: {:.2f} (median of {} pairs; target <= 2.0)\n",
               median(ratios), ratios.size());
  }
  return rc;
}
