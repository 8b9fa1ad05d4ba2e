// The role loops on their own, over an in-process ring: what a receiver records for
// messages whose envelopes a test writes by hand (the wire layout is in roles.hpp).
#include <doctest/doctest.h>

#include <thread>

#include "ipcmatrix/pattern/roles.hpp"
#include "ipcmatrix/sys/byte_order.hpp"
#include "ipcmatrix/sys/clock.hpp"

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

}  // namespace

TEST_SUITE("pattern") {
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
