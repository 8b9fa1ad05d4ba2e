#pragma once
/// @file roles.hpp
/// The role loops, written once against Transport + Serializer: the only place (with
/// stats/) where time is taken and recorded.
///
/// Every message on the wire is an envelope (little-endian) followed by the serialized
/// Message. The envelope is 8 bytes, or 32 on a message that carries timestamps:
///   seq        per-channel sequence number; bit 63 marks a warm-up message, bit 62 a
///              stamped one (latency sampling stamps 1 message in N, see RoleParams)
///   origin_ns  stamped only: when the message was meant to be sent (open loop) or was sent
///   sent_ns    stamped only: when its originator actually sent it
///   hop_ns     stamped only: when the last hop sent it (pipeline stages restamp it)
/// Timestamps come from sys::now_ns(), one calibrated clock for every process on the host.
///
/// What the per-message path does, and nothing more: at most one clock read at each end
/// (only for stamped messages), the sequence check, the content check of the verify mode,
/// a gathered write of envelope + body (or an in-place write into a loaned slot), and a
/// histogram increment for stamped messages. Message bodies are generated before the
/// measured phase; `raw` bodies are sent from and checked in place, never copied by the
/// harness.
///
/// Content check: a sender picks the body of message `seq` on a channel as entry
/// seq % pool of its deterministic pool, so a receiver knows, from the seed, the origin's
/// index and seq alone, what every message must hold. `full` hashes every message; `sampled`
/// checks every message's length and the body's first and last 8 bytes, and hashes the
/// whole message of 1 in kVerifySampleEvery; `off` checks counts and order only. Counts
/// and order are checked on every message in every mode.
///
/// A sender closes its out channels when done; receivers run until every in channel
/// reports peer_closed.

#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmatrix/model/vocabulary.hpp"
#include "ipcmatrix/pattern/topology.hpp"
#include "ipcmatrix/serialize/message.hpp"
#include "ipcmatrix/stats/histogram.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {

/// Body bytes a producer sends between two reads of its clock at most (beyond its latency
/// stamps): how promptly a time-sized window and the warm-up cap end for large messages.
inline constexpr std::uint64_t kClockCheckBytes = 64 * 1024;

inline constexpr std::size_t kEnvelopeBytes = 32;       ///< a stamped message's envelope
inline constexpr std::size_t kSeqEnvelopeBytes = 8;     ///< an unstamped message's envelope
inline constexpr std::uint64_t kWarmupBit = std::uint64_t{1} << 63;
inline constexpr std::uint64_t kStampedBit = std::uint64_t{1} << 62;
/// The sequence word's bits 48..61: the lane, which of the edges sharing one endpoint a
/// message travels on (Topology::connect_shared); 0 on an endpoint of its own. Sequence
/// numbers stay below 2^48 (a year at 8 G msgs/s).
inline constexpr unsigned kLaneShift = 48;
inline constexpr std::uint64_t kLaneLimit = std::uint64_t{1} << 14;
inline constexpr std::uint64_t kSeqMask = (std::uint64_t{1} << kLaneShift) - 1;
/// Encode/decode time is sampled on one message in this many (two clock reads each), so
/// measuring serialization does not double the per-message cost of measurement.
inline constexpr std::uint64_t kSerdeSampleEvery = 64;
/// Verify::sampled hashes the whole message of one in this many.
inline constexpr std::uint64_t kVerifySampleEvery = 64;
/// Warm-up ends after RoleParams::warmup messages or this many seconds, whichever comes
/// first (2,000 warm-up messages of 1 MiB JSON would otherwise take a minute).
inline constexpr double kWarmupCapS = 0.5;
/// With a time window, warm-up is capped at a fifth of the window as well (never below
/// kWarmupMinCapS): a 200 ms window after 500 ms of warm-up spent 70% of a slow cell's time
/// unmeasured (the headline sweep's 1 MiB cells), while caches, page tables and the CPU's
/// clock are warm after tens of milliseconds of traffic. A fifth, not half (until
/// 2026-12-07): three seeds of every pattern at 64 B and 1 MiB over shm, unix and zmq, raw
/// and JSON, with caps of 75, 30 and 20 ms interleaved, put the 30 ms cells' msgs/s at
/// 1.04-1.09x and their round trips at 0.91-1.05x the 75 ms cells' (medians; the cells
/// themselves spread 23-42% between seeds, no wider at 30 ms), and cut a repetition's
/// wall time from 336 to 295 ms; 20 ms spread wider.
inline constexpr double kWarmupWindowFraction = 0.2;
inline constexpr double kWarmupMinCapS = 0.03;
/// Warm-up also ends, before its count or cap, once the sender's rate is steady: this many
/// consecutive slices of kSteadySliceNs or more whose time per message agrees within
/// kSteadyTolerance (15 ms at the least, where a 1 MiB stream spent its whole 100 ms cap).
inline constexpr int kSteadySlices = 3;
inline constexpr std::int64_t kSteadySliceNs = 5'000'000;
inline constexpr double kSteadyTolerance = 0.1;
/// A latency cell's time window stays open past its end until RoleParams::min_messages were
/// measured, but by this much at most: 100 round trips of 1 MiB JSON take 8 s here, and 24
/// such cells took a fifth of the headline run; with 1 s past the window they still took 27 s
/// of it, for 15 samples where 5 give the median as well. Such a cell then has fewer samples,
/// and its report leaves out the percentiles they cannot resolve (a p99 needs 100:
/// Histogram::resolves()). A throughput cell's minimum (20 arrivals, for its rate, shared by
/// its producers) is not capped.
inline constexpr double kMinMessagesExtraS = 0.3;
/// How long a latency cell's window of `duration_s` may last while it waits for its minimum
/// (RoleParams::minimum_max_s).
[[nodiscard]] constexpr double min_messages_max_s(double duration_s) noexcept {
  return duration_s + kMinMessagesExtraS;
}
/// The warm-up cap for a phase: kWarmupCapS, or kWarmupWindowFraction of a time window
/// (at least kWarmupMinCapS, at most kWarmupCapS).
[[nodiscard]] constexpr double warmup_cap_s(double duration_s) noexcept {
  if (!(duration_s > 0)) return kWarmupCapS;
  const double part = duration_s * kWarmupWindowFraction;
  return part < kWarmupMinCapS ? kWarmupMinCapS : (part > kWarmupCapS ? kWarmupCapS : part);
}
/// The latency sampling interval a sender that deals its messages round robin over `lanes`
/// receivers uses for a requested `every`: the next interval coprime with `lanes`, so the
/// stamps rotate over every lane (1 in 64 over two lanes stamped only the first one's, and
/// the second receiver's throughput window never closed). `every` itself for one lane.
[[nodiscard]] constexpr std::uint64_t sample_interval_over(std::uint64_t every, std::uint64_t lanes) noexcept {
  while (every > 1 && lanes > 1 && std::gcd(every, lanes) != 1) ++every;
  return every;
}
/// At most this many distinct messages per sender, and at most kPoolBytes of them (one
/// message when it is larger).
inline constexpr std::size_t kMaxPoolMessages = 16;
/// Every sender builds its pool, and every receiver the same pool again for each origin it
/// checks, after the start and before warm-up: at 1 MiB, 16 entries (16 MiB) took a
/// sender and a receiver ~100 ms each, three times over for a fan-in's consumer, and the
/// headline run spent a quarter of its time between the start and the first measured
/// message. Four entries of 1 MiB still vary the content, and a compressor encodes each
/// message alone.
inline constexpr std::size_t kPoolBytes = std::size_t{4} << 20;
/// A pool entry's body from this size up has its pages mapped at once (sys::populate_for_write).
inline constexpr std::uint64_t kPopulateBytes = 64 * 1024;

/// Test hooks: an originator damages one of its measured messages on purpose so the tests
/// can prove each check catches it.
enum class Fault : std::uint8_t {
  none,
  corrupt,    ///< flip the last body byte of message `fault_at` (sampled and full see it)
  drop,       ///< skip message `fault_at` but count it as sent (a lost message)
  duplicate,  ///< send message `fault_at` twice with the same seq
};
inline constexpr NameTable<Fault, 4> kFaultNames{
    {{{Fault::none, "none"}, {Fault::corrupt, "corrupt"}, {Fault::drop, "drop"}, {Fault::duplicate, "duplicate"}}}};
constexpr const auto& names_of(Fault) noexcept { return kFaultNames; }

/// What one role needs to know about its cell.
struct RoleParams {
  RoleKind role = RoleKind::producer;
  Distribution distribution = Distribution::round_robin;
  int index = 0;                 ///< participant index (seeds its messages)
  std::vector<int> origins;      ///< per in channel: the participant that originated its messages
  /// per out channel: its lane on a shared endpoint (0 on an endpoint of its own)
  std::vector<std::uint32_t> out_lanes;
  /// The in channels all travel over one shared endpoint: one open receiving end, whose
  /// messages' lanes name the in channel (origins.size() of them)
  bool shared_in = false;
  /// The out channels all travel over one fan-out endpoint: one open sending end, each
  /// message sent once for all of them (out_lanes.size() channels, counted alike)
  bool shared_out = false;
  /// The in channels are publish/subscribe (a fan-out endpoint): a message may be missing,
  /// never reordered or repeated; the gaps are counted (ChannelCount::dropped)
  bool lossy = false;
  std::uint64_t size_bytes = 64; ///< message body bytes
  std::string serializer = "raw";
  int zstd_level = 1;
  ContentMode content = ContentMode::records;
  std::uint64_t seed = 1;
  std::uint64_t messages = 1000; ///< measured messages per sender; 0 = no count limit
  std::uint64_t warmup = 100;    ///< unrecorded messages first (capped at warmup_cap_s(duration_s))
  double duration_s = 0;         ///< measured phase limit, seconds; 0 = none. With both
                                 ///< limits set, whichever is reached first ends the phase
  /// The longest a time window waits for min_messages, seconds; 0 = as long as it takes.
  double minimum_max_s = 0;
  std::uint64_t min_messages = 0;  ///< the duration ends the phase only after this many measured
  double rate = 0;               ///< open loop msgs/s per sender; 0 = closed loop
  int batch = 1;                 ///< messages coalesced per send
  bool record_hops = false;      ///< pipeline sink: also record the last hop
  Api api = Api::copy;
  Verify verify = Verify::sampled;
  std::uint64_t latency_sample = 1;  ///< stamp 1 message in N (closed-loop throughput only)
  Fault fault = Fault::none;
  std::uint64_t fault_at = 0;        ///< measured message index the fault hits
};

/// Per-channel accounting, compared by the coordinator between the two ends.
struct ChannelCount {
  std::uint64_t count = 0;      ///< messages (warm-up included)
  bool in_order = true;         ///< receiver: every seq was the expected next one
  std::uint64_t corrupted = 0;  ///< receiver: messages whose checked content was wrong
  std::uint64_t hashed = 0;     ///< receiver: messages whose whole content was hashed
  /// receiver of a lossy channel: sequence numbers skipped (count includes them, so
  /// count - dropped messages arrived)
  std::uint64_t dropped = 0;
};

/// What a role loop hands back.
struct RoleReport {
  std::vector<ChannelCount> sent;      ///< per out channel, in the order given
  std::vector<ChannelCount> received;  ///< per in channel
  std::unique_ptr<Histogram> latency = std::make_unique<Histogram>();    ///< corrected (open loop) / plain
  std::unique_ptr<Histogram> uncorrected = std::make_unique<Histogram>();///< open loop: from the first actual send
  std::unique_ptr<Histogram> hop = std::make_unique<Histogram>();        ///< pipeline: per hop
  std::uint64_t encode_ns = 0, encode_samples = 0;
  std::uint64_t decode_ns = 0, decode_samples = 0;
  std::uint64_t wire_bytes = 0;          ///< bytes of measured messages this role sent (envelope included)
  std::uint64_t wire_msgs = 0;           ///< measured messages this role put on a channel
  std::uint64_t measured_sent = 0;       ///< new measured messages this role emitted (not echoes/forwards)
  std::uint64_t measured_received = 0;   ///< measured messages this role consumed at the end of their path
  std::uint64_t loan_fallbacks = 0;      ///< loan api: messages too large to lend, sent by copy
  std::int64_t first_send_ns = 0;        ///< first measured send (0: none)
  std::int64_t first_recv_ns = 0;        ///< first measured receive at the end of a path (0: none)
  std::int64_t last_recv_ns = 0;         ///< last stamped measured receive (0: none)
  std::uint64_t window_msgs = 0;         ///< measured receives from first_recv_ns to last_recv_ns, both included
  std::uint64_t negative_diffs = 0;      ///< one-way differences below zero (clock skew), recorded as 0
  std::int64_t most_negative_ns = 0;     ///< the most negative of them
  std::int64_t pacer_spin_ns = 0;        ///< open loop: time spent spinning until send times
  std::optional<sys::Usage> usage_start; ///< process usage when the measured phase began here
  std::optional<sys::Usage> usage_end;   ///< and when it ended
  std::int64_t phase_start_ns = 0, phase_end_ns = 0;  ///< the same two moments
  std::string error;                     ///< empty when the loop completed
  void merge(RoleReport&& other);
};

/// Runs `p.role` over open transports (outs/ins in the topology's channel order).
/// Closes the outs when it is done sending. Never throws: failures land in error.
[[nodiscard]] RoleReport run_role(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& outs,
                                  std::vector<std::unique_ptr<Transport>>& ins);

/// The messages sender `index` cycles through for `p` (size, content, seed), in pool order;
/// pool_size(p.size_bytes) of them. Deterministic: both ends build the same pool.
[[nodiscard]] std::vector<Message> message_pool(const RoleParams& p, int index);
/// Entry k of message_pool(p, index), written into `out`, whose body's memory is reused: for
/// a receiver that needs each entry's expected values, not the entries (16 MiB of them at
/// 1 MiB, 50 ms of page faults on this VM, and a receiver's peak memory that was not its own).
void pool_message(const RoleParams& p, int index, std::size_t k, Message& out);
/// How many distinct messages a sender of `size_bytes` bodies cycles through: a power of two
/// (message seq uses entry seq & (pool_size - 1), no division on the hot path).
[[nodiscard]] std::size_t pool_size(std::uint64_t size_bytes) noexcept;

}  // namespace ipcmatrix
