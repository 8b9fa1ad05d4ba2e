// The shm ring between two threads of one process: the test the TSan build runs to
// check every memory order, plus wrap-around, streaming of messages larger than the
// ring, batching and hostile segments.
#include <doctest/doctest.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <poll.h>

#include <chrono>
#include <thread>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/ipc_names.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "support/test_support.hpp"

using namespace ipcmatrix;

namespace {

#ifdef IPCMATRIX_SANITIZED
constexpr std::uint64_t kMessages = 20'000;
#else
constexpr std::uint64_t kMessages = 100'000;
#endif

// Sizes chosen to hit every path of a 4 KiB ring: empty, tiny, around the 8-byte frame
// alignment, near the capacity, and several times larger (streamed in chunks).
std::size_t ring_size_for(std::uint64_t i) {
  switch (i % 11) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 7;
    case 3: return 8;
    case 4: return 9;
    case 5: return 4096 - 8;
    case 6: return 4096;
    case 7: return 3 * 4096 + 5;
    default: return (i * 131) % 300;
  }
}

/// A 4 KiB ring (so the threads wrap it often) with a short hybrid spin.
ChannelOptions small_ring(Wait w) {
  ChannelOptions o;
  o.wait = w;
  o.capacity_bytes = 4096;
  o.spin_ns = 20'000;
  return o;
}

void run_threads(Wait w, bool batched, std::int64_t spin_ns = 20'000) {
  ChannelOptions o = small_ring(w);
  o.spin_ns = spin_ns;
  auto pair = open_local_pair(find_transport("shm"), o);
  std::thread producer([&] {
    std::vector<std::vector<std::byte>> msgs(4);
    std::vector<std::span<const std::byte>> views(4);
    for (std::uint64_t i = 0; i < kMessages;) {
      const std::uint64_t n = batched ? std::min<std::uint64_t>(4, kMessages - i) : 1;
      for (std::uint64_t k = 0; k < n; ++k) {
        msgs[k].resize(ring_size_for(i + k));
        test::fill_payload(msgs[k], i + k);
        views[k] = msgs[k];
      }
      const IoStatus s = batched ? pair.sender->send_batch({views.data(), n}) : pair.sender->send(views[0]);
      REQUIRE(s == IoStatus::ok);
      i += n;
    }
    pair.sender.reset();  // clean close: the consumer's next recv says peer_closed
  });
  std::vector<std::byte> buf(1 << 16);
  std::uint64_t bad = 0;
  for (std::uint64_t i = 0; i < kMessages; ++i) {
    std::size_t len = 0;
    REQUIRE(pair.receiver->recv(buf, len) == IoStatus::ok);
    if (len != ring_size_for(i) || !test::payload_matches({buf.data(), len}, i)) ++bad;
  }
  std::size_t len = 0;
  CHECK(pair.receiver->recv(buf, len) == IoStatus::peer_closed);
  producer.join();
  CHECK(bad == 0);
}

// Zero-copy both ways: loaned slots written in place (larger-than-ring messages by copy, as
// the role loops do), published every few messages, read in place with peek/release.
void run_loaned(Wait w) {
  auto pair = open_local_pair(find_transport("shm"), small_ring(w));
  std::thread producer([&] {
    std::vector<std::byte> msg;
    for (std::uint64_t i = 0; i < kMessages; ++i) {
      msg.resize(ring_size_for(i));
      test::fill_payload(msg, i);
      LoanedSpace space;
      IoStatus s = pair.sender->loan(msg.size(), space);
      if (s == IoStatus::ok) {
        space.write(0, msg);
        s = pair.sender->commit(i % 3 == 0);
      } else if (pair.sender->error() == std::errc::message_size) {
        s = pair.sender->publish();
        if (s == IoStatus::ok) s = pair.sender->send(msg);
      }
      REQUIRE(s == IoStatus::ok);
    }
    pair.sender.reset();
  });
  std::vector<std::byte> copy(1 << 16);
  std::uint64_t bad = 0;
  for (std::uint64_t i = 0; i < kMessages; ++i) {
    MessageView v;
    REQUIRE(pair.receiver->peek(v) == IoStatus::ok);
    v.read(0, copy.data(), v.size());
    if (v.size() != ring_size_for(i) || !test::payload_matches({copy.data(), v.size()}, i)) ++bad;
    pair.receiver->release();
  }
  MessageView v;
  CHECK(pair.receiver->peek(v) == IoStatus::peer_closed);
  producer.join();
  CHECK(bad == 0);
}

// An event loop's consumer on a --wait eventfd ring: it never blocks in the ring, only in
// poll() on poll_fd(), and drains with try_recv() until would_block (which re-arms the fd).
// The producer pauses now and then so the consumer runs dry and must be woken through the
// eventfd; a lost wake-up shows as a poll that times out (bounded at 10 s, never reached
// when the pairing holds).
void run_event_loop(std::int64_t spin_ns) {
  ChannelOptions o = small_ring(Wait::eventfd);
  o.spin_ns = spin_ns;
  auto pair = open_local_pair(find_transport("shm"), o);
  const int fd = pair.receiver->poll_fd();
  REQUIRE(fd >= 0);
  std::thread producer([&] {
    std::vector<std::byte> msg;
    for (std::uint64_t i = 0; i < kMessages; ++i) {
      msg.resize(ring_size_for(i));
      test::fill_payload(msg, i);
      REQUIRE(pair.sender->send(msg) == IoStatus::ok);
      if (i % 512 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    pair.sender.reset();
  });
  std::vector<std::byte> buf(1 << 16);
  std::uint64_t got = 0, bad = 0, polls = 0, lost = 0;
  while (true) {
    std::size_t len = 0;
    const IoStatus s = pair.receiver->try_recv(buf, len);
    if (s == IoStatus::ok) {
      if (len != ring_size_for(got) || !test::payload_matches({buf.data(), len}, got)) ++bad;
      ++got;
      continue;
    }
    if (s == IoStatus::peer_closed) break;
    REQUIRE(s == IoStatus::would_block);
    pollfd p{fd, POLLIN, 0};
    ++polls;
    if (::poll(&p, 1, 10'000) != 1) {
      ++lost;
      break;
    }
  }
  producer.join();
  CHECK(lost == 0);
  CHECK(got == kMessages);
  CHECK(bad == 0);
  CHECK(polls > 0);  // the consumer did run dry and was woken through the fd
}

}  // namespace

TEST_SUITE("ring") {

TEST_CASE("ring: --wait eventfd, an event loop polling the eventfd and draining with try_recv loses no wake-up") {
  SUBCASE("no spin: every wait sleeps on the eventfd") { run_event_loop(0); }
  SUBCASE("spin first, as hybrid") { run_event_loop(20'000); }
}

TEST_CASE("ring: --wait eventfd with no spin, blocking recv sleeps on the eventfd and loses nothing") {
  // spin_ns 0: every wait of the consumer goes to the eventfd, the path TSan must see.
  run_threads(Wait::eventfd, false, 0);
}

TEST_CASE("ring: loaned writes and in-place reads, every wait strategy, in order and intact") {
  for (auto w : {Wait::spin, Wait::block, Wait::hybrid, Wait::eventfd}) {
    SUBCASE(std::string(to_string(w)).c_str()) { run_loaned(w); }
  }
}

TEST_CASE("ring: two threads, every wait strategy, messages in order and intact") {
  for (auto w : {Wait::spin, Wait::block, Wait::hybrid, Wait::eventfd}) {
    SUBCASE(std::string(to_string(w)).c_str()) { run_threads(w, false); }
  }
}

TEST_CASE("ring: batched sends publish several frames at once and lose nothing") {
  run_threads(Wait::hybrid, true);
}

TEST_CASE("ring: capacity must be a power of two") {
  ChannelOptions o;
  o.capacity_bytes = 1000;
  CHECK_THROWS_AS(find_transport("shm").create(o), Error);
}

TEST_CASE("ring: a segment that is not a ring is refused with a clear error") {
  namespace bip = boost::interprocess;
  const std::string name = sys::unique_ipc_name();
  {
    bip::shared_memory_object shm(bip::create_only, name.c_str(), bip::read_write);
    shm.truncate(8192);  // all zeros: no magic
  }
  ChannelSpec s;
  s.mechanism = "shm";
  s.name = name;
  CHECK_THROWS_WITH_AS(find_transport("shm").open(s, Role::receiver), doctest::Contains("bad magic"),
                       Error);
  bip::shared_memory_object::remove(name.c_str());
}

TEST_CASE("ring: opening a segment that does not exist names it") {
  ChannelSpec s;
  s.mechanism = "shm";
  s.name = sys::unique_ipc_name();
  CHECK_THROWS_WITH_AS(find_transport("shm").open(s, Role::sender), doctest::Contains(s.name.c_str()),
                       Error);
}

}  // TEST_SUITE
