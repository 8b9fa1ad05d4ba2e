#pragma once
/// @file roles.hpp
/// The role loops, written once against Transport + Serializer: the only place (with
/// stats/) where time is taken and recorded.
///
/// Every message on the wire is an Envelope (24 bytes, little-endian) followed by the
/// serialized Message:
///   seq        per-channel sequence number; bit 63 marks a warm-up message
///   origin_ns  when the message was meant to be sent (open loop) or was created
///   send_ns    when this hop sent it (pipeline hops restamp it)
/// All timestamps are CLOCK_MONOTONIC, one clock for every process on the host.
///
/// A sender closes its out channels when done; receivers run until every in channel
/// reports peer_closed. Counts, per-channel order and checksums are kept per channel so
/// the coordinator can prove every message arrived exactly once and intact.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ipcmatrix/pattern/topology.hpp"
#include "ipcmatrix/serialize/message.hpp"
#include "ipcmatrix/stats/histogram.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {

inline constexpr std::size_t kEnvelopeBytes = 24;
inline constexpr std::uint64_t kWarmupBit = std::uint64_t{1} << 63;
/// Encode/decode time is sampled on one message in this many (two clock reads each), so
/// measuring serialization does not double the per-message cost of measurement.
inline constexpr std::uint64_t kSerdeSampleEvery = 64;
/// Warm-up ends after RoleParams::warmup messages or this many seconds, whichever comes
/// first (2,000 warm-up messages of 1 MiB JSON would otherwise take a minute).
inline constexpr double kWarmupCapS = 0.5;

/// What one role needs to know about its cell.
struct RoleParams {
  RoleKind role = RoleKind::producer;
  Distribution distribution = Distribution::round_robin;
  int index = 0;                 ///< participant index (seeds its messages)
  std::uint64_t size_bytes = 64; ///< message body bytes
  std::string serializer = "raw";
  int zstd_level = 1;
  ContentMode content = ContentMode::records;
  std::uint64_t seed = 1;
  std::uint64_t messages = 1000; ///< measured messages per sender; 0 = no count limit
  std::uint64_t warmup = 100;    ///< unrecorded messages first (capped at kWarmupCapS)
  double duration_s = 0;         ///< measured phase limit, seconds; 0 = none. With both
                                 ///< limits set, whichever is reached first ends the phase
  double rate = 0;               ///< open loop msgs/s per sender; 0 = closed loop
  int batch = 1;                 ///< messages coalesced per send_batch
  bool record_hops = false;      ///< pipeline sink: also record the last hop
};

/// Per-channel accounting, compared by the coordinator between the two ends.
struct ChannelCount {
  std::uint64_t count = 0;  ///< messages (warm-up included)
  std::uint64_t sum = 0;    ///< wrapping sum of checksum(decoded message)
  bool in_order = true;     ///< receiver: every seq was the expected next one
};

/// What a role loop hands back.
struct RoleReport {
  std::vector<ChannelCount> sent;      ///< per out channel, in the order given
  std::vector<ChannelCount> received;  ///< per in channel
  std::unique_ptr<Histogram> latency = std::make_unique<Histogram>();    ///< corrected (open loop) / plain
  std::unique_ptr<Histogram> uncorrected = std::make_unique<Histogram>();///< open loop: from actual send
  std::unique_ptr<Histogram> hop = std::make_unique<Histogram>();        ///< pipeline: per hop
  std::uint64_t encode_ns = 0, encode_samples = 0;
  std::uint64_t decode_ns = 0, decode_samples = 0;
  std::uint64_t wire_bytes = 0;          ///< bytes of measured messages this role sent (envelope included)
  std::uint64_t wire_msgs = 0;           ///< measured messages this role put on a channel
  std::uint64_t measured_sent = 0;       ///< new measured messages this role emitted (not echoes/forwards)
  std::uint64_t measured_received = 0;   ///< measured messages this role consumed at the end of their path
  std::int64_t first_send_ns = 0;        ///< first measured send (0: none)
  std::int64_t last_recv_ns = 0;         ///< last measured receive (0: none)
  std::string error;                     ///< empty when the loop completed
  void merge(RoleReport&& other);
};

/// Runs `p.role` over open transports (outs/ins in the topology's channel order).
/// Closes the outs when it is done sending. Never throws: failures land in error.
[[nodiscard]] RoleReport run_role(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& outs,
                                  std::vector<std::unique_ptr<Transport>>& ins);

}  // namespace ipcmatrix
