#include "harness_ceiling.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <new>
#include <system_error>
#include <thread>

#include "aggregate.hpp"
#include "launch.hpp"
#include "roudi_for_run.hpp"
#include "ipcmatrix/runner/floor.hpp"
#include "ipcmatrix/runner/placement.hpp"
#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"

namespace ipcmatrix::detail {

namespace {

/// What a sender put on one channel, message by message, in order: the bytes, back to back,
/// and where each message ends. Sized and touched before the loops run, so nothing is
/// allocated or faulted in while they are measured.
struct Recording {
  std::vector<std::byte> bytes;
  std::vector<std::size_t> ends;
  std::size_t used = 0;
  Recording(std::size_t capacity_bytes, std::size_t messages) : bytes(capacity_bytes) { ends.reserve(messages); }
};

/// The sending end of a channel that costs one memory copy and nothing else: no second core,
/// no shared line, no wake-up. Every message is appended to the Recording.
class RecordingEnd final : public Transport {
 public:
  explicit RecordingEnd(std::shared_ptr<Recording> r) : r_(std::move(r)) {}
  [[nodiscard]] IoStatus send(std::span<const std::byte> msg) noexcept override {
    std::byte* at = room(msg.size());
    if (at == nullptr) return full();
    std::memcpy(at, msg.data(), msg.size());
    return end_message(msg.size());
  }
  [[nodiscard]] IoStatus send_gather(std::span<const GatherMessage> msgs) noexcept override {
    for (const GatherMessage& m : msgs) {
      std::byte* at = room(m.size());
      if (at == nullptr) return full();
      std::memcpy(at, m.head.data(), m.head.size());
      if (!m.body.empty()) std::memcpy(at + m.head.size(), m.body.data(), m.body.size());
      if (const IoStatus s = end_message(m.size()); s != IoStatus::ok) return s;
    }
    return IoStatus::ok;
  }
  [[nodiscard]] IoStatus loan(std::size_t len, LoanedSpace& space) noexcept override {
    std::byte* at = room(len);
    if (at == nullptr) return full();
    space = LoanedSpace{{at, len}, {}};
    loaned_ = len;
    return IoStatus::ok;
  }
  [[nodiscard]] IoStatus commit(bool /*publish*/) noexcept override { return end_message(loaned_); }
  [[nodiscard]] IoStatus recv(std::span<std::byte> /*buf*/, std::size_t& /*len*/) noexcept override {
    return fail(std::make_error_code(std::errc::operation_not_supported));
  }

 private:
  std::byte* room(std::size_t n) noexcept {
    if (r_->bytes.size() - r_->used < n || r_->ends.size() == r_->ends.capacity()) return nullptr;
    return r_->bytes.data() + r_->used;
  }
  IoStatus end_message(std::size_t n) noexcept {
    r_->used += n;
    r_->ends.push_back(r_->used);  // within the reserved capacity: room() checked it
    return IoStatus::ok;
  }
  IoStatus full() noexcept { return fail(std::make_error_code(std::errc::no_buffer_space)); }
  std::shared_ptr<Recording> r_;
  std::size_t loaned_ = 0;
};

/// The receiving end that hands back what a RecordingEnd recorded, in order, with the copy a
/// recv() makes (or in place for peek()), then peer_closed, as a channel whose sender closed.
class ReplayEnd final : public Transport {
 public:
  explicit ReplayEnd(std::shared_ptr<const Recording> r) : r_(std::move(r)) {}
  [[nodiscard]] IoStatus send(std::span<const std::byte> /*msg*/) noexcept override {
    return fail(std::make_error_code(std::errc::operation_not_supported));
  }
  [[nodiscard]] IoStatus recv(std::span<std::byte> buf, std::size_t& len) noexcept override {
    if (next_ == r_->ends.size()) return IoStatus::peer_closed;
    const std::size_t begin = next_ == 0 ? 0 : r_->ends[next_ - 1];
    len = r_->ends[next_] - begin;
    if (len > buf.size()) return fail(std::make_error_code(std::errc::message_size));
    std::memcpy(buf.data(), r_->bytes.data() + begin, len);
    ++next_;
    return IoStatus::ok;
  }
  [[nodiscard]] IoStatus try_recv(std::span<std::byte> buf, std::size_t& len) noexcept override {
    return recv(buf, len);
  }
  [[nodiscard]] IoStatus peek(MessageView& msg) noexcept override {
    if (next_ == r_->ends.size()) return IoStatus::peer_closed;
    const std::size_t begin = next_ == 0 ? 0 : r_->ends[next_ - 1];
    msg = MessageView{{r_->bytes.data() + begin, r_->ends[next_] - begin}, {}};
    return IoStatus::ok;
  }
  void release() noexcept override { ++next_; }

 private:
  std::shared_ptr<const Recording> r_;
  std::size_t next_ = 0;
};

/// Participant p's loop as a ceiling runs it: closed loop, and one channel per edge, never a
/// shared endpoint (a recording and an SPSC ring each have one sender).
RoleParams ceiling_params(const Cell& c, const RunConfig& limits, const Topology& topo, std::size_t p,
                          std::uint64_t seed) {
  RoleParams params = role_params(c, limits, topo, p, seed);
  params.rate = 0;
  params.out_lanes.clear();
  params.shared_in = false;
  params.shared_out = false;
  params.lossy = false;
  return params;
}

/// Bytes all recordings of one ceiling run may hold together. Small enough to stream
/// through the caches: a recording of 64 MiB made 64 KiB messages slower alone than through
/// a 256 KiB ring, whose memory is reused while hot (measured 2.1e5 against 2.7e5 msgs/s),
/// and a ceiling below the cell is no ceiling.
constexpr std::size_t kRecordingBytes = std::size_t{16} << 20;
/// Fewer messages than this per channel say too little about a rate: the cell keeps the ring
/// ceiling (at 16 MiB, messages above ~16 KiB do).
constexpr std::uint64_t kRecordingMinMessages = 1000;

/// msgs/s of one role's measured phase, alone: the deliveries a producer's messages make (one
/// per out channel when it sends each to all), a consumer's receives from the first to the
/// last measured one.
double alone_rate(const RoleReport& r, bool producer, std::size_t copies) {
  if (producer) {
    const std::int64_t ns = r.phase_end_ns - r.phase_start_ns;
    return ns > 0 ? static_cast<double>(r.measured_sent * copies) * 1e9 / static_cast<double>(ns) : 0;
  }
  if (r.last_recv_ns > r.first_recv_ns && r.window_msgs > 1)
    return static_cast<double>(r.window_msgs - 1) * 1e9 / static_cast<double>(r.last_recv_ns - r.first_recv_ns);
  const std::int64_t ns = r.phase_end_ns - r.phase_start_ns;
  return ns > 0 ? static_cast<double>(r.measured_received) * 1e9 / static_cast<double>(ns) : 0;
}

}  // namespace

std::optional<double> copy_only_ceiling(const Cell& c, const RunConfig& cfg, const Topology& topo) {
  for (const Participant& p : topo.participants)
    if (p.role != RoleKind::producer && p.role != RoleKind::consumer) return std::nullopt;
  const std::size_t channels = topo.channels.size();
  if (channels == 0) return std::nullopt;
  // Room for the envelope and a serializer's growth beyond the body.
  const std::size_t msg_bytes = largest_message_bytes(c.serializer, c.size_bytes) + 64;
  const std::size_t per_channel = kRecordingBytes / channels;
  RunConfig limits = cfg;
  limits.duration_s = 0;  // exactly the recorded count, end to end
  limits.warmup = std::min<std::uint64_t>(cfg.warmup, 1000);
  // A producer spreads its messages over its out channels; the fullest gets them all at worst.
  const std::uint64_t fit = per_channel / msg_bytes;
  if (fit < limits.warmup + kRecordingMinMessages) return std::nullopt;
  limits.messages = std::min<std::uint64_t>(kCeilingMessages, fit - limits.warmup);
  std::vector<std::shared_ptr<Recording>> recordings;
  for (std::size_t ch = 0; ch < channels; ++ch) {
    recordings.push_back(std::make_shared<Recording>(per_channel, limits.messages + limits.warmup + 16));
    std::memset(recordings.back()->bytes.data(), 0, recordings.back()->bytes.size());  // faulted in now
  }
  // The recording channel ch's messages are in: its own, or its publisher's one.
  const auto source_of = [&](int ch) {
    const Edge& e = topo.channels[static_cast<std::size_t>(ch)];
    const auto from = static_cast<std::size_t>(e.from);
    return static_cast<std::size_t>(topo.sends_fan_out(from) ? topo.participants[from].outs.front() : ch);
  };
  double produced = 0, consumed = 0;
  for (const bool producers : {true, false}) {
    for (std::size_t p = 0; p < topo.participants.size(); ++p) {
      const Participant& part = topo.participants[p];
      if ((part.role == RoleKind::producer) != producers) continue;
      RoleParams params = ceiling_params(c, limits, topo, p, cfg.seed);
      std::vector<std::unique_ptr<Transport>> outs, ins;
      if (topo.sends_fan_out(p)) {
        // A publisher writes each message once, whatever its subscribers: one recording,
        // which each of them replays (source_of()).
        params.shared_out = true;
        params.out_lanes.assign(part.outs.size(), 0);
        outs.push_back(std::make_unique<RecordingEnd>(recordings[static_cast<std::size_t>(part.outs.front())]));
      } else {
        for (const int ch : part.outs) outs.push_back(std::make_unique<RecordingEnd>(recordings[static_cast<std::size_t>(ch)]));
      }
      for (const int ch : part.ins) ins.push_back(std::make_unique<ReplayEnd>(recordings[source_of(ch)]));
      const RoleReport r = run_role(params, outs, ins);
      if (!r.error.empty()) return std::nullopt;
      const std::size_t copies = topo.distribution == Distribution::all ? part.outs.size() : 1;
      (producers ? produced : consumed) += alone_rate(r, producers, copies);
    }
  }
  if (!(produced > 0) || !(consumed > 0)) return std::nullopt;
  return std::min(produced, consumed);
}

namespace {

std::optional<double> ceiling_here(const Cell& c, const RunConfig& cfg) {
  Repetition rep;
  rep.topology = make_topology(*c.pattern, c.procs);
  const Topology& topo = rep.topology;
  if (const std::optional<double> copy_only = copy_only_ceiling(c, cfg, topo)) return copy_only;

  // The ring of the shm mechanism, both ends in this process: memory copies and two
  // atomics, nothing of a kernel object. Spinning only while every thread has a CPU, and
  // then each participant pinned to a CPU of its own: left to the scheduler, two spinning
  // threads were often put on one CPU and measured a ceiling of 0.4 M msgs/s where the
  // cell itself moved 20 M (and was then wrongly called harness-bound).
  const std::vector<int> cpus = sys::allowed_cpus();
  std::size_t threads = 0;
  bool one_thread_each = true;
  for (const auto& p : topo.participants) {
    threads += p.threads();
    one_thread_each = one_thread_each && p.threads() == 1;
  }
  const bool spin = threads <= cpus.size();
  const bool pin = spin && one_thread_each;
  ChannelOptions opts;
  opts.wait = spin ? Wait::spin : Wait::hybrid;
  Cell in_memory = c;
  in_memory.mechanism = &find_transport("shm");
  opts.capacity_bytes = ring_bytes_for(in_memory, cfg, topo.channels.size(), sys::free_bytes("/dev/shm"));
  std::vector<LocalPair> pairs;
  for (std::size_t i = 0; i < topo.channels.size(); ++i) pairs.push_back(open_local_pair(*in_memory.mechanism, opts));

  RunConfig limits = cfg;
  limits.messages = cfg.messages == 0 ? kCeilingMessages : std::min(cfg.messages, kCeilingMessages);
  limits.duration_s = kCeilingDurationS;
  limits.warmup = std::min<std::uint64_t>(cfg.warmup, 1000);

  rep.reports.resize(topo.participants.size());
  std::vector<std::thread> workers;
  for (std::size_t p = 0; p < topo.participants.size(); ++p) {
    const Participant& part = topo.participants[p];
    RoleParams params = ceiling_params(c, limits, topo, p, cfg.seed);
    std::vector<std::unique_ptr<Transport>> outs, ins;
    for (const int ch : part.outs) outs.push_back(std::move(pairs[static_cast<std::size_t>(ch)].sender));
    for (const int ch : part.ins) ins.push_back(std::move(pairs[static_cast<std::size_t>(ch)].receiver));
    const int cpu = pin ? cpus[p % cpus.size()] : -1;
    workers.emplace_back([&rep, p, cpu, params = std::move(params), outs = std::move(outs), ins = std::move(ins)]() mutable {
      try {
        if (cpu >= 0) sys::pin_to_cpu(cpu);  // this thread only (sched_setaffinity of tid 0)
      } catch (const std::exception&) {
        // Left unpinned: the ceiling may then come out low, never the run fail.
      }
      rep.reports[p].role = run_role(params, outs, ins);
    });
  }
  for (auto& w : workers) w.join();
  for (const auto& r : rep.reports)
    if (!r.role.error.empty()) return std::nullopt;
  const CellResult f = figures(c, limits, rep);
  if (!(f.throughput.msgs_per_s > 0)) return std::nullopt;
  return f.throughput.msgs_per_s;
}

}  // namespace

std::optional<double> harness_ceiling(const Cell& c, const RunConfig& cfg) {
  // In a child: the run's pools, recordings and rings (tens of MiB at 1 MiB) stayed in
  // glibc's thread arenas after it, which malloc_trim does not shrink, and every later
  // worker's fork copied their page tables (a coordinator of 200 MiB after a headline's
  // first 1 MiB ceilings). The child's memory goes with it.
  sys::SharedAnonymous mem(sizeof(double));
  auto* out = new (mem.get()) double(-1);
  sys::Child child = sys::fork_child([&] {
    *out = ceiling_here(c, cfg).value_or(-1);
    return 0;
  });
  const auto waited = std::chrono::milliseconds(static_cast<std::int64_t>(cfg.cell_timeout_s * 1000));
  const std::optional<sys::ExitStatus> st = child.wait_for(waited);
  if (!st) child.kill_and_reap();
  if (!st || !st->ok() || !(*out > 0)) return std::nullopt;
  return *out;
}

std::optional<double> bare_transport(const Cell& c, const RunConfig& cfg, const std::vector<int>& cpus,
                                     std::size_t wire_bytes) {
  // The bare loop copies: it says nothing of how fast a loan cell's mechanism can go.
  if (needs_roudi(c) || c.api != Api::copy || wire_bytes == 0) return std::nullopt;
  const Topology topo = make_topology(*c.pattern, c.procs);
  if (topo.participants.size() != 2 || topo.channels.size() != 1) return std::nullopt;
  std::optional<std::size_t> producer, consumer;
  for (std::size_t p = 0; p < 2; ++p) {
    if (topo.participants[p].role == RoleKind::producer) producer = p;
    if (topo.participants[p].role == RoleKind::consumer) consumer = p;
  }
  if (!producer || !consumer) return std::nullopt;
  try {
    return bare_stream(*c.mechanism, channel_options(c, cfg, 1), wire_bytes, c.batch,
                       cpu_for(c.placement, cpus, *producer), cpu_for(c.placement, cpus, *consumer),
                       static_cast<std::int64_t>(kBareDurationS * 1e9));
  } catch (const std::exception&) {
    return std::nullopt;  // no bare figure: the cell keeps its flag, the run goes on
  }
}

}  // namespace ipcmatrix::detail
