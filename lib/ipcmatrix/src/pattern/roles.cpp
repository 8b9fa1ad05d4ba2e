#include "ipcmatrix/pattern/roles.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <exception>
#include <thread>
#include <type_traits>

#include "ipcmatrix/serialize/serializer.hpp"
#include "ipcmatrix/sys/byte_order.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/posix.hpp"

namespace ipcmatrix {

namespace {

struct Envelope {
  std::uint64_t seq = 0;
  std::int64_t origin_ns = 0;  // 0: not stamped
  std::int64_t sent_ns = 0;
  std::int64_t hop_ns = 0;
};

using EnvelopeBytes = std::array<std::byte, kEnvelopeBytes>;

/// Writes e (seq already carrying the warm-up bit) and returns its size: 8 bytes, or 32
/// when it carries timestamps (origin_ns != 0).
std::size_t put_envelope(std::byte* p, const Envelope& e) noexcept {
  if (e.origin_ns == 0) {
    sys::store_le64(p, e.seq);
    return kSeqEnvelopeBytes;
  }
  sys::store_le64(p, e.seq | kStampedBit);
  sys::store_le64(p + 8, static_cast<std::uint64_t>(e.origin_ns));
  sys::store_le64(p + 16, static_cast<std::uint64_t>(e.sent_ns));
  sys::store_le64(p + 24, static_cast<std::uint64_t>(e.hop_ns));
  return kEnvelopeBytes;
}

std::uint64_t mix(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t z = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  return z ^ (z >> 31);
}

SerializerOptions serializer_options(const RoleParams& p) {
  SerializerOptions o;
  o.zstd_level = p.zstd_level;
  // Decoding caps follow the cell's own size (plus record overhead and base64 growth),
  // so hostile or corrupt input cannot make a receiver allocate beyond that.
  o.max_decoded_bytes = std::max<std::size_t>(p.size_bytes * 2 + 4096, std::size_t{1} << 20);
  return o;
}

std::uint64_t stamp_diff(std::int64_t later, std::int64_t earlier) noexcept {
  return later > earlier ? static_cast<std::uint64_t>(later - earlier) : 0;
}

/// A sampled encode/decode interval without the cost of the clock read inside it.
std::uint64_t serde_diff(std::int64_t later, std::int64_t earlier) noexcept {
  return stamp_diff(later - sys::clock_read_cost_ns(), earlier);
}

std::string describe(std::string_view what, std::size_t ch, const Transport& t, IoStatus s) {
  std::string m(what);
  m += " on channel " + std::to_string(ch) + ": " + std::string(to_string(s));
  if (s == IoStatus::error) m += " (" + t.error().message() + ")";
  return m;
}

/// The bytes of `v` from offset `off` on.
MessageView tail_of(const MessageView& v, std::size_t off) noexcept {
  if (off <= v.first.size()) return {v.first.subspan(off), v.second};
  return {v.second.subspan(std::min(off - v.first.size(), v.second.size())), {}};
}

/// Up to 8 bytes of `v` at `off`, little-endian, zero-padded: how bodies are compared at
/// their edges.
std::uint64_t edge_of(const MessageView& v, std::size_t off) noexcept {
  std::array<std::byte, 8> b{};
  const std::size_t n = std::min<std::size_t>(8, v.size() - std::min(off, v.size()));
  v.read(off, b.data(), n);
  return sys::load_le64(b.data());
}

std::uint64_t head8(const MessageView& body) noexcept { return edge_of(body, 0); }
std::uint64_t tail8(const MessageView& body) noexcept { return edge_of(body, body.size() - std::min<std::size_t>(8, body.size())); }

/// What a receiver checks one pool entry against.
struct Expected {
  std::uint64_t len = 0;    ///< decoded body length
  std::uint64_t head = 0;   ///< its first 8 bytes
  std::uint64_t tail = 0;   ///< its last 8 bytes
  std::uint64_t sum = 0;    ///< checksum of the decoded message
};

std::vector<Expected> expected_pool(const RoleParams& p, int origin, const Serializer& ser) {
  std::vector<Expected> out;
  std::vector<std::byte> enc;
  Message back;
  for (const Message& m : message_pool(p, origin)) {
    ser.encode(m, enc);
    ser.decode(enc, back);
    const MessageView body{back.body, {}};
    out.push_back({back.body.size(), head8(body), tail8(body), checksum(back)});
  }
  return out;
}

/// Receives and checks messages; shared by every receiving role.
class Receiver {
  // What the per-message path needs of channel c, one load away.
  struct InChannel {
    ChannelCount* count;    // r_.received[c]
    const Expected* pool;   // expected_[c] (null with verify off)
    std::uint64_t pool_mask;
  };

 public:
  Receiver(const RoleParams& p, std::size_t n_ins, RoleReport& r)
      : p_(p), r_(r), ser_(make_serializer(p.serializer, serializer_options(p))), raw_(ser_->body_only()),
        timed_(p.role != RoleKind::echo) {
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
    const std::uint64_t seq = env_.seq & ~(kWarmupBit | kStampedBit);
    const InChannel& in_ch = in_[ch];
    ChannelCount& c = *in_ch.count;
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
  std::vector<std::vector<Expected>> expected_;  // per in channel
  std::vector<InChannel> in_;
  std::vector<std::byte> buf_, scratch_;
  MessageView body_;
  Message msg_;
  Envelope env_;
  std::int64_t now_ = 0;
  bool warm_ = false, stamped_ = false;
};

/// Puts messages on the out channels: gathered (envelope + body, no staging copy) or in
/// loaned slots, coalescing up to p.batch per send.
class Sender {
 public:
  Sender(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& outs, RoleReport& r)
      : p_(p), outs_(outs), r_(r), batch_(static_cast<std::size_t>(std::max(1, p.batch))) {
    r_.sent.resize(outs.size());
    envs_.resize(outs.size(), std::vector<EnvelopeBytes>(batch_));
    pending_.resize(outs.size(), std::vector<GatherMessage>(batch_));
    pending_n_.resize(outs.size());
  }

  /// The sequence number the next message on channel c gets.
  [[nodiscard]] std::uint64_t next_seq(std::size_t c) const noexcept { return r_.sent[c].count; }

  /// Queues `body` with envelope e for out channel `target` (every out when target < 0);
  /// sends when the batch is full. `body` must stay valid until then (until flush()).
  [[gnu::always_inline]] bool emit(std::span<const std::byte> body, Envelope e, int target, bool warm) noexcept {
    if (target >= 0) {
      if (!put(static_cast<std::size_t>(target), body, e, warm)) return false;
    } else {
      for (std::size_t c = 0; c < outs_.size(); ++c)
        if (!put(c, body, e, warm)) return false;
    }
    if (++used_ == batch_) return flush();
    return true;
  }

  /// Emits n messages in a row with 8-byte envelopes (unstamped), no fault, all in one
  /// warm state, whose bodies are sent as they are (raw) from `bodies` (entry seq & mask):
  /// the producer's inner loop between the messages that need its general path. Same
  /// messages, same order, same counts as n emit() calls; with one out channel and the copy
  /// api the loop keeps the sequence, batch slot and byte count in registers.
  bool emit_plain_run(std::span<const std::span<const std::byte>> bodies, std::uint64_t n, std::size_t& next_out,
                      bool all, bool warm) noexcept {
    const std::uint64_t mask = bodies.size() - 1;
    if (outs_.size() == 1 && p_.api == Api::copy) {
      const std::uint64_t flag = warm ? kWarmupBit : 0;
      ChannelCount& cc = r_.sent[0];
      EnvelopeBytes* const envs = envs_[0].data();
      GatherMessage* const pending = pending_[0].data();
      std::uint64_t seq = cc.count;
      std::uint64_t bytes = 0;
      std::size_t used = used_;  // == pending_n_[0]: one put per emit on a single channel
      const std::uint64_t end = seq + n;
      while (seq != end) {
        std::byte* const env = envs[used].data();
        sys::store_le64(env, seq | flag);
        const std::span<const std::byte> body = bodies[seq & mask];
        pending[used] = {{env, kSeqEnvelopeBytes}, body};
        bytes += kSeqEnvelopeBytes + body.size();
        ++seq;
        if (++used == batch_) {
          cc.count = seq;
          pending_n_[0] = used_ = used;
          if (!flush()) return false;
          used = 0;
        }
      }
      cc.count = seq;
      pending_n_[0] = used_ = used;
      if (!warm) {
        r_.wire_bytes += bytes;
        r_.wire_msgs += n;
      }
      return true;
    }
    for (; n != 0; --n) {
      const int target = all ? -1 : static_cast<int>(next_out);
      if (!all && ++next_out == outs_.size()) next_out = 0;
      if (!emit(bodies[next_seq(all ? 0 : static_cast<std::size_t>(target)) & mask], Envelope{}, target, warm))
        return false;
    }
    return true;
  }

  /// The fault hook: message `e` is damaged, dropped or sent twice on purpose.
  bool emit_faulty(std::span<const std::byte> body, Envelope e, int target, bool warm) noexcept {
    switch (p_.fault) {
      case Fault::none: break;
      case Fault::corrupt:
        fault_body_.assign(body.begin(), body.end());
        if (!fault_body_.empty()) fault_body_.back() ^= std::byte{0x5a};
        if (!flush()) return false;
        return emit(fault_body_, e, target, warm) && flush();
      case Fault::drop: {
        const std::size_t c = target >= 0 ? static_cast<std::size_t>(target) : 0;
        ++r_.sent[c].count;  // counted as sent: the channel "lost" it
        return true;
      }
      case Fault::duplicate: {
        const std::size_t c = target >= 0 ? static_cast<std::size_t>(target) : 0;
        if (!emit(body, e, target, warm) || !flush()) return false;
        --r_.sent[c].count;  // the same seq again, counted once
        return emit(body, e, target, warm) && flush();
      }
    }
    return emit(body, e, target, warm);
  }

  bool flush() noexcept {
    for (std::size_t c = 0; c < outs_.size(); ++c) {
      IoStatus s = IoStatus::ok;
      if (pending_n_[c] != 0) {
        s = outs_[c]->send_gather({pending_[c].data(), pending_n_[c]});
        pending_n_[c] = 0;
      } else if (loaned_unpublished_) {
        s = outs_[c]->publish();
      }
      if (s != IoStatus::ok) {
        r_.error = describe("send", c, *outs_[c], s);
        return false;
      }
    }
    loaned_unpublished_ = false;
    used_ = 0;
    return true;
  }

  void close() noexcept {
    for (auto& o : outs_) o.reset();
  }

 private:
  // Inlined into the producer's loop (perf: the call and its register saves were a visible
  // share of a 64 B stream's per-message work); the loan path stays out of line.
  [[gnu::always_inline]] bool put(std::size_t c, std::span<const std::byte> body, Envelope e, bool warm) noexcept {
    e.seq = r_.sent[c].count | (warm ? kWarmupBit : 0);
    EnvelopeBytes& env_bytes = envs_[c][used_];
    const std::span<const std::byte> env(env_bytes.data(), put_envelope(env_bytes.data(), e));
    const std::size_t len = env.size() + body.size();
    if (p_.api == Api::loan) {
      if (!put_loaned(c, env, body)) return false;
    } else {
      pending_[c][pending_n_[c]++] = {env, body};
    }
    ++r_.sent[c].count;
    if (!warm) {
      r_.wire_bytes += len;
      ++r_.wire_msgs;
    }
    return true;
  }

  // The frame goes straight into a loaned slot; a frame larger than the ring goes by copy.
  [[gnu::noinline]] bool put_loaned(std::size_t c, std::span<const std::byte> env,
                                    std::span<const std::byte> body) noexcept {
    LoanedSpace space;
    const IoStatus s = outs_[c]->loan(env.size() + body.size(), space);
    if (s == IoStatus::ok) {
      space.write(0, env);
      space.write(env.size(), body);
      // Publish at the batch boundary only; flush() publishes what is left.
      const bool last = used_ + 1 == batch_;
      if (const IoStatus cs = outs_[c]->commit(last); cs != IoStatus::ok) {
        r_.error = describe("commit", c, *outs_[c], cs);
        return false;
      }
      loaned_unpublished_ = !last;
      return true;
    }
    if (s != IoStatus::error || outs_[c]->error() != std::errc::message_size) {
      r_.error = describe("loan", c, *outs_[c], s);
      return false;
    }
    // Larger than the ring: it streams through by copy, after what was loaned before it
    // (published first, so the order on the channel stays the order of emit()).
    ++r_.loan_fallbacks;
    const GatherMessage m{env, body};
    IoStatus fs = outs_[c]->publish();
    if (fs == IoStatus::ok) fs = outs_[c]->send_gather({&m, 1});
    if (fs != IoStatus::ok) {
      r_.error = describe("send", c, *outs_[c], fs);
      return false;
    }
    return true;
  }

  const RoleParams& p_;
  std::vector<std::unique_ptr<Transport>>& outs_;
  RoleReport& r_;
  std::size_t batch_;
  std::vector<std::vector<EnvelopeBytes>> envs_;      // [channel][batch slot]
  std::vector<std::vector<GatherMessage>> pending_;   // copy api: queued, not yet sent
  std::vector<std::size_t> pending_n_;                 // how many of pending_[c] are queued
  std::vector<std::byte> fault_body_;
  std::size_t used_ = 0;
  bool loaned_unpublished_ = false;
};

/// Encodes pool messages for a sender, one buffer per batch slot so a batch's bodies stay
/// valid until it is sent. Raw bodies are sent straight from the pool, never copied.
class Encoder {
 public:
  Encoder(const RoleParams& p, RoleReport& r)
      : r_(r), ser_(make_serializer(p.serializer, serializer_options(p))), raw_(ser_->body_only()),
        slots_(static_cast<std::size_t>(std::max(1, p.batch))) {}

  [[nodiscard]] bool raw() const noexcept { return raw_; }

  /// The wire bytes of m, valid until `slot` is used again.
  std::span<const std::byte> encode(const Message& m, std::size_t slot) {
    if (raw_) return m.body;
    const bool sample = (encoded_++ % kSerdeSampleEvery) == 0;
    const std::int64_t t0 = sample ? sys::now_ns() : 0;
    auto& out = slots_[slot % slots_.size()];
    ser_->encode(m, out);
    if (sample) {
      r_.encode_ns += serde_diff(sys::now_ns(), t0);
      ++r_.encode_samples;
    }
    return out;
  }

 private:
  RoleReport& r_;
  std::unique_ptr<Serializer> ser_;
  bool raw_;
  std::vector<std::vector<std::byte>> slots_;
  std::uint64_t encoded_ = 0;
};

/// Paces an open-loop sender: message i is due at start + i / rate. Sleeps are relative
/// durations measured on the same clock as the due times, never an absolute time on
/// another clock.
class Pacer {
 public:
  explicit Pacer(double rate) : interval_ns_(rate > 0 ? 1e9 / rate : 0) {}
  [[nodiscard]] bool open_loop() const noexcept { return interval_ns_ > 0; }
  /// Waits until message i is due and returns its intended send time (0 when closed loop).
  std::int64_t wait(std::uint64_t i, RoleReport& r) noexcept {
    if (interval_ns_ <= 0) return 0;
    if (start_ == 0) start_ = sys::now_ns();
    const std::int64_t due = start_ + static_cast<std::int64_t>(static_cast<double>(i) * interval_ns_);
    std::int64_t now = sys::now_ns();
    // Sleep while far away, spin the last stretch: sleeping alone overshoots by ~50 us.
    if (due - now > kSleepAboveNs) {
      sys::sleep_for_ns(due - now - kSpinLastNs);
      now = sys::now_ns();
    }
    const std::int64_t spin_from = now;
    while (now < due) {
      sys::cpu_relax();
      now = sys::now_ns();
    }
    r.pacer_spin_ns += now - spin_from;
    return due;
  }

 private:
  static constexpr std::int64_t kSleepAboveNs = 200'000;
  static constexpr std::int64_t kSpinLastNs = 100'000;
  double interval_ns_;
  std::int64_t start_ = 0;
};

/// A producer's after_send that does nothing: only such producers send plain runs.
struct NothingAfterSend {
  bool operator()(bool) const noexcept { return true; }
};

/// The sending loop of producers, the pingpong initiator and mesh peers. `after_send`
/// (initiator) runs after each message, e.g. to wait for its echo.
///
/// Each message is a special one, taken through the general path below (clock read,
/// limits, warm-up, fault), or a plain one: closed loop, unstamped, raw, neither the first
/// nor the last measured nor the faulty one. Plain messages between two special
/// ones go out as one run through Sender::emit_plain_run(), which does per message only what
/// a plain message needs (perf put the general path's per-message bookkeeping at about a
/// sixth of a 64 B stream's cost next to the bare transport).
template <class AfterSend>
void produce(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& outs, RoleReport& r,
             AfterSend&& after_send) {
  const std::vector<Message> pool = message_pool(p, p.index);
  Encoder encoder(p, r);
  Sender sender(p, outs, r);
  Pacer pacer(p.rate);
  const std::size_t n_outs = outs.size();
  // Open loop and round trips stamp every message; closed-loop throughput may sample.
  const std::uint64_t every = pacer.open_loop() ? 1 : std::max<std::uint64_t>(1, p.latency_sample);
  const bool plain_runs = std::is_same_v<std::decay_t<AfterSend>, NothingAfterSend> && !pacer.open_loop() &&
                          every > 1 && encoder.raw();
  std::vector<std::span<const std::byte>> bodies;
  for (const Message& m : pool) bodies.emplace_back(m.body);
  std::int64_t deadline = 0;
  std::uint64_t warm_count = p.warmup;  // shortened if warm-up runs out of time
  const std::int64_t warm_until = sys::now_ns() + static_cast<std::int64_t>(kWarmupCapS * 1e9);
  std::size_t slot = 0;
  // Counters instead of i % n: no division on the per-message path.
  std::uint64_t until_stamp = 0;
  std::size_t next_out = 0;
  const std::uint64_t pool_mask = pool.size() - 1;
  for (std::uint64_t i = 0;; ++i) {
    const std::int64_t due = pacer.wait(i, r);
    const bool first_measured = i == warm_count;
    const bool last_measured = p.messages > 0 && i + 1 == warm_count + p.messages;
    // One clock read serves the limits and the send stamp alike, on stamped messages only.
    // The first and last measured messages are always stamped: they bound the receivers'
    // throughput window.
    const bool sample_due = until_stamp == 0;
    until_stamp = sample_due ? every - 1 : until_stamp - 1;
    const bool stamp = sample_due || first_measured || last_measured;
    const std::int64_t now = stamp ? sys::now_ns() : 0;
    if (stamp && i < warm_count && i > 0 && now >= warm_until) warm_count = i;
    const bool warm = i < warm_count;
    if (!warm) {
      // Whichever comes first: the message count (0 = no count) or the measured time.
      if (p.messages > 0 && i >= warm_count + p.messages) break;
      if (deadline != 0 && (pacer.open_loop() ? due >= deadline : stamp && now >= deadline)) break;
      if (r.first_send_ns == 0) {
        const std::int64_t start = stamp ? now : sys::now_ns();
        r.first_send_ns = start;
        r.phase_start_ns = start;
        r.usage_start = sys::self_usage();
        if (p.duration_s > 0) {
          deadline = (pacer.open_loop() ? due : start) + static_cast<std::int64_t>(p.duration_s * 1e9);
        }
      }
      ++r.measured_sent;
    }
    int target = -1;
    if (p.distribution != Distribution::all) {
      target = static_cast<int>(next_out);
      if (++next_out == n_outs) next_out = 0;
    }
    const std::uint64_t seq = sender.next_seq(target < 0 ? 0 : static_cast<std::size_t>(target));
    const Message& m = pool[seq & pool_mask];
    std::span<const std::byte> body;
    try {
      body = encoder.encode(m, slot++);
    } catch (const std::exception& ex) {
      r.error = std::string("encode failed: ") + ex.what();
      break;
    }
    const Envelope e{0, stamp ? (due != 0 ? due : now) : 0, stamp ? now : 0, stamp ? now : 0};
    const bool faulty = p.fault != Fault::none && !warm && i == warm_count + p.fault_at;
    if (!(faulty ? sender.emit_faulty(body, e, target, warm) : sender.emit(body, e, target, warm))) break;
    if (!after_send(warm)) break;
    if (!plain_runs) continue;
    // The plain messages up to the next special one: the next stamp, the first measured
    // message, the last measured one, the faulty one.
    std::uint64_t next = i + 1 + until_stamp;
    if (i + 1 <= warm_count) next = std::min(next, warm_count);
    if (p.messages > 0) next = std::min(next, warm_count + p.messages - 1);
    if (p.fault != Fault::none && warm_count + p.fault_at > i) next = std::min(next, warm_count + p.fault_at);
    if (next <= i + 1) continue;
    const std::uint64_t run = next - (i + 1);
    const bool run_warm = i + 1 < warm_count;
    if (!sender.emit_plain_run(bodies, run, next_out, target < 0, run_warm)) break;
    i += run;
    until_stamp -= run;
    if (!run_warm) r.measured_sent += run;
  }
  if (r.error.empty()) sender.flush();
  r.phase_end_ns = sys::now_ns();
  r.usage_end = sys::self_usage();
  sender.close();
}

void consume(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& ins, RoleReport& r,
             bool pipeline_sink) {
  Receiver rx(p, ins.size(), r);
  // One message from channel c, checked and recorded: ok, peer_closed, or an error (set).
  const auto take = [&](std::size_t c) {
    const IoStatus s = rx.receive(*ins[c], c);
    if (s == IoStatus::ok) {
      rx.record_delivery(pipeline_sink);
      rx.done(*ins[c]);
    } else if (s != IoStatus::peer_closed && r.error.empty()) {
      r.error = describe("recv", c, *ins[c], s);
    }
    return s;
  };
  if (rx.plain_path_applies()) {
    if (const IoStatus s = rx.run_plain(*ins[0], pipeline_sink); s != IoStatus::peer_closed) {
      if (r.error.empty()) r.error = describe("recv", 0, *ins[0], s);
      return;
    }
  } else {
    std::vector<std::size_t> active(ins.size());
    for (std::size_t c = 0; c < ins.size(); ++c) active[c] = c;
    // Round robin over the in channels, one message each in turn: deadlock-free because a
    // producer waits only on this consumer, and fair in the way a simple server loop is.
    while (!active.empty()) {
      for (std::size_t a = 0; a < active.size();) {
        const IoStatus s = take(active[a]);
        if (s == IoStatus::peer_closed) {
          active.erase(active.begin() + static_cast<std::ptrdiff_t>(a));
        } else if (s != IoStatus::ok) {
          return;
        } else {
          ++a;
        }
      }
    }
  }
  r.phase_end_ns = sys::now_ns();
  r.usage_end = sys::self_usage();
}


void forward(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& outs,
             std::vector<std::unique_ptr<Transport>>& ins, RoleReport& r, bool echo) {
  Receiver rx(p, ins.size(), r);
  RoleParams unbatched = p;
  unbatched.batch = 1;  // a forwarder passes each message on at once
  Encoder encoder(unbatched, r);
  Sender tx(unbatched, outs, r);
  std::vector<std::byte> contiguous;
  bool started = false;
  while (true) {
    const IoStatus s = rx.receive(*ins[0], 0);
    if (s == IoStatus::peer_closed) break;
    if (s != IoStatus::ok) {
      if (r.error.empty()) r.error = describe("recv", 0, *ins[0], s);
      break;
    }
    if (!rx.warm() && !started) {
      started = true;
      r.phase_start_ns = sys::now_ns();
      r.usage_start = sys::self_usage();
    }
    if (!echo) rx.record_hop();
    Envelope e = rx.envelope();
    if (!echo && rx.stamped()) e.hop_ns = sys::now_ns();
    std::span<const std::byte> body;
    if (rx.raw()) {
      // Forwarded as it came: no decode, no encode, no copy unless it wrapped in a ring.
      body = rx.body().first;
      if (!rx.body().second.empty()) {
        contiguous.resize(rx.body().size());
        rx.body().read(0, contiguous.data(), contiguous.size());
        body = contiguous;
      }
    } else {
      try {
        body = encoder.encode(rx.message(), 0);
      } catch (const std::exception& ex) {
        r.error = std::string("encode failed: ") + ex.what();
        break;
      }
    }
    const bool ok = tx.emit(body, e, 0, rx.warm());
    rx.done(*ins[0]);
    if (!ok) break;
  }
  r.phase_end_ns = sys::now_ns();
  r.usage_end = sys::self_usage();
  tx.close();
}

void initiate(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& outs,
              std::vector<std::unique_ptr<Transport>>& ins, RoleReport& r) {
  RoleParams closed = p;
  closed.batch = 1;  // a round trip is one message out, one back
  closed.rate = 0;
  closed.latency_sample = 1;
  Receiver rx(closed, ins.size(), r);
  produce(closed, outs, r, [&](bool) {
    const IoStatus s = rx.receive(*ins[0], 0);
    if (s != IoStatus::ok) {
      if (r.error.empty()) r.error = describe("recv echo", 0, *ins[0], s);
      return false;
    }
    rx.record_delivery(false);
    rx.done(*ins[0]);
    return true;
  });
  // Drain: the echo closes its side once ours is closed.
  std::vector<std::byte> sink(kEnvelopeBytes + closed.size_bytes * 2 + 65536);
  std::size_t len = 0;
  if (r.error.empty() && ins[0]->recv(sink, len) == IoStatus::ok)
    r.error = "echo sent more messages than it received";
}

void mesh_peer(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& outs,
               std::vector<std::unique_ptr<Transport>>& ins, RoleReport& r) {
  // One thread per in channel: a peer must keep draining every inbound channel while its
  // own sends wait on others, or a cycle of full channels deadlocks the mesh.
  std::vector<RoleReport> parts(ins.size());
  std::vector<std::thread> threads;
  for (std::size_t c = 0; c < ins.size(); ++c) {
    threads.emplace_back([&, c] {
      RoleParams one_in = p;
      one_in.origins = {c < p.origins.size() ? p.origins[c] : 0};
      std::vector<std::unique_ptr<Transport>> one;
      one.push_back(std::move(ins[c]));
      consume(one_in, one, parts[c], false);
    });
  }
  produce(p, outs, r, NothingAfterSend{});
  for (auto& t : threads) t.join();
  r.received.clear();
  for (auto& part : parts) {
    r.received.push_back(part.received.empty() ? ChannelCount{} : part.received[0]);
    part.received.clear();
    r.merge(std::move(part));
  }
  // The process's usage covers every thread; the phase runs until the last one ended.
  r.usage_end = sys::self_usage();
}

}  // namespace


std::size_t pool_size(std::uint64_t size_bytes) noexcept {
  // Fewer distinct messages for huge sizes, so the pool stays <= 64 MiB.
  const std::size_t fit = (std::size_t{64} << 20) / std::max<std::uint64_t>(size_bytes, 1);
  return std::bit_floor(std::clamp<std::size_t>(fit, 1, kMaxPoolMessages));
}

std::vector<Message> message_pool(const RoleParams& p, int index) {
  std::vector<Message> pool;
  const std::size_t n = pool_size(p.size_bytes);
  pool.reserve(n);
  for (std::size_t k = 0; k < n; ++k) {
    pool.push_back(generate_message(mix(p.seed, mix(static_cast<std::uint64_t>(index), k)), p.size_bytes, p.content));
  }
  return pool;
}

void RoleReport::merge(RoleReport&& o) {
  sent.insert(sent.end(), o.sent.begin(), o.sent.end());
  received.insert(received.end(), o.received.begin(), o.received.end());
  latency->merge(*o.latency);
  uncorrected->merge(*o.uncorrected);
  hop->merge(*o.hop);
  encode_ns += o.encode_ns;
  encode_samples += o.encode_samples;
  decode_ns += o.decode_ns;
  decode_samples += o.decode_samples;
  wire_bytes += o.wire_bytes;
  wire_msgs += o.wire_msgs;
  measured_sent += o.measured_sent;
  measured_received += o.measured_received;
  loan_fallbacks += o.loan_fallbacks;
  if (o.first_send_ns && (!first_send_ns || o.first_send_ns < first_send_ns)) first_send_ns = o.first_send_ns;
  if (o.first_recv_ns && (!first_recv_ns || o.first_recv_ns < first_recv_ns)) first_recv_ns = o.first_recv_ns;
  last_recv_ns = std::max(last_recv_ns, o.last_recv_ns);
  window_msgs += o.window_msgs;
  negative_diffs += o.negative_diffs;
  most_negative_ns = std::min(most_negative_ns, o.most_negative_ns);
  pacer_spin_ns += o.pacer_spin_ns;
  // One process: the usage snapshots are process-wide; keep the earliest start.
  if (o.phase_start_ns && (!phase_start_ns || o.phase_start_ns < phase_start_ns)) {
    phase_start_ns = o.phase_start_ns;
    usage_start = o.usage_start;
  }
  phase_end_ns = std::max(phase_end_ns, o.phase_end_ns);
  if (error.empty()) error = std::move(o.error);
}

RoleReport run_role(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& outs,
                    std::vector<std::unique_ptr<Transport>>& ins) {
  RoleReport r;
  try {
    switch (p.role) {
      case RoleKind::producer: produce(p, outs, r, NothingAfterSend{}); break;
      case RoleKind::consumer: consume(p, ins, r, p.record_hops); break;
      case RoleKind::forwarder: forward(p, outs, ins, r, false); break;
      case RoleKind::echo: forward(p, outs, ins, r, true); break;
      case RoleKind::initiator: initiate(p, outs, ins, r); break;
      case RoleKind::peer: mesh_peer(p, outs, ins, r); break;
    }
  } catch (const std::exception& e) {
    if (r.error.empty()) r.error = e.what();
  }
  for (auto& o : outs) o.reset();
  return r;
}

}  // namespace ipcmatrix
