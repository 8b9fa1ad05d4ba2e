// The role loops on their own, over an in-process ring: what a receiver records for
// messages whose envelopes a test writes by hand (the wire layout is in roles.hpp).
#include <doctest/doctest.h>

#include <bit>
#include <chrono>
#include <thread>

#include "ipcmatrix/pattern/roles.hpp"
#include "ipcmatrix/sys/byte_order.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "pattern/roles/steady_rate.hpp"

using namespace ipcmatrix;

namespace {

constexpr std::uint64_t kMessages = 200;

// A consumer receiving kMessages stamped messages whose origin lies `origin_offset_ns`
// from the moment each is sent.
RoleReport consume_stamped(std::int64_t origin_offset_ns) {
  auto pair = open_local_pair(find_transport("shm"), {});
  std::thread producer([&] {
    std::vector<std::byte> msg(kEnvelopeBytes + 64, std::byte{7});
    for (std::uint64_t i = 0; i < kMessages; ++i) {
      const std::int64_t now = sys::now_ns();
      sys::store_le64(msg.data(), i | kStampedBit);
      sys::store_le64(msg.data() + 8, static_cast<std::uint64_t>(now + origin_offset_ns));
      sys::store_le64(msg.data() + 16, static_cast<std::uint64_t>(now));
      sys::store_le64(msg.data() + 24, static_cast<std::uint64_t>(now));
      REQUIRE(pair.sender->send(msg) == IoStatus::ok);
    }
    pair.sender.reset();
  });
  RoleParams p;
  p.role = RoleKind::consumer;
  p.size_bytes = 64;
  p.verify = Verify::off;  // hand-made bodies: only counts, order and times matter here
  p.origins = {0};
  std::vector<std::unique_ptr<Transport>> outs, ins;
  ins.push_back(std::move(pair.receiver));
  RoleReport r = run_role(p, outs, ins);
  producer.join();
  return r;
}

// A producer of 256 KiB messages, stamped 1 in 64, into a consumer that takes one every
// 2 ms (a ring of 1 MiB: a few in flight): each send waits for the consumer, as a slow
// serializer or a slow channel would make it wait.
RoleReport produce_into_slow_consumer(RoleParams p) {
  constexpr std::size_t kSize = 256 * 1024;
  ChannelOptions o;
  o.capacity_bytes = std::size_t{1} << 20;
  auto pair = open_local_pair(find_transport("shm"), o);
  std::thread consumer([&] {
    std::vector<std::byte> buf(kEnvelopeBytes + kSize);
    std::size_t len = 0;
    while (pair.receiver->recv(buf, len) == IoStatus::ok) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  });
  p.role = RoleKind::producer;
  p.size_bytes = kSize;
  p.latency_sample = 64;
  p.verify = Verify::off;
  std::vector<std::unique_ptr<Transport>> outs, ins;
  outs.push_back(std::move(pair.sender));
  RoleReport r = run_role(p, outs, ins);
  outs.clear();  // the consumer's recv ends with the sender gone
  consumer.join();
  return r;
}

/// What a producer and its consumers recorded.
struct LanesRun {
  RoleReport sent;
  std::vector<RoleReport> got;  ///< per lane
};

// A producer with `producer`'s params over `lanes` in-process shm channels, each read by a
// consumer thread with `consumer`'s params (role and origin set here).
LanesRun run_over_lanes(std::size_t lanes, RoleParams producer, RoleParams consumer) {
  std::vector<LocalPair> pairs;
  for (std::size_t c = 0; c < lanes; ++c) pairs.push_back(open_local_pair(find_transport("shm"), {}));
  LanesRun run;
  run.got.resize(lanes);
  consumer.role = RoleKind::consumer;
  consumer.origins = {0};
  std::vector<std::thread> consumers;
  for (std::size_t c = 0; c < lanes; ++c) {
    consumers.emplace_back([&, c] {
      std::vector<std::unique_ptr<Transport>> outs, ins;
      ins.push_back(std::move(pairs[c].receiver));
      run.got[c] = run_role(consumer, outs, ins);
    });
  }
  producer.role = RoleKind::producer;
  std::vector<std::unique_ptr<Transport>> outs, ins;
  for (auto& pair : pairs) outs.push_back(std::move(pair.sender));
  run.sent = run_role(producer, outs, ins);
  outs.clear();  // the consumers' recv ends with the senders gone
  for (auto& t : consumers) t.join();
  return run;
}

}  // namespace

TEST_SUITE("pattern") {
  TEST_CASE("roles: a message pool holds kMaxPoolMessages entries, fewer past kPoolBytes, a power of two") {
    for (const std::uint64_t size : {std::uint64_t{1}, std::uint64_t{64}, std::uint64_t{64} << 10,
                                     std::uint64_t{1} << 20, std::uint64_t{3} << 20, std::uint64_t{64} << 20}) {
      CAPTURE(size);
      const std::size_t n = pool_size(size);
      CHECK(std::has_single_bit(n));
      CHECK(n <= kMaxPoolMessages);
      // Within the byte budget, or one message that alone exceeds it.
      CHECK((n * size <= kPoolBytes || n == 1));
      // As many as fit: twice as many would not.
      CHECK((n == kMaxPoolMessages || 2 * n * size > kPoolBytes));
    }
    CHECK(pool_size(64) == kMaxPoolMessages);
    CHECK(pool_size(std::uint64_t{1} << 20) == 4);
    RoleParams p;
    p.size_bytes = std::uint64_t{1} << 20;
    CHECK(message_pool(p, 0).size() == pool_size(p.size_bytes));
  }

  TEST_CASE("roles: warm-up is capped at a fifth of a time window, within its floor and ceiling") {
    // The default 150 ms window and the quick preset's 120 ms fall under the floor.
    CHECK(warmup_cap_s(0.15) == doctest::Approx(kWarmupMinCapS));
    CHECK(warmup_cap_s(0.12) == doctest::Approx(kWarmupMinCapS));
    CHECK(warmup_cap_s(1.0) == doctest::Approx(kWarmupWindowFraction));
    CHECK(warmup_cap_s(60.0) == doctest::Approx(kWarmupCapS));
    // A count-only phase (no window) has the fixed cap.
    CHECK(warmup_cap_s(0) == doctest::Approx(kWarmupCapS));
    // Never longer than the window it precedes, above the floor.
    for (const double d : {0.2, 0.5, 2.0, 10.0}) CHECK(warmup_cap_s(d) < d);
  }

  TEST_CASE("roles: a time window ends on time for slow messages, not at the next latency stamp") {
    // 20 ms at 2 ms a message: about 10, plus the ring's few. Were the clock read only at
    // stamps (1 in 64), the window could end no earlier than the 64th message. A loaded
    // machine only makes each message slower, so fewer fit.
    RoleParams p;
    p.duration_s = 0.02;
    p.min_messages = 1;
    p.warmup = 0;
    const RoleReport r = produce_into_slow_consumer(p);
    REQUIRE(r.error.empty());
    REQUIRE(r.measured_sent >= 2);
    CHECK(r.measured_sent < 40);
    // Stamped: the first measured message and the one that ended the window (the receivers'
    // window runs from the first to the last stamp), none between (1 in 64).
    CHECK(r.wire_msgs == r.measured_sent);
    CHECK(r.wire_bytes ==
          r.measured_sent * (kSeqEnvelopeBytes + 256 * 1024) + 2 * (kEnvelopeBytes - kSeqEnvelopeBytes));
  }

  TEST_CASE("roles: a minimum message count holds a time window open kMinMessagesExtraS longer at most") {
    // 100,000 messages at 2 ms each would take 200 s: the window ends at the cap instead,
    // short of the minimum, and not before it (the minimum still holds it open that long).
    // A loaded machine makes each message slower, never the window longer than a message
    // past the cap; the upper bound is loose for that.
    RoleParams p;
    p.duration_s = 0.02;
    p.min_messages = 100'000;
    p.minimum_max_s = min_messages_max_s(p.duration_s);
    p.warmup = 0;
    const RoleReport r = produce_into_slow_consumer(p);
    REQUIRE(r.error.empty());
    CHECK(r.measured_sent >= 2);
    CHECK(r.measured_sent < p.min_messages);
    const std::int64_t phase_ns = r.phase_end_ns - r.phase_start_ns;
    CHECK(phase_ns >= static_cast<std::int64_t>(min_messages_max_s(p.duration_s) * 1e9));
    CHECK(phase_ns < static_cast<std::int64_t>(20 * min_messages_max_s(p.duration_s) * 1e9));
  }

  TEST_CASE("roles: a time window over round-robin lanes ends stamped on every lane") {
    // A fan-out's producer, 1 in 64 stamped, over two lanes for 20 ms. Each consumer's window
    // runs from its first measured message to its last stamped one; before the stamps were
    // made to rotate over the lanes, the second consumer saw none, added nothing to the
    // cell's rate, and fan-out cells reported half their throughput.
    RoleParams consumer;
    consumer.size_bytes = 64;
    consumer.verify = Verify::off;
    RoleParams p;
    p.distribution = Distribution::round_robin;
    p.size_bytes = 64;
    p.duration_s = 0.02;
    p.min_messages = 1;
    p.warmup = 0;
    p.latency_sample = 64;
    p.verify = Verify::off;
    const LanesRun run = run_over_lanes(2, p, consumer);
    const RoleReport& sent = run.sent;
    const std::vector<RoleReport>& got = run.got;
    REQUIRE(sent.error.empty());
    REQUIRE(sent.measured_sent >= 4);
    std::uint64_t received = 0;
    for (std::size_t c = 0; c < 2; ++c) {
      CAPTURE(c);
      const RoleReport& r = got[c];
      REQUIRE(r.error.empty());
      received += r.measured_received;
      CHECK(r.last_recv_ns > r.first_recv_ns);
      // The window ends at this lane's last message: every measured one is inside it.
      CHECK(r.window_msgs == r.measured_received);
      CHECK(r.latency->count() >= 2);
    }
    CHECK(received == sent.measured_sent);
  }

  TEST_CASE("roles: warm-up of slow messages ends at its time cap, not at the next latency stamp") {
    // A count of warm-up messages far beyond what fits: the cap (a fifth of the 20 ms window, at
    // least kWarmupMinCapS) or a steady rate ends it, within a few messages of either. At
    // stamps only, warm-up would have run 64 messages (128 ms at the least).
    RoleParams p;
    p.duration_s = 0.02;
    p.min_messages = 1;
    p.messages = 1;
    p.warmup = 1'000'000;
    const std::int64_t t0 = sys::now_ns();
    const RoleReport r = produce_into_slow_consumer(p);
    REQUIRE(r.error.empty());
    CHECK(r.measured_sent == 1);
    const std::uint64_t warm = r.sent.at(0).count - r.measured_sent;
    CHECK(warm >= 1);
    CHECK(warm < 40);
    CHECK(r.phase_start_ns > t0);
  }

  TEST_CASE("roles: warm-up ends once the send rate holds still for kSteadySlices slices") {
    constexpr std::int64_t kSlice = kSteadySliceNs;
    const auto feed = [](const std::vector<double>& ns_per_msg) {
      // One slice per entry, each exactly kSlice long; the answer after each.
      detail::SteadyRate s;
      std::vector<bool> out;
      std::int64_t now = 1'000;
      std::uint64_t sent = 0;
      (void)s.steady_at(now, sent);
      for (const double per : ns_per_msg) {
        now += kSlice;
        sent += static_cast<std::uint64_t>(static_cast<double>(kSlice) / per);
        out.push_back(s.steady_at(now, sent));
      }
      return out;
    };
    static_assert(kSteadySlices == 3, "the expectations below count three slices");
    // Three agreeing slices: steady at the third, not before.
    CHECK(feed({1000, 1000, 1000}) == std::vector<bool>{false, false, true});
    // Within the tolerance counts as agreeing; a jump restarts the count.
    CHECK(feed({1000, 1050, 2000, 2100, 2050}) == std::vector<bool>{false, false, false, false, true});
    // A rate that keeps moving is never steady (it runs to the cap).
    CHECK(feed({1000, 1500, 1000, 1500, 1000, 1500}) == std::vector<bool>(6, false));
    // Reads closer together than a slice do not count as slices.
    detail::SteadyRate s;
    CHECK_FALSE(s.steady_at(0, 0));
    for (std::int64_t t = 1; t < 10; ++t) CHECK_FALSE(s.steady_at(t * 1000, static_cast<std::uint64_t>(t)));
  }

  TEST_CASE("roles: one-way differences below zero are recorded as 0 and counted, never hidden") {
    // 10 s ahead: every difference is negative whatever the scheduling delays.
    const RoleReport late = consume_stamped(/*origin 10 s in the future*/ 10'000'000'000);
    REQUIRE(late.error.empty());
    CHECK(late.measured_received == kMessages);
    CHECK(late.negative_diffs == kMessages);
    CHECK(late.most_negative_ns <= -9'000'000'000);
    CHECK(late.most_negative_ns >= -10'000'000'000);
    CHECK(late.latency->count() == kMessages);
    CHECK(late.latency->max() == 0);

    const RoleReport fine = consume_stamped(/*origin 1 ms in the past*/ -1'000'000);
    REQUIRE(fine.error.empty());
    CHECK(fine.negative_diffs == 0);
    CHECK(fine.most_negative_ns == 0);
    CHECK(fine.latency->min() >= 1'000'000);
  }

  TEST_CASE("roles: a producer's plain runs send what its general path would: counts, order, content, stamps") {
    // Closed loop, raw, copy api, 1 in 8 stamped: most messages go out in plain runs. Odd
    // counts and a batch of 5 put run ends, batch ends and stamps at different places.
    constexpr std::uint64_t kWarmup = 17, kMeasured = 203, kEvery = 8;
    struct Case {
      Distribution d;
      std::size_t outs;  // one out, copy api: emit_plain_run()'s single-channel loop
      Api api;
      Verify verify;     // sampled, one in, copy: the consumer's Receiver::run_plain()
    };
    for (const Case k : {Case{Distribution::round_robin, 1, Api::copy, Verify::full},
                         Case{Distribution::round_robin, 2, Api::copy, Verify::full},
                         Case{Distribution::all, 2, Api::copy, Verify::full},
                         Case{Distribution::round_robin, 1, Api::loan, Verify::full},
                         Case{Distribution::round_robin, 1, Api::copy, Verify::sampled},
                         Case{Distribution::all, 2, Api::copy, Verify::sampled}}) {
      const Distribution d = k.d;
      const std::size_t n = k.outs;
      CAPTURE(static_cast<int>(d));
      CAPTURE(n);
      CAPTURE(to_string(k.api));
      CAPTURE(to_string(k.verify));
      RoleParams consumer;
      consumer.size_bytes = 100;
      consumer.verify = k.verify;
      consumer.api = k.api;
      RoleParams p;
      p.distribution = d;
      p.size_bytes = 100;
      p.messages = kMeasured;
      p.warmup = kWarmup;
      p.batch = 5;
      p.latency_sample = kEvery;
      p.api = k.api;
      const LanesRun run = run_over_lanes(n, p, consumer);
      const RoleReport& sent = run.sent;
      const std::vector<RoleReport>& got = run.got;
      REQUIRE(sent.error.empty());
      CHECK(sent.measured_sent == kMeasured);
      // Which messages each channel gets, and which of them carry a stamp: every 8th from
      // the first (every 9th over two round-robin lanes, so that the stamps reach both), plus
      // the first measured one and the last measured one of each lane.
      const std::uint64_t lanes = d == Distribution::round_robin ? n : 1;
      const std::uint64_t every = lanes == 2 ? kEvery + 1 : kEvery;
      std::vector<std::uint64_t> want_count(n), want_measured(n), want_stamped(n);
      for (std::uint64_t i = 0; i < kWarmup + kMeasured; ++i) {
        const bool measured = i >= kWarmup;
        const bool stamped = i % every == 0 || i == kWarmup || i + lanes >= kWarmup + kMeasured;
        for (std::size_t c = 0; c < n; ++c) {
          if (d == Distribution::round_robin && i % n != c) continue;
          ++want_count[c];
          want_measured[c] += measured ? 1 : 0;
          want_stamped[c] += measured && stamped ? 1 : 0;
        }
      }
      std::uint64_t all_measured = 0, all_stamped = 0;
      for (std::size_t c = 0; c < n; ++c) {
        CAPTURE(c);
        all_measured += want_measured[c];
        all_stamped += want_stamped[c];
        const RoleReport& r = got[c];
        REQUIRE(r.error.empty());
        REQUIRE(r.received.size() == 1);
        CHECK(sent.sent[c].count == want_count[c]);
        CHECK(r.received[0].count == want_count[c]);
        CHECK(r.received[0].in_order);
        CHECK(r.received[0].corrupted == 0);
        // full: every body hashed against its seq; sampled: 1 in kVerifySampleEvery (edges of all)
        CHECK(r.received[0].hashed ==
              (k.verify == Verify::full ? want_count[c] : (want_count[c] + kVerifySampleEvery - 1) / kVerifySampleEvery));
        CHECK(r.measured_received == want_measured[c]);
        CHECK(r.latency->count() == want_stamped[c]);
        // Every lane's throughput window is open and ends at its last message.
        CHECK(r.last_recv_ns > r.first_recv_ns);
        CHECK(r.window_msgs == want_measured[c]);
      }
      CHECK(sent.wire_msgs == all_measured);
      CHECK(sent.wire_bytes ==
            all_measured * (kSeqEnvelopeBytes + 100) + all_stamped * (kEnvelopeBytes - kSeqEnvelopeBytes));
    }
  }

  TEST_CASE("roles: a gap or a repeat in the sequence numbers breaks the channel's order") {
    auto pair = open_local_pair(find_transport("shm"), {});
    std::thread producer([&] {
      std::vector<std::byte> msg(kSeqEnvelopeBytes + 64, std::byte{7});
      for (const std::uint64_t seq : {0, 1, 3, 3}) {
        sys::store_le64(msg.data(), seq);
        REQUIRE(pair.sender->send(msg) == IoStatus::ok);
      }
      pair.sender.reset();
    });
    RoleParams p;
    p.role = RoleKind::consumer;
    p.size_bytes = 64;
    p.verify = Verify::off;
    std::vector<std::unique_ptr<Transport>> outs, ins;
    ins.push_back(std::move(pair.receiver));
    const RoleReport r = run_role(p, outs, ins);
    producer.join();
    REQUIRE(r.received.size() == 1);
    CHECK(r.received[0].count == 4);
    CHECK_FALSE(r.received[0].in_order);
  }
}
