#pragma once
/// @file receiver.hpp
/// Receiver: receives on a role's in channels and checks every message (count, order,
/// content per --verify), records latency, hop and serializer figures into the RoleReport.
///
/// Part of roles.cpp's translation unit, included by it alone. Its contents sit in an
/// anonymous namespace, as they did inside roles.cpp, so the compiler sees and inlines the
/// hot loops across these files exactly as when they were one file (bench_matrix_vs_bare
/// measured the matrix-vs-bare ratios before and after the split, interleaved).
#ifndef IPCMATRIX_ROLES_TU
#error "receiver.hpp is part of roles.cpp's translation unit; include it only from there"
#endif

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "content_check.hpp"
#include "envelope.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/util/aligned_buffer.hpp"

namespace ipcmatrix {
namespace {

/// Receives and checks messages; shared by every receiving role.
class Receiver {
  // What the per-message path needs of channel c, one load away.
  struct InChannel {
    ChannelCount* count;    // r_.received[c]
    const Expected* pool;   // expected_[c] (null with verify off)
    std::uint64_t pool_mask;
  };

 public:
  /// n_ins: the role's open in transports. With p.shared_in the one transport carries
  /// p.origins.size() in channels, told apart by the lane in each message's sequence word.
  Receiver(const RoleParams& p, std::size_t n_ins, RoleReport& r)
      : p_(p), r_(r), ser_(make_serializer(p.serializer, serializer_options(p))), raw_(ser_->body_only()),
        timed_(p.role != RoleKind::echo), shared_(p.shared_in), lossy_(p.lossy) {
    if (shared_) n_ins = p.origins.size();
    r_.received.resize(n_ins);
    if (p.api == Api::copy) {
      // Worst case wire size: the encoded record can exceed the body (json's base64 is 4/3).
      buf_.resize(kEnvelopeBytes + p.size_bytes * 2 + 65536);
    }
    if (p.verify != Verify::off) {
      for (std::size_t c = 0; c < n_ins; ++c) {
        const int origin = c < p.origins.size() ? p.origins[c] : 0;
        expected_.push_back(expected_pool(p, origin, *ser_));
      }
    }
    for (std::size_t c = 0; c < n_ins; ++c) {
      const bool checked = c < expected_.size();
      in_.push_back({&r_.received[c], checked ? expected_[c].data() : nullptr, checked ? expected_[c].size() - 1 : 0});
    }
  }

  /// Receives one message from `in` and checks it. On ok, envelope(), body() (raw) or
  /// message() (decoded) hold it until done().
  ///
  /// Pieces of the message travel as pointer and length scalars, never as span or view
  /// objects: g++ copies those 16 bytes at a time, and a 16-byte load of a view just stored
  /// as two 8-byte halves stalls on store-to-load forwarding (perf put half of a 64 B
  /// stream receiver's time on two such loads).
  [[gnu::always_inline]] IoStatus receive(Transport& in, std::size_t ch) noexcept {
    const std::byte* p = nullptr;         // the message's first (nearly always only) piece
    std::size_t n = 0;
    std::span<const std::byte> wrapped;   // a loan's piece after the end of a ring
    if (p_.api == Api::loan) {
      MessageView v;
      if (const IoStatus s = in.peek(v); s != IoStatus::ok) return s;
      p = v.first.data();
      n = v.first.size();
      wrapped = v.second;
    } else {
      if (const IoStatus s = in.recv(buf_, n); s != IoStatus::ok) return s;
      p = buf_.data();
    }
    return accept(p, n, wrapped, ch);
  }

  /// Whether run_plain() may serve this receiver: one in channel, the copy api, raw bodies
  /// of at least 8 bytes, sampled or no content check, a role that records times.
  [[nodiscard]] bool plain_path_applies() const noexcept {
    return in_.size() == 1 && p_.api == Api::copy && raw_ && timed_ && p_.verify != Verify::full &&
           p_.size_bytes >= 8;
  }

  /// receive() and record_delivery() on channel 0 until it closes or fails: returns what
  /// ended it. The common message (unstamped, and not the first measured one) is checked
  /// and counted here with the channel's count and the measured count kept in registers
  /// across the transport's recv; any other message takes receive()'s own path. Same
  /// checks, same records (a test holds them to it): perf put a pipe consumer's
  /// per-message bookkeeping at a sixth of its time next to the bare one.
  IoStatus run_plain(Transport& in, bool pipeline_sink) noexcept {
    // Copies, not references into members: the compiler keeps locals in registers across
    // the transport's virtual recv, where it must reload members after each call.
    const InChannel in_ch = in_[0];
    ChannelCount& c = *in_ch.count;
    const bool check = p_.verify == Verify::sampled;
    const bool lossy = lossy_;
    const std::span<std::byte> buf = buf_;
    std::uint64_t count = c.count;
    std::uint64_t measured = r_.measured_received;
    bool started = r_.first_recv_ns != 0;  // the first measured message was recorded
    while (true) {
      std::size_t n = 0;
      IoStatus s = in.recv(buf, n);
      if (s == IoStatus::ok && n >= kSeqEnvelopeBytes) {
        const std::uint64_t word = sys::load_le64(buf.data());
        const bool warm = (word & kWarmupBit) != 0;
        if ((word & kStampedBit) == 0 && (warm || started)) [[likely]] {
          const std::uint64_t seq = word & ~kWarmupBit;
          if (lossy) skip_dropped(seq, count, c.dropped);
          if (seq != count) c.in_order = false;
          if (check && !content_ok(c, in_ch, Verify::sampled, seq, count, buf.data() + kSeqEnvelopeBytes,
                                   n - kSeqEnvelopeBytes, {}))
            ++c.corrupted;
          ++count;
          if (!warm) ++measured;
          continue;
        }
      }
      // Anything else: the general path, with the counts handed over and back.
      c.count = count;
      r_.measured_received = measured;
      if (s == IoStatus::ok) s = accept(buf.data(), n, {}, 0);
      if (s != IoStatus::ok) return s;
      record_delivery(pipeline_sink);
      count = c.count;
      measured = r_.measured_received;
      started = r_.first_recv_ns != 0;
    }
  }

 private:
  /// The message of n bytes at p (then `wrapped`, a loan's piece after the end of a ring)
  /// from channel ch: envelope, order, content; receive()'s work after the transport's.
  [[gnu::always_inline]] IoStatus accept(const std::byte* p, std::size_t n, std::span<const std::byte> wrapped,
                                         std::size_t ch) noexcept {
    std::size_t env_len = 0;
    const std::byte* bp = nullptr;        // the body, likewise: (bp, bn) then bw
    std::size_t bn = 0;
    std::span<const std::byte> bw;
    if (wrapped.empty()) {
      env_len = read_envelope(p, n);
      bp = p + env_len;
      bn = n - env_len;
    } else {
      const MessageView whole{{p, n}, wrapped};
      EnvelopeBytes e;
      whole.read(0, e.data(), std::min(e.size(), whole.size()));
      env_len = read_envelope(e.data(), whole.size());
      const MessageView body = tail_of(whole, env_len);
      bp = body.first.data();
      bn = body.first.size();
      bw = body.second;
    }
    if (env_len == 0) {
      r_.error = "message shorter than its envelope on channel " + std::to_string(ch);
      return IoStatus::error;
    }
    body_ = {{bp, bn}, bw};
    warm_ = (env_.seq & kWarmupBit) != 0;
    std::uint64_t seq = env_.seq & ~(kWarmupBit | kStampedBit);
    if (shared_) {
      // One endpoint, several in channels: the lane says whose message this is.
      ch = static_cast<std::size_t>(seq >> kLaneShift);
      seq &= kSeqMask;
      if (ch >= in_.size()) {
        r_.error = "message on lane " + std::to_string(ch) + " of a shared endpoint with " +
                   std::to_string(in_.size()) + " senders";
        return IoStatus::error;
      }
    }
    const InChannel& in_ch = in_[ch];
    ChannelCount& c = *in_ch.count;
    if (lossy_) skip_dropped(seq, c.count, c.dropped);
    if (seq != c.count) c.in_order = false;
    // One clock read, only where it is used: a stamped message, or the first measured one
    // (the start of the throughput window); never at an echo, which records nothing.
    stamped_ = env_.origin_ns != 0;
    if (timed_ && (stamped_ || (!warm_ && r_.first_recv_ns == 0))) now_ = sys::now_ns();
    if (raw_) {
      if (p_.verify != Verify::off && !content_ok(c, in_ch, p_.verify, seq, c.count, bp, bn, bw)) ++c.corrupted;
    } else {
      if (!decode(c, ch, bp, bn, bw)) return IoStatus::error;
      if (p_.verify != Verify::off &&
          !content_ok(c, in_ch, p_.verify, seq, c.count, msg_.body.data(), msg_.body.size(), {}))
        ++c.corrupted;
    }
    ++c.count;
    return IoStatus::ok;
  }

 public:
  /// Ends the use of the message just received (gives a loaned slot back).
  void done(Transport& in) noexcept {
    if (p_.api == Api::loan) in.release();
  }

  /// Records the message just received as the end of its path.
  [[gnu::always_inline]] void record_delivery(bool hop_too) noexcept {
    if (warm_) return;
    ++r_.measured_received;
    if (r_.first_recv_ns == 0) {
      r_.first_recv_ns = now_;
      if (r_.phase_start_ns == 0) {  // an initiator's phase began at its first send
        r_.phase_start_ns = now_;
        r_.usage_start = sys::self_usage();
      }
    }
    if (!stamped_) return;
    record_one_way(*r_.latency, now_, env_.origin_ns);
    if (p_.rate > 0) record_one_way(*r_.uncorrected, now_, env_.sent_ns);
    if (hop_too) record_one_way(*r_.hop, now_, env_.hop_ns);
    r_.last_recv_ns = now_;
    r_.window_msgs = r_.measured_received;
  }
  void record_hop() noexcept {
    if (!warm_ && stamped_) record_one_way(*r_.hop, now_, env_.hop_ns);
  }

  [[nodiscard]] bool raw() const noexcept { return raw_; }
  [[nodiscard]] const Message& message() const noexcept { return msg_; }
  [[nodiscard]] const MessageView& body() const noexcept { return body_; }
  [[nodiscard]] const Envelope& envelope() const noexcept { return env_; }
  [[nodiscard]] bool warm() const noexcept { return warm_; }
  [[nodiscard]] bool stamped() const noexcept { return stamped_; }

 private:
  // The envelope at p into env_ (seq keeps its warm-up bit, loses the stamped one); its
  // size, or 0 when a message of n bytes is too short to hold it. p holds min(n, 32) bytes.
  std::size_t read_envelope(const std::byte* p, std::size_t n) noexcept {
    if (n < kSeqEnvelopeBytes) return 0;
    const std::uint64_t word = sys::load_le64(p);
    env_.seq = word & ~kStampedBit;
    env_.origin_ns = 0;  // not stamped; sent_ns and hop_ns mean nothing then
    if ((word & kStampedBit) == 0) return kSeqEnvelopeBytes;
    if (n < kEnvelopeBytes) return 0;
    env_.origin_ns = static_cast<std::int64_t>(sys::load_le64(p + 8));
    env_.sent_ns = static_cast<std::int64_t>(sys::load_le64(p + 16));
    env_.hop_ns = static_cast<std::int64_t>(sys::load_le64(p + 24));
    return kEnvelopeBytes;
  }

  // Publish/subscribe: a seq ahead of the next expected one means the messages in between
  // were dropped for this receiver; they are counted and the count moves past them (a seq
  // behind stays out of order).
  [[gnu::always_inline]] static void skip_dropped(std::uint64_t seq, std::uint64_t& count,
                                                  std::uint64_t& dropped) noexcept {
    if (seq <= count) return;
    dropped += seq - count;
    count = seq;
  }

  // One-way differences across processes can come out below zero when CPUs' clocks
  // disagree: recorded as 0 but counted, never hidden.
  void record_one_way(Histogram& h, std::int64_t later, std::int64_t earlier) noexcept {
    const std::int64_t d = later - earlier;
    if (d < 0) {
      ++r_.negative_diffs;
      r_.most_negative_ns = std::min(r_.most_negative_ns, d);
    }
    h.record(d > 0 ? static_cast<std::uint64_t>(d) : 0);
  }

  bool decode(const ChannelCount& c, std::size_t ch, const std::byte* bp, std::size_t bn,
              std::span<const std::byte> bw) noexcept {
    std::span<const std::byte> bytes(bp, bn);
    if (!bw.empty()) {
      // Wrapped around the end of a ring: serializers need one contiguous piece.
      const MessageView body{{bp, bn}, bw};
      scratch_.resize(body.size());
      body.read(0, scratch_.data(), scratch_.size());
      bytes = scratch_;
    }
    const bool sample = (c.count % kSerdeSampleEvery) == 0;
    const std::int64_t t0 = sample ? sys::now_ns() : 0;
    try {
      ser_->decode(bytes, msg_);
    } catch (const std::exception& e) {
      r_.error = "decode failed on channel " + std::to_string(ch) + ": " + e.what();
      return false;
    }
    if (sample) {
      r_.decode_ns += serde_diff(sys::now_ns(), t0);
      ++r_.decode_samples;
    }
    return true;
  }

  // The decoded body (raw: the body as received) is (bp, bn) followed by bw; `index` is how
  // many messages the channel delivered before this one (sampled hashes index % 64 == 0).
  // Inlined into receive(): the length and edge checks are a few loads; the whole-message
  // hash (every message under full, 1 in 64 under sampled) stays out of line.
  [[gnu::always_inline]] bool content_ok(ChannelCount& c, const InChannel& in_ch, Verify verify, std::uint64_t seq,
                                         std::uint64_t index, const std::byte* bp, std::size_t bn,
                                         std::span<const std::byte> bw) noexcept {
    const Expected& want = in_ch.pool[seq & in_ch.pool_mask];
    if (bn + bw.size() != want.len) return false;
    if (verify == Verify::sampled) {
      std::uint64_t head = 0, tail = 0;
      if (bw.empty() && bn >= 8) [[likely]] {  // two loads
        head = sys::load_le64(bp);
        tail = sys::load_le64(bp + bn - 8);
      } else {
        const MessageView body{{bp, bn}, bw};
        head = head8(body);
        tail = tail8(body);
      }
      if (head != want.head || tail != want.tail) return false;
    }
    if (verify == Verify::full || index % kVerifySampleEvery == 0) return hash_ok(c, want, bp, bn, bw);
    return true;
  }

  [[gnu::noinline]] bool hash_ok(ChannelCount& c, const Expected& want, const std::byte* bp, std::size_t bn,
                                 std::span<const std::byte> bw) noexcept {
    ++c.hashed;
    const std::uint64_t sum = raw_ ? checksum_body_only({bp, bn}, bw) : checksum(msg_);
    return sum == want.sum;
  }

  const RoleParams& p_;
  RoleReport& r_;
  std::unique_ptr<Serializer> ser_;
  bool raw_;
  bool timed_;  // this role records times (every role but the pingpong echo)
  bool shared_;  // one transport, several in channels: the lane picks the channel
  bool lossy_;   // publish/subscribe: gaps are drops, counted; going back is still an error
  std::vector<std::vector<Expected>> expected_;  // per in channel
  std::vector<InChannel> in_;
  AlignedBuffer buf_;  // page-aligned: see util/aligned_buffer.hpp
  std::vector<std::byte> scratch_;
  MessageView body_;
  Message msg_;
  Envelope env_;
  std::int64_t now_ = 0;
  bool warm_ = false, stamped_ = false;
};

}  // namespace
}  // namespace ipcmatrix
