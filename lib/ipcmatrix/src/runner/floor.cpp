#include "ipcmatrix/runner/floor.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <new>

#include "ipcmatrix/stats/statistics.hpp"
#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/byte_order.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {

namespace {

constexpr std::uint64_t kRounds = 20'000;           // cache-line round trips measured
constexpr std::uint64_t kRoundsWarmup = 2'000;
constexpr std::uint64_t kRoundsPerBatch = 1'000;    // the median of batch means is reported
constexpr std::uint64_t kRingMessages = 4'000'000;  // at most; the time cap usually ends it
constexpr std::int64_t kRingCapNs = 250'000'000;
constexpr std::size_t kRingMessageBytes = 64;
constexpr std::size_t kRingBatch = 64;
constexpr std::int64_t kChildTimeoutMs = 10'000;
constexpr std::uint64_t kStop = ~std::uint64_t{0};

struct alignas(kCacheLine) Line {
  std::atomic<std::uint64_t> v{0};
};

void pin(int cpu) {
  if (cpu >= 0) sys::pin_to_cpu(cpu);
}

/// Median round trip of one cache line: the initiator stores an odd value, the echo
/// answers with the next even one. Both are children; the initiator reports through `out`.
std::optional<double> cacheline_rtt(int cpu_a, int cpu_b) {
  sys::SharedAnonymous mem(sizeof(Line));
  auto* line = new (mem.get()) Line;
  sys::Fd res_r, res_w;
  sys::make_pipe(res_r, res_w);
  auto echo = sys::fork_child([&] {
    pin(cpu_b);
    std::uint64_t expect = 1;
    while (true) {
      std::uint64_t v;
      // acquire/release: the same orders as the ring's counters.
      while ((v = line->v.load(std::memory_order_acquire)) != expect) {
        if (v == kStop) return 0;
        sys::cpu_relax();
      }
      line->v.store(expect + 1, std::memory_order_release);
      expect += 2;
    }
  });
  auto initiator = sys::fork_child([&] {
    pin(cpu_a);
    std::vector<double> batch_means;
    std::int64_t t0 = 0;
    for (std::uint64_t i = 0; i < kRoundsWarmup + kRounds; ++i) {
      if (i >= kRoundsWarmup && (i - kRoundsWarmup) % kRoundsPerBatch == 0) {
        const std::int64_t now = sys::now_ns();
        if (i > kRoundsWarmup) batch_means.push_back(static_cast<double>(now - t0) / kRoundsPerBatch);
        t0 = now;
      }
      const std::uint64_t odd = 2 * i + 1;
      line->v.store(odd, std::memory_order_release);
      while (line->v.load(std::memory_order_acquire) != odd + 1) sys::cpu_relax();
    }
    batch_means.push_back(static_cast<double>(sys::now_ns() - t0) / kRoundsPerBatch);
    line->v.store(kStop, std::memory_order_release);
    const double m = median(batch_means);
    sys::write_all(res_w.get(), &m, sizeof m, "floor result");
    return 0;
  });
  res_w.reset();
  double rtt = 0;
  const bool got = sys::read_exact(res_r.get(), &rtt, sizeof rtt, kChildTimeoutMs, "floor result");
  line->v.store(kStop, std::memory_order_release);
  const auto a = initiator.wait_for(std::chrono::milliseconds(kChildTimeoutMs));
  const auto b = echo.wait_for(std::chrono::milliseconds(kChildTimeoutMs));
  if (!got || !a || !a->ok() || !b || !b->ok()) return std::nullopt;
  return rtt;
}

/// msgs/s of a bare shm ring between two children: 64 B messages in batches of 64, each
/// carrying its sequence number, which the consumer checks.
std::optional<double> bare_ring(int cpu_a, int cpu_b) {
  const TransportSpec& t = find_transport("shm");
  ChannelOptions o;
  o.wait = WaitStrategy::spin;
  auto ch = t.create(o);
  const ChannelSpec rx_spec = ch->spec(Role::receiver);
  const ChannelSpec tx_spec = ch->spec(Role::sender);
  sys::Fd res_r, res_w;
  sys::make_pipe(res_r, res_w);
  auto consumer = sys::fork_child([&] {
    pin(cpu_b);
    auto in = t.open(rx_spec, Role::receiver);
    std::array<std::byte, kRingMessageBytes> buf{};
    std::uint64_t n = 0;
    std::int64_t first = 0, last = 0;
    while (true) {
      std::size_t len = 0;
      const IoStatus s = in->recv(buf, len);
      if (s == IoStatus::peer_closed) break;
      if (s != IoStatus::ok || len != kRingMessageBytes || sys::load_le64(buf.data()) != n) return 2;
      // The window runs from the first message to the last: its clock reads are outside
      // the loop's steady state but for two.
      if (n == 0) first = sys::now_ns();
      ++n;
      if ((n & (kRingBatch - 1)) == 0) last = sys::now_ns();
    }
    const double rate = last > first && n > kRingBatch ? static_cast<double>(n - kRingBatch) * 1e9 /
                                                            static_cast<double>(last - first)
                                                      : 0;
    sys::write_all(res_w.get(), &rate, sizeof rate, "floor result");
    return 0;
  });
  auto producer = sys::fork_child([&] {
    pin(cpu_a);
    auto out = t.open(tx_spec, Role::sender);
    std::array<std::array<std::byte, kRingMessageBytes>, kRingBatch> msgs{};
    std::array<std::span<const std::byte>, kRingBatch> views;
    for (std::size_t k = 0; k < kRingBatch; ++k) views[k] = msgs[k];
    const std::int64_t until = sys::now_ns() + kRingCapNs;
    for (std::uint64_t i = 0; i < kRingMessages && sys::now_ns() < until; i += kRingBatch) {
      for (std::size_t k = 0; k < kRingBatch; ++k) sys::store_le64(msgs[k].data(), i + k);
      if (out->send_batch(views) != IoStatus::ok) return 3;
    }
    return 0;
  });
  ch->close_local_fds();
  res_w.reset();
  double rate = 0;
  const bool got = sys::read_exact(res_r.get(), &rate, sizeof rate, kChildTimeoutMs, "floor result");
  const auto a = producer.wait_for(std::chrono::milliseconds(kChildTimeoutMs));
  const auto b = consumer.wait_for(std::chrono::milliseconds(kChildTimeoutMs));
  if (!got || !a || !a->ok() || !b || !b->ok() || !(rate > 0)) return std::nullopt;
  return rate;
}

}  // namespace

std::optional<MachineFloor> measure_floor(const std::vector<int>& cpus) {
  MachineFloor f;
  if (!cpus.empty()) {
    f.cpu_a = cpus[0];
    f.cpu_b = cpus.size() > 1 ? cpus[1] : cpus[0];
  }
  const auto rtt = cacheline_rtt(f.cpu_a, f.cpu_b);
  const auto ring = bare_ring(f.cpu_a, f.cpu_b);
  if (!rtt || !ring) return std::nullopt;
  f.cacheline_rtt_ns = *rtt;
  f.ring_msgs_per_s = *ring;
  return f;
}

}  // namespace ipcmatrix
