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

// The parts of this translation unit, split by job (each refuses to be included elsewhere).
#define IPCMATRIX_ROLES_TU
#include "roles/content_check.hpp"
#include "roles/envelope.hpp"
#include "roles/pacer.hpp"
#include "roles/receiver.hpp"
#include "roles/sender.hpp"
#include "roles/steady_rate.hpp"

namespace ipcmatrix {

namespace {

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
  // Receivers that each get a share of the messages (a fan-out's round robin), or 1. Each of
  // them must see stamped messages: its latency is sampled only at those, and its throughput
  // window ends at its last one (a receiver without one adds nothing to the cell's rate).
  const std::uint64_t lanes = p.distribution == Distribution::all ? 1 : std::max<std::size_t>(n_outs, 1);
  // Open loop and round trips stamp every message; closed-loop throughput may sample, at an
  // interval that rotates over the lanes (the plan records the same: latency_sample_for()).
  const std::uint64_t every =
      pacer.open_loop() ? 1 : sample_interval_over(std::max<std::uint64_t>(1, p.latency_sample), lanes);
  const bool plain_runs = std::is_same_v<std::decay_t<AfterSend>, NothingAfterSend> && !pacer.open_loop() &&
                          every > 1 && encoder.raw();
  std::vector<std::span<const std::byte>> bodies;
  for (const Message& m : pool) bodies.emplace_back(m.body);
  // The clock is also read between stamps, often enough that the warm-up cap and the window
  // end on time for slow messages: about every kClockCheckBytes of body (a 1 MiB message
  // each time, a 64 B one at every stamp), where one clock read is lost in the message's
  // own cost. Stamping every 64th 1 MiB zstd message alone let a 0.2 s window run 0.7 s.
  const std::uint64_t check_every =
      std::clamp<std::uint64_t>(kClockCheckBytes / std::max<std::uint64_t>(p.size_bytes, 1), 1, every);
  std::uint64_t until_check = 0;
  std::int64_t deadline = 0;
  // A slow cell's minimum may not hold its window open forever (kMinMessagesExtraS): 100
  // round trips of 1 MiB JSON would take 8 s.
  std::int64_t minimum_until_ns = 0;
  // Non-zero once the time window is over: the message that found it so goes out stamped,
  // and so does the next one on each other lane, so that every lane's window ends at the
  // same moment; the messages of that end still to send.
  std::uint64_t ending_left = 0;
  std::uint64_t warm_count = p.warmup;  // shortened if warm-up runs out of time or is steady
  const std::int64_t warm_until = sys::now_ns() + static_cast<std::int64_t>(warmup_cap_s(p.duration_s) * 1e9);
  detail::SteadyRate steady;
  std::size_t slot = 0;
  // Counters instead of i % n: no division on the per-message path.
  std::uint64_t until_stamp = 0;
  std::size_t next_out = 0;
  const std::uint64_t pool_mask = pool.size() - 1;
  for (std::uint64_t i = 0;; ++i) {
    const std::int64_t due = pacer.wait(i, r);
    const bool first_measured = i == warm_count;
    // The last measured message on each lane (the last `lanes` of them).
    const bool last_measured = p.messages > 0 && i < warm_count + p.messages && i + lanes >= warm_count + p.messages;
    // One clock read serves the limits and the send stamp alike, on stamped messages only.
    // The first and last measured messages are always stamped: they bound the receivers'
    // throughput window.
    const bool sample_due = until_stamp == 0;
    until_stamp = sample_due ? every - 1 : until_stamp - 1;
    bool stamp = sample_due || first_measured || last_measured || ending_left > 0;
    const bool check_due = until_check == 0;
    until_check = check_due ? check_every - 1 : until_check - 1;
    const bool clock = stamp || check_due;
    const std::int64_t now = clock ? sys::now_ns() : 0;
    if (clock && i < warm_count && i > 0 && (now >= warm_until || steady.steady_at(now, i))) warm_count = i;
    const bool warm = i < warm_count;
    if (!warm) {
      // Whichever comes first: the message count (0 = no count) or the measured time.
      if (p.messages > 0 && i >= warm_count + p.messages) break;
      const bool enough =
          i >= warm_count + p.min_messages || (minimum_until_ns != 0 && clock && now >= minimum_until_ns);
      if (deadline != 0 && ending_left == 0 && enough) {
        // Paced: the message due past the window is not sent. Closed loop: the clock read
        // that finds the window over may be a check between stamps, and the receivers'
        // window ends at the last stamped message, so this one goes out stamped and ends
        // it (else a window of fewer messages than the sampling interval has no end).
        if (pacer.open_loop()) {
          if (due >= deadline) break;
        } else if (clock && now >= deadline) {
          stamp = true;
          ending_left = lanes;
        }
      }
      if (r.first_send_ns == 0) {
        const std::int64_t start = clock ? now : sys::now_ns();
        r.first_send_ns = start;
        r.phase_start_ns = start;
        r.usage_start = sys::self_usage();
        if (p.duration_s > 0) {
          deadline = (pacer.open_loop() ? due : start) + static_cast<std::int64_t>(p.duration_s * 1e9);
          if (p.minimum_max_s > 0) minimum_until_ns = start + static_cast<std::int64_t>(p.minimum_max_s * 1e9);
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
    if (ending_left > 0) {
      if (--ending_left == 0) break;
      continue;
    }
    if (!plain_runs) continue;
    // The plain messages up to the next special one: the next stamp, the first measured
    // message, the last measured one, the faulty one.
    std::uint64_t next = i + 1 + std::min(until_stamp, until_check);
    if (i + 1 <= warm_count) next = std::min(next, warm_count);
    if (p.messages > 0) next = std::min(next, warm_count + p.messages - std::min(lanes, p.messages));
    if (p.fault != Fault::none && warm_count + p.fault_at > i) next = std::min(next, warm_count + p.fault_at);
    if (next <= i + 1) continue;
    const std::uint64_t run = next - (i + 1);
    const bool run_warm = i + 1 < warm_count;
    if (!sender.emit_plain_run(bodies, run, next_out, target < 0, run_warm)) break;
    i += run;
    until_stamp -= run;
    until_check -= run;
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
  } else if (p.shared_in) {
    // One endpoint for every in channel: the mechanism interleaves the senders (in arrival
    // order, as a server's one socket does), and ends once the last of them has closed.
    while (true) {
      const IoStatus s = take(0);
      if (s == IoStatus::peer_closed) break;
      if (s != IoStatus::ok) return;
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
  const std::size_t fit = kPoolBytes / std::max<std::uint64_t>(size_bytes, 1);
  return std::bit_floor(std::clamp<std::size_t>(fit, 1, kMaxPoolMessages));
}

std::vector<Message> message_pool(const RoleParams& p, int index) {
  std::vector<Message> pool;
  const std::size_t n = pool_size(p.size_bytes);
  pool.reserve(n);
  for (std::size_t k = 0; k < n; ++k) {
    Message& m = pool.emplace_back();
    // A large body's pages at once: a 1 MiB sender's 16 MiB pool spent 48 ms in page
    // faults, a fifth of its cell's time outside the window.
    if (p.size_bytes >= kPopulateBytes) {
      m.body.reserve(p.size_bytes);
      (void)sys::populate_for_write(m.body.data(), p.size_bytes);
    }
    pool_message(p, index, k, m);
  }
  return pool;
}

void pool_message(const RoleParams& p, int index, std::size_t k, Message& out) {
  generate_message(mix(p.seed, mix(static_cast<std::uint64_t>(index), k)), p.size_bytes, p.content, out);
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
  // One sending end served every out channel of a fan-out endpoint: each carried them all.
  if (p.shared_out && r.sent.size() == 1) r.sent.assign(p.out_lanes.size(), r.sent[0]);
  return r;
}

}  // namespace ipcmatrix
