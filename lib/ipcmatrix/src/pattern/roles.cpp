#include "ipcmatrix/pattern/roles.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <thread>

#include "ipcmatrix/serialize/serializer.hpp"
#include "ipcmatrix/sys/byte_order.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/posix.hpp"

namespace ipcmatrix {

namespace {

struct Envelope {
  std::uint64_t seq = 0;
  std::int64_t origin_ns = 0;
  std::int64_t send_ns = 0;
};

using sys::load_le64;
using sys::store_le64;

void put_envelope(std::byte* p, const Envelope& e) noexcept {
  store_le64(p, e.seq);
  store_le64(p + 8, static_cast<std::uint64_t>(e.origin_ns));
  store_le64(p + 16, static_cast<std::uint64_t>(e.send_ns));
}
Envelope get_envelope(const std::byte* p) noexcept {
  return {load_le64(p), static_cast<std::int64_t>(load_le64(p + 8)), static_cast<std::int64_t>(load_le64(p + 16))};
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

/// Receives and checks messages; shared by every receiving role.
class Receiver {
 public:
  Receiver(const RoleParams& p, std::size_t n_ins, RoleReport& r)
      : p_(p), r_(r), ser_(make_serializer(p.serializer, serializer_options(p))) {
    r_.received.resize(n_ins);
    // Worst case wire size: the encoded record can exceed the body (json's base64 is 4/3).
    buf_.resize(kEnvelopeBytes + p.size_bytes * 2 + 65536);
  }

  /// Receives one message from `in`. Returns the status; on ok, msg_/env_ hold it.
  IoStatus receive(Transport& in, std::size_t ch) noexcept {
    std::size_t len = 0;
    const IoStatus s = in.recv(buf_, len);
    if (s != IoStatus::ok) return s;
    if (len < kEnvelopeBytes) {
      r_.error = "message shorter than its envelope on channel " + std::to_string(ch);
      return IoStatus::error;
    }
    env_ = get_envelope(buf_.data());
    const bool warm = (env_.seq & kWarmupBit) != 0;
    ChannelCount& c = r_.received[ch];
    if ((env_.seq & ~kWarmupBit) != c.count) c.in_order = false;
    const bool sample = (c.count % kSerdeSampleEvery) == 0;
    const std::int64_t t0 = sample ? sys::now_ns() : 0;
    try {
      ser_->decode({buf_.data() + kEnvelopeBytes, len - kEnvelopeBytes}, msg_);
    } catch (const std::exception& e) {
      r_.error = "decode failed on channel " + std::to_string(ch) + ": " + e.what();
      return IoStatus::error;
    }
    now_ = sys::now_ns();
    if (sample) {
      r_.decode_ns += serde_diff(now_, t0);
      ++r_.decode_samples;
    }
    ++c.count;
    c.sum += checksum(msg_);
    warm_ = warm;
    return IoStatus::ok;
  }

  /// Records the message just received as the end of its path.
  void record_delivery(bool hop_too) noexcept {
    if (warm_) return;
    r_.latency->record(stamp_diff(now_, env_.origin_ns));
    if (p_.rate > 0) r_.uncorrected->record(stamp_diff(now_, env_.send_ns));
    if (hop_too) r_.hop->record(stamp_diff(now_, env_.send_ns));
    ++r_.measured_received;
    r_.last_recv_ns = now_;
  }
  void record_hop() noexcept {
    if (!warm_) r_.hop->record(stamp_diff(now_, env_.send_ns));
  }

  const Message& message() const noexcept { return msg_; }
  const Envelope& envelope() const noexcept { return env_; }
  bool warm() const noexcept { return warm_; }

 private:
  const RoleParams& p_;
  RoleReport& r_;
  std::unique_ptr<Serializer> ser_;
  std::vector<std::byte> buf_;
  Message msg_;
  Envelope env_;
  std::int64_t now_ = 0;
  bool warm_ = false;
};

/// Encodes messages and sends them, coalescing up to p.batch per send_batch.
class Sender {
 public:
  Sender(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& outs, RoleReport& r)
      : p_(p), outs_(outs), r_(r), ser_(make_serializer(p.serializer, serializer_options(p))) {
    r_.sent.resize(outs.size());
    slots_.resize(static_cast<std::size_t>(std::max(1, p.batch)));
    pending_.resize(outs.size());
    for (auto& v : pending_) v.reserve(slots_.size());
  }

  /// Encodes m with envelope e and queues it for out channel `target` (or every out when
  /// target < 0); flushes when the batch is full. `sum` is checksum(decode(encode(m))).
  bool emit(const Message& m, std::uint64_t sum, Envelope e, int target, bool warm) noexcept {
    auto& slot = slots_[used_];
    const bool sample = (encoded_++ % kSerdeSampleEvery) == 0;
    const std::int64_t t0 = sample ? sys::now_ns() : 0;
    try {
      ser_->encode(m, enc_);
    } catch (const std::exception& ex) {
      r_.error = std::string("encode failed: ") + ex.what();
      return false;
    }
    if (sample) {
      r_.encode_ns += serde_diff(sys::now_ns(), t0);
      ++r_.encode_samples;
    }
    slot.resize(kEnvelopeBytes + enc_.size());
    if (!enc_.empty()) std::memcpy(slot.data() + kEnvelopeBytes, enc_.data(), enc_.size());
    auto queue = [&](std::size_t c) {
      e.seq = r_.sent[c].count | (warm ? kWarmupBit : 0);
      // Broadcast shares one encoded slot across channels whose seq differ only when a
      // channel was added mid-stream, which never happens: every channel sees every message.
      put_envelope(slot.data(), e);
      pending_[c].push_back(slot);
      ++r_.sent[c].count;
      r_.sent[c].sum += sum;
      if (!warm) {
        r_.wire_bytes += slot.size();
        ++r_.wire_msgs;
      }
    };
    if (target >= 0) queue(static_cast<std::size_t>(target));
    else
      for (std::size_t c = 0; c < outs_.size(); ++c) queue(c);
    if (++used_ == slots_.size()) return flush();
    return true;
  }

  bool flush() noexcept {
    for (std::size_t c = 0; c < outs_.size(); ++c) {
      if (pending_[c].empty()) continue;
      const IoStatus s = pending_[c].size() == 1 ? outs_[c]->send(pending_[c][0])
                                                 : outs_[c]->send_batch(pending_[c]);
      pending_[c].clear();
      if (s != IoStatus::ok) {
        r_.error = describe("send", c, *outs_[c], s);
        return false;
      }
    }
    used_ = 0;
    return true;
  }

  void close() noexcept {
    for (auto& o : outs_) o.reset();
  }

 private:
  const RoleParams& p_;
  std::vector<std::unique_ptr<Transport>>& outs_;
  RoleReport& r_;
  std::unique_ptr<Serializer> ser_;
  std::vector<std::byte> enc_;
  std::vector<std::vector<std::byte>> slots_;
  std::vector<std::vector<std::span<const std::byte>>> pending_;
  std::size_t used_ = 0;
  std::uint64_t encoded_ = 0;
};

/// The messages a sender cycles through, generated once, with the checksum a receiver
/// will compute after decoding (raw keeps only the body, so it is not checksum(m)).
struct Pool {
  std::vector<Message> msgs;
  std::vector<std::uint64_t> sums;
};

Pool make_pool(const RoleParams& p) {
  // Up to 16 distinct messages, fewer for huge sizes so the pool stays <= 64 MiB.
  const std::size_t n = std::clamp<std::size_t>((std::size_t{64} << 20) / std::max<std::uint64_t>(p.size_bytes, 1), 1, 16);
  Pool pool;
  auto ser = make_serializer(p.serializer, serializer_options(p));
  std::vector<std::byte> enc;
  Message back;
  for (std::size_t k = 0; k < n; ++k) {
    pool.msgs.push_back(generate_message(mix(p.seed, mix(static_cast<std::uint64_t>(p.index), k)),
                                         p.size_bytes, p.content));
    ser->encode(pool.msgs.back(), enc);
    ser->decode(enc, back);
    pool.sums.push_back(checksum(back));
  }
  return pool;
}

/// Paces an open-loop sender: message i is due at start + i / rate.
class Pacer {
 public:
  explicit Pacer(double rate) : interval_ns_(rate > 0 ? 1e9 / rate : 0) {}
  /// Waits until message i is due and returns its intended send time (0 when closed loop).
  std::int64_t wait(std::uint64_t i) noexcept {
    if (interval_ns_ <= 0) return 0;
    if (start_ == 0) start_ = sys::now_ns();
    const std::int64_t due = start_ + static_cast<std::int64_t>(static_cast<double>(i) * interval_ns_);
    std::int64_t now = sys::now_ns();
    // Sleep while far away, spin the last stretch: sleeping alone overshoots by ~50 us.
    if (due - now > 200'000) sys::sleep_until_ns(due - 100'000);
    while ((now = sys::now_ns()) < due) sys::cpu_relax();
    return due;
  }

 private:
  double interval_ns_;
  std::int64_t start_ = 0;
};

/// The sending loop of producers, the pingpong initiator and mesh peers. `after_send`
/// (initiator) runs after each message, e.g. to wait for its echo.
template <class AfterSend>
void produce(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& outs, RoleReport& r,
             AfterSend&& after_send) {
  const Pool pool = make_pool(p);
  Sender sender(p, outs, r);
  Pacer pacer(p.rate);
  const std::size_t n_outs = outs.size();
  std::int64_t deadline = 0;
  std::uint64_t warm_count = p.warmup;  // shortened if warm-up runs out of time
  const std::int64_t warm_until = sys::now_ns() + static_cast<std::int64_t>(kWarmupCapS * 1e9);
  for (std::uint64_t i = 0;; ++i) {
    const std::int64_t due = pacer.wait(i);
    // One clock read per message serves the limits and the send stamp alike.
    const std::int64_t now = sys::now_ns();
    if (i < warm_count && i > 0 && now >= warm_until) warm_count = i;
    const bool warm = i < warm_count;
    if (!warm) {
      // Whichever comes first: the message count (0 = no count) or the measured time.
      if (p.messages > 0 && i >= warm_count + p.messages) break;
      if (p.duration_s > 0 && deadline != 0 && now >= deadline) break;
    }
    if (!warm && r.first_send_ns == 0) {
      r.first_send_ns = now;
      deadline = now + static_cast<std::int64_t>(p.duration_s * 1e9);
    }
    if (!warm) ++r.measured_sent;
    const std::size_t k = i % pool.msgs.size();
    const int target = p.distribution == Distribution::all ? -1 : static_cast<int>(i % n_outs);
    Envelope e{0, due != 0 ? due : now, now};
    if (!sender.emit(pool.msgs[k], pool.sums[k], e, target, warm)) break;
    if (!after_send(warm)) break;
  }
  if (r.error.empty()) sender.flush();
  sender.close();
}

void consume(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& ins, RoleReport& r,
             bool pipeline_sink) {
  Receiver rx(p, ins.size(), r);
  std::vector<std::size_t> active(ins.size());
  for (std::size_t c = 0; c < ins.size(); ++c) active[c] = c;
  // Round robin over the in channels, one message each in turn: deadlock-free because a
  // producer waits only on this consumer, and fair in the way a simple server loop is.
  while (!active.empty()) {
    for (std::size_t a = 0; a < active.size();) {
      const std::size_t c = active[a];
      const IoStatus s = rx.receive(*ins[c], c);
      if (s == IoStatus::peer_closed) {
        active.erase(active.begin() + static_cast<std::ptrdiff_t>(a));
        continue;
      }
      if (s != IoStatus::ok) {
        if (r.error.empty()) r.error = describe("recv", c, *ins[c], s);
        return;
      }
      rx.record_delivery(pipeline_sink);
      ++a;
    }
  }
}

void forward(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& outs,
             std::vector<std::unique_ptr<Transport>>& ins, RoleReport& r, bool echo) {
  Receiver rx(p, ins.size(), r);
  RoleParams unbatched = p;
  unbatched.batch = 1;  // a forwarder passes each message on at once
  Sender tx(unbatched, outs, r);
  while (true) {
    const IoStatus s = rx.receive(*ins[0], 0);
    if (s == IoStatus::peer_closed) break;
    if (s != IoStatus::ok) {
      if (r.error.empty()) r.error = describe("recv", 0, *ins[0], s);
      break;
    }
    if (!echo) rx.record_hop();
    Envelope e = rx.envelope();
    if (!echo) e.send_ns = sys::now_ns();
    if (!tx.emit(rx.message(), checksum(rx.message()), e, 0, rx.warm())) break;
  }
  tx.close();
}

void initiate(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& outs,
              std::vector<std::unique_ptr<Transport>>& ins, RoleReport& r) {
  RoleParams closed = p;
  closed.batch = 1;  // a round trip is one message out, one back
  closed.rate = 0;
  Receiver rx(closed, ins.size(), r);
  produce(closed, outs, r, [&](bool) {
    const IoStatus s = rx.receive(*ins[0], 0);
    if (s != IoStatus::ok) {
      if (r.error.empty()) r.error = describe("recv echo", 0, *ins[0], s);
      return false;
    }
    rx.record_delivery(false);
    return true;
  });
  // Drain: the echo closes its side once ours is closed.
  std::vector<std::byte> sink(16);
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
      std::vector<std::unique_ptr<Transport>> one;
      one.push_back(std::move(ins[c]));
      consume(p, one, parts[c], false);
    });
  }
  produce(p, outs, r, [](bool) { return true; });
  for (auto& t : threads) t.join();
  r.received.clear();
  for (auto& part : parts) {
    r.received.push_back(part.received.empty() ? ChannelCount{} : part.received[0]);
    part.received.clear();
    r.merge(std::move(part));
  }
}

}  // namespace

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
  if (o.first_send_ns && (!first_send_ns || o.first_send_ns < first_send_ns)) first_send_ns = o.first_send_ns;
  last_recv_ns = std::max(last_recv_ns, o.last_recv_ns);
  if (error.empty()) error = std::move(o.error);
}

RoleReport run_role(const RoleParams& p, std::vector<std::unique_ptr<Transport>>& outs,
                    std::vector<std::unique_ptr<Transport>>& ins) {
  RoleReport r;
  try {
    switch (p.role) {
      case RoleKind::producer: produce(p, outs, r, [](bool) { return true; }); break;
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
