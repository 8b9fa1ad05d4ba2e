#pragma once
// iceoryx bare: two processes written against iceoryx's own API the way its examples
// (icedelivery, iceoptions) show it, with nothing of ipc-matrix in the loop: an untyped
// publisher loans a chunk, writes the message in place, publishes; an untyped subscriber takes,
// reads, releases. The same options as the matrix's iceoryx channels (a queue of 16,
// WAIT_FOR_CONSUMER + BLOCK_PRODUCER, no history) and a spinning receiver (take() in a loop),
// so the figure is what the `iceoryx` mechanism could reach with Wait::spin. The sender writes
// the whole message into its chunk; the receiver reads it in place (loan cells) or copies it
// out (copy cells), see take(). A round trip's echo sends back the bytes it received (echo_back()),
// as the matrix's echo does: an echo that published a body of its own would never move a
// message's bytes from one core to the other (1 MiB round trips measured that way were 3x
// faster than any echo that reads what it got, whenever the two vCPUs did not share a cache
// at the time). Needs a running
// RouDi (bench_matrix_vs_bare starts one around each bare run). Each child is forked from a
// process without an iceoryx runtime and makes its own.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iceoryx_hoofs/log/logmanager.hpp>
#include <iceoryx_posh/mepoo/chunk_header.hpp>
#include <iceoryx_posh/popo/untyped_publisher.hpp>
#include <iceoryx_posh/popo/untyped_subscriber.hpp>
#include <iceoryx_posh/runtime/posh_runtime.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ipcmatrix/runner/floor.hpp"
#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/iceoryx_roudi.hpp"

namespace bare_iceoryx {

using namespace ipcmatrix;
constexpr std::uint64_t kStop = ~std::uint64_t{0};
constexpr std::size_t kDistinct = 64;  // at most, as bare_stream's batch

inline void init_runtime(int cpu) {
  if (cpu >= 0) sys::pin_to_cpu(cpu);
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn,
                                                           iox::log::LogLevelOutput::kHideLogLevel);
  const std::string name = std::string(iceoryx::kRuntimePrefix) + std::to_string(::getpid()) + "-bare";
  iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str()));
}

inline iox::capro::ServiceDescription service(const char* event) {
  return {"bare", "iceoryx", iox::capro::IdString_t(iox::cxx::TruncateToCapacity, event)};
}

inline iox::popo::PublisherOptions publisher_options() {
  iox::popo::PublisherOptions o;
  o.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  return o;
}
inline iox::popo::SubscriberOptions subscriber_options() {
  iox::popo::SubscriberOptions o;
  o.queueCapacity = iceoryx::kQueueDepth;
  o.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
  return o;
}

/// Loans `size` bytes, copies `body` in, stamps `seq` in the first 8 bytes and publishes.
inline bool publish(iox::popo::UntypedPublisher& pub, const std::vector<std::byte>& body, std::uint64_t seq) {
  return !pub.loan(static_cast<std::uint32_t>(body.size()))
              .and_then([&](void* p) {
                std::memcpy(p, body.data(), body.size());
                std::memcpy(p, &seq, sizeof seq);
                pub.publish(p);
              })
              .has_error();
}

/// Spins on take() for the next message's sequence number; releases it. With `copy_out` (the
/// size of a receive buffer, else empty) the whole message is copied out first, as a receiver
/// that keeps its data does, and as the matrix's copy api (recv) and every other bare loop do;
/// without, it is read in place, as iceoryx's examples and the matrix's loan api do.
inline std::uint64_t take(iox::popo::UntypedSubscriber& sub, std::vector<std::byte>& copy_out) {
  for (;;) {
    auto r = sub.take();
    if (!r.has_error()) {
      std::uint64_t seq = 0;
      std::memcpy(&seq, r.value(), sizeof seq);
      if (!copy_out.empty()) std::memcpy(copy_out.data(), r.value(), copy_out.size());
      sub.release(r.value());
      return seq;
    }
    sys::cpu_relax();
  }
}

/// Spins on take() for the next message and publishes the same bytes back; returns its sequence
/// number (kStop: taken, not echoed). With `copy_out` (a receive buffer) the message is copied
/// out and released first, and published from the copy, as the matrix's copy api echoes;
/// without, it goes straight from the received chunk into the loan, as its loan api does.
inline std::uint64_t echo_back(iox::popo::UntypedSubscriber& sub, iox::popo::UntypedPublisher& pub,
                               std::vector<std::byte>& copy_out) {
  for (;;) {
    auto r = sub.take();
    if (r.has_error()) {
      sys::cpu_relax();
      continue;
    }
    const void* in = r.value();
    std::uint32_t n = iox::mepoo::ChunkHeader::fromUserPayload(in)->userPayloadSize();
    std::uint64_t seq = 0;
    std::memcpy(&seq, in, sizeof seq);
    if (seq == kStop) {
      sub.release(in);
      return seq;
    }
    if (!copy_out.empty()) {
      n = static_cast<std::uint32_t>(std::min<std::size_t>(n, copy_out.size()));
      std::memcpy(copy_out.data(), in, n);
      sub.release(in);
      in = copy_out.data();
    }
    const bool sent = !pub.loan(n)
                           .and_then([&](void* p) {
                             std::memcpy(p, in, n);
                             pub.publish(p);
                           })
                           .has_error();
    if (copy_out.empty()) sub.release(in);
    return sent ? seq : kStop - 1;
  }
}

inline void wait_for_subscriber(iox::popo::UntypedPublisher& pub) {
  while (!pub.hasSubscribers()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

/// The double `reporter` wrote into the pipe `r` once both children exited cleanly; nullopt
/// when either failed. Both are reaped, bounded.
inline std::optional<double> result_of(sys::Child& reporter, sys::Child& other, sys::Fd& r) {
  double v = 0;
  const bool got = sys::wait_readable(r.get(), 120'000) && ::read(r.get(), &v, sizeof v) == sizeof v;
  bool ok = got;
  for (sys::Child* c : {&reporter, &other}) {
    const auto st = c->wait_for(std::chrono::milliseconds(30'000));
    if (!st) c->kill_and_reap();
    ok = ok && st && st->ok();
  }
  return ok ? std::optional<double>(v) : std::nullopt;
}

/// msgs/s of `size`-byte messages streamed for about cap_ns, over the receiver's window.
inline std::optional<double> stream(std::size_t size, bool copy_out, int cpu_a, int cpu_b, std::int64_t cap_ns) {
  sys::Fd res_r, res_w;
  sys::make_pipe(res_r, res_w);
  sys::Child rx = sys::fork_child([&] {
    init_runtime(cpu_b);
    iox::popo::UntypedSubscriber sub(service("stream"), subscriber_options());
    std::vector<std::byte> out(copy_out ? std::max<std::size_t>(size, 8) : 0);
    std::uint64_t expect = 0;
    std::int64_t t0 = 0;
    for (;;) {
      const std::uint64_t seq = take(sub, out);
      if (seq == kStop) break;
      if (seq != expect++) return 4;
      if (seq == 0) t0 = sys::monotonic_ns();
    }
    const double rate = static_cast<double>(expect - 1) * 1e9 / static_cast<double>(sys::monotonic_ns() - t0);
    sys::write_all(res_w.get(), &rate, sizeof rate, "result");
    return 0;
  });
  sys::Child tx = sys::fork_child([&] {
    init_runtime(cpu_a);
    iox::popo::UntypedPublisher pub(service("stream"), publisher_options());
    wait_for_subscriber(pub);
    // Distinct bodies within kBareSourceBytes, as the other bare loops and the matrix's sender
    // pool: one hot 1 MiB body copied from cache made this loop look 1.5x faster than any
    // sender of distinct messages can be.
    const std::size_t bytes = std::max<std::size_t>(size, 8);
    const std::size_t distinct = std::clamp<std::size_t>(kBareSourceBytes / bytes, 1, kDistinct);
    std::vector<std::vector<std::byte>> bodies(distinct, std::vector<std::byte>(bytes, std::byte{0x5a}));
    const std::int64_t end = sys::monotonic_ns() + cap_ns;
    for (std::uint64_t i = 0;; ++i) {
      if ((i & 255) == 0 && sys::monotonic_ns() > end) return publish(pub, bodies[0], kStop) ? 0 : 2;
      if (!publish(pub, bodies[i % distinct], i)) return 2;
    }
  });
  res_w.reset();
  return result_of(rx, tx, res_r);
}

/// Median round trip of `size`-byte messages (one out, one back), over `rounds` after a tenth
/// as many of warm-up.
inline std::optional<double> pingpong_p50_ns(std::size_t size, bool copy_out, std::uint64_t rounds, int cpu_a,
                                             int cpu_b) {
  sys::Fd res_r, res_w;
  sys::make_pipe(res_r, res_w);
  sys::Child echo = sys::fork_child([&] {
    init_runtime(cpu_b);
    iox::popo::UntypedSubscriber in(service("ping"), subscriber_options());
    iox::popo::UntypedPublisher out(service("pong"), publisher_options());
    wait_for_subscriber(out);
    std::vector<std::byte> got(copy_out ? std::max<std::size_t>(size, 8) : 0);
    for (std::uint64_t expect = 0;; ++expect) {
      const std::uint64_t seq = echo_back(in, out, got);
      if (seq == kStop) return 0;
      if (seq != expect) return 2;
    }
  });
  sys::Child init = sys::fork_child([&] {
    init_runtime(cpu_a);
    iox::popo::UntypedPublisher out(service("ping"), publisher_options());
    iox::popo::UntypedSubscriber in(service("pong"), subscriber_options());
    wait_for_subscriber(out);
    std::vector<std::byte> body(std::max<std::size_t>(size, 8), std::byte{0x5a});
    std::vector<std::byte> got(copy_out ? body.size() : 0);
    std::vector<double> rtt;
    rtt.reserve(rounds);
    const std::uint64_t warm = rounds / 10;
    for (std::uint64_t i = 0; i < warm + rounds; ++i) {
      const std::int64_t t0 = sys::monotonic_ns();
      if (!publish(out, body, i) || take(in, got) != i) return 3;
      if (i >= warm) rtt.push_back(static_cast<double>(sys::monotonic_ns() - t0));
    }
    (void)publish(out, body, kStop);
    std::nth_element(rtt.begin(), rtt.begin() + static_cast<std::ptrdiff_t>(rtt.size() / 2), rtt.end());
    const double p50 = rtt[rtt.size() / 2];
    sys::write_all(res_w.get(), &p50, sizeof p50, "result");
    return 0;
  });
  res_w.reset();
  return result_of(init, echo, res_r);
}

}  // namespace bare_iceoryx
