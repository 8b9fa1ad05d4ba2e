#include "ipcmatrix/runner/floor.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <new>

#include <fmt/format.h>

#include "ipcmatrix/stats/statistics.hpp"
#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/byte_order.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/util/aligned_buffer.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {

namespace {

constexpr std::uint64_t kRounds = 20'000;           // cache-line round trips measured
constexpr std::uint64_t kRoundsWarmup = 2'000;
constexpr std::uint64_t kRoundsPerBatch = 1'000;    // the median of batch means is reported
// The bare ring's window. 100 ms, not 250 (until 2026-12-07): eight tiny runs of each,
// interleaved, gave 58.8 M msgs/s [57.4-60.1] at 250 ms, 58.3 [55.9-61.8] at 100 and
// 57.8 [56.3-59.8] at 50, their start and end floors 1-2% apart at each (median), and a
// floor is taken two to a few dozen times a run (a one-cell run took 0.91 s, now 0.60).
constexpr std::int64_t kRingCapNs = 100'000'000;
constexpr std::size_t kRingMessageBytes = 64;
constexpr std::size_t kRingBatch = 64;
constexpr std::int64_t kChildTimeoutMs = 10'000;

void pin(int cpu) {
  if (cpu >= 0) sys::pin_to_cpu(cpu);
}

/// The figure a child wrote to the result pipe, within timeout_ms.
std::optional<double> read_result(const sys::Fd& res, std::int64_t timeout_ms) {
  double v = 0;
  if (!sys::read_exact(res.get(), &v, sizeof v, timeout_ms, "floor result")) return std::nullopt;
  return v;
}

/// Reaps both children of a measurement (bounded); true when both exited cleanly.
bool reaped_ok(sys::Child& a, sys::Child& b) {
  const auto sa = a.wait_for(std::chrono::milliseconds(kChildTimeoutMs));
  const auto sb = b.wait_for(std::chrono::milliseconds(kChildTimeoutMs));
  return sa && sa->ok() && sb && sb->ok();
}

/// Median round trip of one cache line: the initiator stores an odd value, the echo
/// answers with the next even one. Both are children; the initiator reports through `out`.
std::optional<double> cacheline_rtt(int cpu_a, int cpu_b) {
  sys::SharedAnonymous mem(sizeof(FloorLine));
  auto* line = new (mem.get()) FloorLine;
  sys::Fd res_r, res_w;
  sys::make_pipe(res_r, res_w);
  auto echo = sys::fork_child([&] {
    pin(cpu_b);
    line->echo();
    return 0;
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
      line->round_trip(i);
    }
    batch_means.push_back(static_cast<double>(sys::now_ns() - t0) / kRoundsPerBatch);
    line->stop();
    const double m = median(batch_means);
    sys::write_all(res_w.get(), &m, sizeof m, "floor result");
    return 0;
  });
  res_w.reset();
  const std::optional<double> rtt = read_result(res_r, kChildTimeoutMs);
  line->stop();  // the echo stops even if the initiator failed
  if (!reaped_ok(initiator, echo)) return std::nullopt;
  return rtt;
}

}  // namespace

std::optional<double> bare_stream(const TransportSpec& t, const ChannelOptions& o, std::size_t size,
                                  std::size_t batch, int cpu_a, int cpu_b, std::int64_t cap_ns) {
  size = std::max<std::size_t>(size, 8);
  // The sender's distinct messages (one per batch slot) stay within kBareSourceBytes, as a
  // matrix sender's pool does: 64 distinct 1 MiB messages are read from memory, not from a
  // cache, and made the bare transport look slower than it is.
  batch = std::clamp<std::size_t>(kBareSourceBytes / size, 1, std::max<std::size_t>(batch, 1));
  // Each side reads the clock once per 64 messages or 64 KiB of them (whichever is fewer)
  // at most, not once per batch: with batches of one, a clock read per 64 B message held
  // this loop to a fifth of the rate of the matrix's sender, which reads it only at its
  // stamps. At 1 MiB a read per message costs nothing, and a window of 50 ms still has
  // boundaries in it.
  const std::size_t clock_every = std::max(batch, std::clamp<std::size_t>((std::size_t{64} << 10) / size, 1, 64));
  auto ch = t.create(o);
  const ChannelSpec rx_spec = ch->spec(Role::receiver);
  const ChannelSpec tx_spec = ch->spec(Role::sender);
  sys::Fd res_r, res_w;
  sys::make_pipe(res_r, res_w);
  auto consumer = sys::fork_child([&] {
    pin(cpu_b);
    for (const int fd : tx_spec.inherited_fds())
      if (fd >= 0) sys::Fd{fd};  // the other end's copies: close them
    auto in = t.open(rx_spec, Role::receiver);
    AlignedBuffer buf(size);  // as the matrix receiver's (util/aligned_buffer.hpp)
    StreamWindow window(clock_every);
    while (true) {
      std::size_t len = 0;
      const IoStatus s = in->recv(buf, len);
      if (s == IoStatus::peer_closed) break;
      if (s != IoStatus::ok || len != size || sys::load_le64(buf.data()) != window.messages()) return 2;
      window.count();
    }
    const double rate = window.msgs_per_s();
    sys::write_all(res_w.get(), &rate, sizeof rate, "bare result");
    return 0;
  });
  auto producer = sys::fork_child([&] {
    pin(cpu_a);
    for (const int fd : rx_spec.inherited_fds())
      if (fd >= 0) sys::Fd{fd};
    auto out = t.open(tx_spec, Role::sender);
    std::vector<std::vector<std::byte>> msgs(batch, std::vector<std::byte>(size, std::byte{0x5a}));
    std::vector<std::span<const std::byte>> views(msgs.begin(), msgs.end());
    const std::size_t batches_per_read = clock_every / batch;
    const std::int64_t until = sys::now_ns() + cap_ns;
    for (std::uint64_t i = 0; sys::now_ns() < until;) {
      for (std::size_t b = 0; b < batches_per_read; ++b, i += batch) {
        for (std::size_t k = 0; k < batch; ++k) sys::store_le64(msgs[k].data(), i + k);
        if (out->send_batch(views) != IoStatus::ok) return 3;
      }
    }
    return 0;
  });
  ch->close_local_fds();
  res_w.reset();
  const std::optional<double> rate = read_result(res_r, kChildTimeoutMs);
  if (!reaped_ok(producer, consumer) || !rate || !(*rate > 0)) return std::nullopt;
  return rate;
}

std::optional<double> bare_pingpong_p50_ns(const TransportSpec& t, const ChannelOptions& o, std::size_t size,
                                           std::uint64_t rounds, int cpu_a, int cpu_b) {
  auto there = t.create(o);
  auto back = t.create(o);
  const ChannelSpec there_tx = there->spec(Role::sender), there_rx = there->spec(Role::receiver);
  const ChannelSpec back_tx = back->spec(Role::sender), back_rx = back->spec(Role::receiver);
  sys::Fd res_r, res_w;
  sys::make_pipe(res_r, res_w);
  const std::uint64_t total = rounds + rounds / 10;
  auto echo = sys::fork_child([&] {
    pin(cpu_b);
    for (const ChannelSpec* s : {&there_tx, &back_rx})
      for (const int fd : s->inherited_fds())
        if (fd >= 0) sys::Fd{fd};
    auto out = t.open(back_tx, Role::sender);
    auto in = t.open(there_rx, Role::receiver);
    AlignedBuffer buf(size);  // as the matrix receiver's (util/aligned_buffer.hpp)
    for (std::uint64_t i = 0; i < total; ++i) {
      std::size_t len = 0;
      if (in->recv(buf, len) != IoStatus::ok || out->send({buf.data(), len}) != IoStatus::ok) return 2;
    }
    return 0;
  });
  auto initiator = sys::fork_child([&] {
    pin(cpu_a);
    for (const ChannelSpec* s : {&there_rx, &back_tx})
      for (const int fd : s->inherited_fds())
        if (fd >= 0) sys::Fd{fd};
    auto out = t.open(there_tx, Role::sender);
    auto in = t.open(back_rx, Role::receiver);
    AlignedBuffer buf(size, std::byte{1});
    std::vector<double> rtt;
    rtt.reserve(rounds);
    for (std::uint64_t i = 0; i < total; ++i) {
      std::size_t len = 0;
      const std::int64_t t0 = sys::now_ns();
      if (out->send(buf) != IoStatus::ok || in->recv(buf, len) != IoStatus::ok || len != size) return 3;
      if (i >= total - rounds) rtt.push_back(static_cast<double>(sys::now_ns() - t0));
    }
    const double p50 = median(rtt);
    sys::write_all(res_w.get(), &p50, sizeof p50, "bare result");
    return 0;
  });
  there->close_local_fds();
  back->close_local_fds();
  res_w.reset();
  const std::optional<double> p50 = read_result(res_r, kChildTimeoutMs * 6);
  if (!reaped_ok(initiator, echo)) return std::nullopt;
  return p50;
}

bool same_mode(const MachineFloor& from, const MachineFloor& to) noexcept {
  if (!(from.cacheline_rtt_ns > 0) || !(from.ring_msgs_per_s > 0) || !(to.ring_msgs_per_s > 0)) return false;
  const double rtt_moved = std::abs(to.cacheline_rtt_ns - from.cacheline_rtt_ns) / from.cacheline_rtt_ns;
  const double ring_ratio = to.ring_msgs_per_s / from.ring_msgs_per_s;
  return rtt_moved <= kSameModeRtt && ring_ratio <= kSameModeRing && ring_ratio >= 1 / kSameModeRing;
}

int Modes::of(const MachineFloor& f) {
  for (std::size_t k = 0; k < first_.size(); ++k)
    if (same_mode(first_[k], f)) return static_cast<int>(k);
  first_.push_back(f);
  return static_cast<int>(first_.size() - 1);
}

int mode_of_repetition(const std::vector<FloorMark>& marks, std::int64_t end_ns) noexcept {
  const auto after = std::lower_bound(marks.begin(), marks.end(), end_ns,
                                      [](const FloorMark& m, std::int64_t t) { return m.at_ns < t; });
  if (after == marks.begin() || after == marks.end()) return -1;
  const int mode = std::prev(after)->mode;
  return mode >= 0 && after->mode == mode ? mode : -1;
}

std::optional<MachineFloor> measure_floor(const std::vector<int>& cpus) {
  if (too_few_cpus_for_floor(cpus)) return std::nullopt;
  MachineFloor f;
  if (!cpus.empty()) {
    f.cpu_a = cpus[0];
    f.cpu_b = cpus[1];
  }
  const auto rtt = cacheline_rtt(f.cpu_a, f.cpu_b);
  ChannelOptions o;
  o.wait = Wait::spin;
  std::optional<double> ring;
  try {
    ring = bare_stream(find_transport(kFloorMechanism), o, kRingMessageBytes, kRingBatch, f.cpu_a, f.cpu_b, kRingCapNs);
  } catch (const std::exception&) {
    // No room in /dev/shm, say: the run goes on without a floor and warns so.
  }
  if (!rtt || !ring) return std::nullopt;
  f.cacheline_rtt_ns = *rtt;
  f.ring_msgs_per_s = *ring;
  f.ring_mechanism = kFloorMechanism;
  return f;
}

double floor_moved(const MachineFloor& from, const MachineFloor& to) noexcept {
  const double rtt_moved = std::abs(to.cacheline_rtt_ns - from.cacheline_rtt_ns) / from.cacheline_rtt_ns;
  const double ring_moved = std::abs(to.ring_msgs_per_s - from.ring_msgs_per_s) / from.ring_msgs_per_s;
  return std::max(rtt_moved, ring_moved);
}

std::string another_mode_warning(const MachineFloor& start, const std::vector<MachineFloor>& moved,
                                 std::size_t rounds) {
  // "lo-hi" of one figure over the moved floors, each as `spec` prints it; one value when
  // they print alike.
  const auto range = [&](auto figure, double scale, std::string_view spec) {
    const auto [lo, hi] = std::minmax_element(moved.begin(), moved.end(),
                                              [&](const auto& a, const auto& b) { return figure(a) < figure(b); });
    const std::string a = fmt::format(fmt::runtime(spec), scale * figure(*lo));
    const std::string b = fmt::format(fmt::runtime(spec), scale * figure(*hi));
    return a == b ? a : a + "-" + b;
  };
  const auto by = [&](const MachineFloor& f) { return floor_moved(start, f); };
  const auto rtt = [](const MachineFloor& f) { return f.cacheline_rtt_ns; };
  const auto ring = [](const MachineFloor& f) { return f.ring_msgs_per_s; };
  return fmt::format(
      "{} of the {} rounds after the first ran with the machine in another mode than the first round's (the floor "
      "moved {}%: cache-line round trip {:.0f} -> {} ns, bare ring {:.3g} -> {} msgs/s); their repetitions widen "
      "the cells' spread, which the noisy flags show, and no cell measured next to them is cut on one repetition",
      moved.size(), rounds, range(by, 100.0, "{:.0f}"), start.cacheline_rtt_ns, range(rtt, 1.0, "{:.0f}"),
      start.ring_msgs_per_s, range(ring, 1.0, "{:.3g}"));
}

}  // namespace ipcmatrix
