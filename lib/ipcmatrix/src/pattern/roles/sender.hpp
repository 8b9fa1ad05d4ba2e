#pragma once
/// @file sender.hpp
/// Sender puts messages on a role's out channels (gathered or in loaned slots, batched);
/// Encoder encodes pool messages into per-slot buffers for it.
///
/// Part of roles.cpp's translation unit, included by it alone. Its contents sit in an
/// anonymous namespace, as they did inside roles.cpp, so the compiler sees and inlines the
/// hot loops across these files exactly as when they were one file (bench_matrix_vs_bare
/// measured the matrix-vs-bare ratios before and after the split, interleaved).
#ifndef IPCMATRIX_ROLES_TU
#error "sender.hpp is part of roles.cpp's translation unit; include it only from there"
#endif

#include <algorithm>
#include <memory>
#include <span>
#include <vector>

#include "envelope.hpp"
#include "ipcmatrix/sys/posix.hpp"

namespace ipcmatrix {
namespace {

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
    lanes_.resize(outs.size());
    for (std::size_t c = 0; c < outs.size() && c < p.out_lanes.size(); ++c)
      lanes_[c] = std::uint64_t{p.out_lanes[c]} << kLaneShift;
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
      const std::uint64_t flag = (warm ? kWarmupBit : 0) | lanes_[0];
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
    e.seq = r_.sent[c].count | lanes_[c] | (warm ? kWarmupBit : 0);
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
  std::vector<std::uint64_t> lanes_;                   // [channel]: its lane, in place in the seq word
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

}  // namespace
}  // namespace ipcmatrix
