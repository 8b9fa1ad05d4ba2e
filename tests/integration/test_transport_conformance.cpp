// One conformance suite for every registered mechanism: a new mechanism is tested here
// with no new test code. Each case runs the two ends in two real forked processes; the
// test process only creates the channel and watches.
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>
#include <thread>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "support/roudi_fixture.hpp"
#include "support/test_support.hpp"

using namespace ipcmatrix;
using namespace std::chrono_literals;

namespace {

constexpr auto kLimit = std::chrono::milliseconds(120'000);  // generous: loaded 2-core CI

using Body = std::function<int(Transport&)>;

struct Pair {
  sys::Child tx, rx;
};

// Spawns the sender and the receiver as two children. Each closes the other end's fd,
// and the parent closes its copies, so end-of-stream is seen exactly as in production.
Pair spawn_pair(const TransportSpec& t, const ChannelOptions& o, std::unique_ptr<Channel>& ch,
                const Body& tx_body, const Body& rx_body) {
  ch = t.create(o);
  const ChannelSpec txs = ch->spec(Role::sender), rxs = ch->spec(Role::receiver);
  auto drop = [](const ChannelSpec& s) {
    for (const int fd : s.inherited_fds())
      if (fd >= 0) ::close(fd);
  };
  Pair p;
  p.rx = sys::fork_child([&] {
    drop(txs);
    auto tr = t.open(rxs, Role::receiver);
    return rx_body(*tr);
  });
  p.tx = sys::fork_child([&] {
    drop(rxs);
    auto tr = t.open(txs, Role::sender);
    return tx_body(*tr);
  });
  ch->close_local_fds();
  return p;
}

std::size_t size_for(std::uint64_t i) { return (i * 37) % 700; }  // 0..699, zero included

int send_stream(Transport& tr, std::uint64_t count, std::size_t (*size_of)(std::uint64_t)) {
  std::vector<std::byte> buf(1 << 20);
  for (std::uint64_t i = 0; i < count; ++i) {
    std::span<std::byte> m(buf.data(), size_of(i));
    test::fill_payload(m, i);
    if (auto s = tr.send(m); s != IoStatus::ok) {
      std::fprintf(stderr, "send %llu: %s %s\n", (unsigned long long)i, to_string(s).data(),
                   tr.error().message().c_str());
      return 2;
    }
  }
  return 0;
}

int recv_stream(Transport& tr, std::uint64_t count, std::size_t (*size_of)(std::uint64_t),
                int pause_every = 0) {
  std::vector<std::byte> buf(1 << 20);
  for (std::uint64_t i = 0; i < count; ++i) {
    std::size_t len = 0;
    if (auto s = tr.recv(buf, len); s != IoStatus::ok) {
      std::fprintf(stderr, "recv %llu: %s %s\n", (unsigned long long)i, to_string(s).data(),
                   tr.error().message().c_str());
      return 3;
    }
    if (len != size_of(i) || !test::payload_matches({buf.data(), len}, i)) {
      std::fprintf(stderr, "message %llu corrupt or out of order (len %zu)\n", (unsigned long long)i, len);
      return 4;
    }
    if (pause_every && i % pause_every == 0) std::this_thread::sleep_for(1ms);
  }
  // After the last message the sender closes: the next receive must say so.
  std::size_t len = 0;
  const IoStatus end = tr.recv(buf, len);
  if (end != IoStatus::peer_closed) {
    std::fprintf(stderr, "expected peer_closed after the stream, got %s\n", to_string(end).data());
    return 5;
  }
  return 0;
}

void expect_clean_exit(Pair& p) {
  auto rx = p.rx.wait_for(kLimit);
  auto tx = p.tx.wait_for(kLimit);
  REQUIRE_MESSAGE(rx.has_value(), "receiver hung");
  REQUIRE_MESSAGE(tx.has_value(), "sender hung");
  CHECK_MESSAGE(rx->ok(), "receiver " << rx->describe());
  CHECK_MESSAGE(tx->ok(), "sender " << tx->describe());
}

// Runs body once per registered mechanism and checks that nothing leaked.
void for_each_mechanism(const std::function<void(const TransportSpec&)>& body) {
  for (const auto* t : all_transports()) {
    SUBCASE(std::string(t->name).c_str()) {
      // iceoryx: a RouDi of this subcase's own, stopped before the leak check (its segments,
      // its socket and every client's socket must be gone with it).
      std::optional<test::RoudiFixture> roudi;
      if (test::needs_roudi(*t)) roudi.emplace();
      if (roudi && !roudi->running()) {
        MESSAGE("iceoryx skipped: " << roudi->why());
      } else {
        test::expect_leaves_nothing([&] {
          body(*t);
          if (roudi) {
            roudi.reset();
            CHECK_MESSAGE(iceoryx::foreign_roudi().empty(), "RouDi left: " << iceoryx::foreign_roudi());
          }
        });
      }
    }
  }
}

}  // namespace

TEST_SUITE("transport") {

TEST_CASE("conformance: 10,000 small messages arrive in order and intact") {
  for_each_mechanism([](const TransportSpec& t) {
    std::unique_ptr<Channel> ch;
    auto p = spawn_pair(t, {}, ch, [](Transport& tr) { return send_stream(tr, 10'000, size_for); },
                        [](Transport& tr) { return recv_stream(tr, 10'000, size_for); });
    expect_clean_exit(p);
  });
}

TEST_CASE("conformance: 1 MiB and 64 MiB messages arrive intact, or are refused above the mechanism's limit") {
  for_each_mechanism([](const TransportSpec& t) {
    static constexpr std::size_t kSizes[] = {1 << 20, 1 << 20, 64 << 20, 3};
    // A mechanism that carries less (a datagram) must refuse the rest clearly, send nothing
    // of them, and carry on with the next message.
    const std::size_t limit = semantics_of(t).max_message_bytes;
    auto tx = [limit](Transport& tr) {
      std::vector<std::byte> buf(64 << 20);
      for (std::uint64_t i = 0; i < std::size(kSizes); ++i) {
        std::span<std::byte> m(buf.data(), kSizes[i]);
        test::fill_payload(m, i);
        const IoStatus s = tr.send(m);
        if (kSizes[i] > limit) {
          if (s != IoStatus::error || tr.error() != std::errc::message_size) return 5;
          continue;
        }
        if (s != IoStatus::ok) return 2;
      }
      return 0;
    };
    auto rx = [limit](Transport& tr) {
      std::vector<std::byte> buf(64 << 20);
      for (std::uint64_t i = 0; i < std::size(kSizes); ++i) {
        if (kSizes[i] > limit) continue;
        std::size_t len = 0;
        if (tr.recv(buf, len) != IoStatus::ok) return 3;
        if (len != kSizes[i] || !test::payload_matches({buf.data(), len}, i)) return 4;
      }
      return 0;
    };
    std::unique_ptr<Channel> ch;
    auto p = spawn_pair(t, {}, ch, tx, rx);
    expect_clean_exit(p);
  });
}

TEST_CASE("conformance: a slow receiver loses nothing where the card says a full channel blocks") {
  for_each_mechanism([](const TransportSpec& t) {
    // A mechanism whose card says it drops or errors when full is held to that elsewhere;
    // every one that claims back-pressure is held to it here.
    if (semantics_of(t).when_full != WhenFull::blocks) return;
    // 3,000 x 4 KiB = 12 MiB, far more than any default buffer, so the sender must wait.
    auto size4k = [](std::uint64_t) -> std::size_t { return 4096; };
    std::unique_ptr<Channel> ch;
    auto p = spawn_pair(t, {}, ch, [&](Transport& tr) { return send_stream(tr, 3'000, size4k); },
                        [&](Transport& tr) { return recv_stream(tr, 3'000, size4k, 100); });
    expect_clean_exit(p);
  });
}

TEST_CASE("conformance: a ping-pong pair opens in either order and round-trips") {
  for_each_mechanism([](const TransportSpec& t) {
    // Two channels, one each way; each process opens its sending end first, the order
    // that deadlocks a naive listen-at-open design.
    auto a = t.create({});
    auto b = t.create({});
    auto close_fd = [](const ChannelSpec& s) {
      for (const int fd : s.inherited_fds())
        if (fd >= 0) ::close(fd);
    };
    const auto a_tx = a->spec(Role::sender), a_rx = a->spec(Role::receiver);
    const auto b_tx = b->spec(Role::sender), b_rx = b->spec(Role::receiver);
    auto ping = sys::fork_child([&] {
      close_fd(a_rx);
      close_fd(b_tx);
      auto out = t.open(a_tx, Role::sender);
      auto in = t.open(b_rx, Role::receiver);
      std::vector<std::byte> buf(64), got(64);
      for (std::uint64_t i = 0; i < 1000; ++i) {
        test::fill_payload(buf, i);
        std::size_t len = 0;
        if (out->send(buf) != IoStatus::ok || in->recv(got, len) != IoStatus::ok) return 2;
        if (len != 64 || got != buf) return 3;
      }
      return 0;
    });
    auto pong = sys::fork_child([&] {
      close_fd(a_tx);
      close_fd(b_rx);
      auto out = t.open(b_tx, Role::sender);
      auto in = t.open(a_rx, Role::receiver);
      std::vector<std::byte> buf(64);
      for (int i = 0; i < 1000; ++i) {
        std::size_t len = 0;
        if (in->recv(buf, len) != IoStatus::ok) return 2;
        if (out->send({buf.data(), len}) != IoStatus::ok) return 3;
      }
      return 0;
    });
    a->close_local_fds();
    b->close_local_fds();
    Pair p{std::move(ping), std::move(pong)};
    expect_clean_exit(p);
  });
}

TEST_CASE("conformance: where senders may share an end, several processes send on one at once, and the end "
          "comes after the last of them") {
  /// A 16-byte message naming its sender and its sequence number.
  struct Tagged {
    std::uint64_t sender, seq;
  };
  for_each_mechanism([](const TransportSpec& t) {
    if (!t.caps.shared_sender) return;
    auto ch = t.create({});
    const ChannelSpec txs = ch->spec(Role::sender), rxs = ch->spec(Role::receiver);
    sys::Fd go_r, go_w;
    sys::make_pipe(go_r, go_w);
    constexpr std::uint64_t kSenders = 3, kEach = 1000;
    std::vector<sys::Child> senders;
    for (std::uint64_t k = 0; k < kSenders; ++k) {
      senders.push_back(sys::fork_child([&, k] {
        for (const int fd : rxs.inherited_fds())
          if (fd >= 0) ::close(fd);
        // Every sender opens the same spec: no per-sender setup.
        auto tx = t.open(txs, Role::sender);
        // The last sender starts only when told, so the others are gone by then.
        if (k == kSenders - 1 && !sys::wait_readable(go_r.get(), 60'000)) return 4;
        for (std::uint64_t i = 0; i < kEach; ++i) {
          const Tagged m{k, i};
          if (tx->send(std::as_bytes(std::span(&m, 1))) != IoStatus::ok) return 2;
        }
        return 0;
      }));
    }
    go_r.reset();
    // The receiver is a child too (iceoryx: a runtime of its own, never this process's). It
    // signals `first` after the first two senders' messages, then must wait for the third's.
    sys::Fd first_r, first_w;
    sys::make_pipe(first_r, first_w);
    sys::Child receiver = sys::fork_child([&] {
      go_w.reset();
      first_r.reset();
      for (const int fd : txs.inherited_fds())
        if (fd >= 0) ::close(fd);
      auto rx = t.open(rxs, Role::receiver);
      std::vector<std::uint64_t> next(kSenders, 0);
      auto receive = [&](std::uint64_t count) {
        for (std::uint64_t n = 0; n < count; ++n) {
          Tagged m{};
          std::size_t len = 0;
          if (rx->recv(std::as_writable_bytes(std::span(&m, 1)), len) != IoStatus::ok) return 2;
          if (len != sizeof m) return 3;  // whole: never two senders' bytes in one message
          if (m.sender >= kSenders) return 4;
          if (m.seq != next[m.sender]) return 5;  // each sender's messages in its order
          ++next[m.sender];
        }
        return 0;
      };
      if (const int rc = receive((kSenders - 1) * kEach); rc != 0) return rc;
      sys::write_all(first_w.get(), "f", 1, "first");
      // Two senders are gone, one lives and has not sent: the receiver must wait, not end.
      if (const int rc = receive(kEach); rc != 0) return 10 + rc;
      if (next != std::vector<std::uint64_t>(kSenders, kEach)) return 20;
      std::byte buf[64];
      std::size_t len = 0;
      return rx->recv(buf, len) == IoStatus::peer_closed ? 0 : 21;
    });
    first_w.reset();
    ch->close_local_fds();
    REQUIRE_MESSAGE(sys::wait_readable(first_r.get(), 120'000), "the first two senders' messages did not arrive");
    for (std::uint64_t k = 0; k + 1 < kSenders; ++k) {
      const auto st = senders[k].wait_for(kLimit);
      REQUIRE(st.has_value());
      CHECK(st->ok());
    }
    std::this_thread::sleep_for(200ms);
    sys::write_all(go_w.get(), "g", 1, "go");
    const auto st = senders.back().wait_for(kLimit);
    REQUIRE(st.has_value());
    CHECK(st->ok());
    const auto rs = receiver.wait_for(kLimit);
    REQUIRE_MESSAGE(rs.has_value(), "receiver hung");
    CHECK_MESSAGE(rs->ok(), "receiver " << rs->describe()
                                        << " (2-5: a message was lost, split or out of order; 21: no end after the last sender)");
  });
  // The capability is what a fan-in over one shared endpoint runs on: at least one offers it.
  CHECK(std::any_of(all_transports().begin(), all_transports().end(),
                    [](const TransportSpec* t) { return t->caps.shared_sender; }));
}

TEST_CASE("conformance: a sender killed mid-stream gives the receiver an error, not a hang") {
  for_each_mechanism([](const TransportSpec& t) {
    sys::Fd note_r, note_w;
    sys::make_pipe(note_r, note_w);
    const int note = note_w.get();
    auto tx = [](Transport& tr) {
      std::vector<std::byte> buf(1024);
      for (std::uint64_t i = 0;; ++i) {
        test::fill_payload(buf, i);
        if (tr.send(buf) != IoStatus::ok) return 2;
      }
    };
    auto rx = [note](Transport& tr) {
      std::vector<std::byte> buf(4096);
      for (std::uint64_t i = 0;; ++i) {
        std::size_t len = 0;
        const IoStatus s = tr.recv(buf, len);
        if (s == IoStatus::peer_closed || s == IoStatus::error) return i >= 100 ? 0 : 6;
        if (s != IoStatus::ok) return 7;
        if (len != 1024 || !test::payload_matches({buf.data(), len}, i)) return 4;
        if (i == 100) {
          char c = 1;
          if (::write(note, &c, 1) != 1) return 8;
        }
      }
    };
    std::unique_ptr<Channel> ch;
    auto p = spawn_pair(t, {}, ch, tx, rx);
    note_w.reset();
    REQUIRE_MESSAGE(sys::wait_readable(note_r.get(), 60'000), "receiver made no progress");
    p.tx.kill(SIGKILL);
    auto rs = p.rx.wait_for(std::chrono::milliseconds(30'000));
    REQUIRE_MESSAGE(rs.has_value(), "receiver hung after its sender was killed");
    CHECK_MESSAGE(rs->ok(), "receiver " << rs->describe());
    p.tx.kill_and_reap();
  });
}

TEST_CASE("conformance: a receiver killed mid-stream gives the sender an error, not a hang") {
  for_each_mechanism([](const TransportSpec& t) {
    sys::Fd note_r, note_w;
    sys::make_pipe(note_r, note_w);
    const int note = note_w.get();
    auto tx = [](Transport& tr) {
      std::vector<std::byte> buf(1024);
      for (std::uint64_t i = 0;; ++i) {
        const IoStatus s = tr.send(buf);
        if (s == IoStatus::peer_closed || s == IoStatus::error) return 0;
        if (s != IoStatus::ok) return 7;
      }
    };
    auto rx = [note](Transport& tr) {
      std::vector<std::byte> buf(4096);
      std::size_t len = 0;
      for (int i = 0; i < 100; ++i)
        if (tr.recv(buf, len) != IoStatus::ok) return 3;
      char c = 1;
      if (::write(note, &c, 1) != 1) return 8;
      ::pause();  // killed here
      return 0;
    };
    std::unique_ptr<Channel> ch;
    auto p = spawn_pair(t, {}, ch, tx, rx);
    note_w.reset();
    REQUIRE_MESSAGE(sys::wait_readable(note_r.get(), 60'000), "receiver made no progress");
    p.rx.kill(SIGKILL);
    auto ts = p.tx.wait_for(std::chrono::milliseconds(30'000));
    REQUIRE_MESSAGE(ts.has_value(), "sender hung after its receiver was killed");
    CHECK_MESSAGE(ts->ok(), "sender " << ts->describe());
    p.rx.kill_and_reap();
  });
}

TEST_CASE("conformance: a message larger than the receive buffer is an error, not an overflow") {
  for_each_mechanism([](const TransportSpec& t) {
    // In a child of its own: this process forks the peers of the other cases, and iceoryx's
    // runtime may not be inherited by them.
    const int rc = test::in_child([&] {
      auto pair = open_local_pair(t);
      std::vector<std::byte> big(1000), small(100);
      std::thread tx([&] { (void)pair.sender->send(big); });
      std::size_t len = 0;
      int out = 0;
      if (pair.receiver->recv(small, len) != IoStatus::error) out = 2;
      else if (pair.receiver->error() != std::errc::message_size) out = 3;
      pair.receiver.reset();  // the sender may be waiting for the rest; closing frees it
      tx.join();
      return out;
    });
    CHECK_MESSAGE(rc == 0, "2: not an error, 3: not message_size, -1: hung; got " << rc);
  });
}

// Gathered sends: each message split at a size-dependent point into a head and a body,
// batched in groups of 16; the receiver must see the concatenation.
int send_gathered(Transport& tr, std::uint64_t count, std::size_t (*size_of)(std::uint64_t)) {
  std::vector<std::vector<std::byte>> bufs(16, std::vector<std::byte>(1 << 20));
  std::vector<GatherMessage> batch;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::span<std::byte> m(bufs[batch.size()].data(), size_of(i));
    test::fill_payload(m, i);
    const std::size_t cut = std::min<std::size_t>(m.size(), i % 41);
    batch.push_back({m.first(cut), m.subspan(cut)});
    if (batch.size() == bufs.size() || i + 1 == count) {
      if (auto s = tr.send_gather(batch); s != IoStatus::ok) return 2;
      batch.clear();
    }
  }
  return 0;
}

// Zero-copy: every message written into a loaned slot (the sender falls back to a copy for
// a message the ring cannot lend) and read in place, wrapped pieces included.
int send_loaned(Transport& tr, std::uint64_t count, std::size_t (*size_of)(std::uint64_t)) {
  std::vector<std::byte> m(8 << 20);
  for (std::uint64_t i = 0; i < count; ++i) {
    std::span<std::byte> msg(m.data(), size_of(i));
    test::fill_payload(msg, i);
    LoanedSpace space;
    IoStatus s = tr.loan(msg.size(), space);
    if (s == IoStatus::ok) {
      if (space.size() != msg.size()) return 6;
      space.write(0, msg);
      s = tr.commit(i % 7 == 0);
    } else if (s == IoStatus::error && tr.error() == std::errc::message_size) {
      s = tr.publish();
      if (s == IoStatus::ok) s = tr.send(msg);
    }
    if (s != IoStatus::ok) return 2;
  }
  return tr.publish() == IoStatus::ok ? 0 : 7;
}

// expect_wraps: the mechanism lends from a ring (sized by capacity_bytes), where the sizes
// below must make messages wrap; one that lends whole buffers (memfd) never wraps.
int recv_in_place(Transport& tr, std::uint64_t count, std::size_t (*size_of)(std::uint64_t), bool expect_wraps) {
  std::vector<std::byte> copy(8 << 20);
  std::uint64_t wrapped = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    MessageView v;
    if (tr.peek(v) != IoStatus::ok) return 3;
    if (!v.second.empty()) ++wrapped;
    v.read(0, copy.data(), v.size());
    if (v.size() != size_of(i) || !test::payload_matches({copy.data(), v.size()}, i)) return 4;
    tr.release();
  }
  MessageView v;
  if (tr.peek(v) != IoStatus::peer_closed) return 5;
  // The sizes below make messages straddle the end of the ring many times.
  return wrapped > 0 || !expect_wraps ? 0 : 8;
}

std::size_t loan_size_for(std::uint64_t i) {
  // Mostly small and odd-sized (so frames wrap at every offset), now and then larger than
  // the 64 KiB ring used below (streamed by copy, viewed from the transport's buffer).
  return i % 97 == 96 ? 100'000 + i : (i * 131) % 3000;
}

TEST_CASE("conformance: gathered sends arrive as the concatenation of their pieces") {
  for_each_mechanism([](const TransportSpec& t) {
    std::unique_ptr<Channel> ch;
    auto p = spawn_pair(t, {}, ch, [](Transport& tr) { return send_gathered(tr, 5'000, size_for); },
                        [](Transport& tr) { return recv_stream(tr, 5'000, size_for); });
    expect_clean_exit(p);
  });
}

TEST_CASE("conformance: mechanisms that lend memory pass messages in place, wraps and oversize included") {
  for_each_mechanism([](const TransportSpec& t) {
    if (!t.caps.loan) {
      // The others must refuse clearly, not pretend.
      const int rc = test::in_child([&] {
        auto pair = open_local_pair(t, {});
        LoanedSpace space;
        if (pair.sender->loan(64, space) != IoStatus::error) return 2;
        return pair.sender->error() == std::errc::operation_not_supported ? 0 : 3;
      });
      CHECK_MESSAGE(rc == 0, "2: loan did not fail, 3: not operation_not_supported; got " << rc);
      return;
    }
    ChannelOptions o;
    o.capacity_bytes = 64 << 10;
    std::unique_ptr<Channel> ch;
    auto p = spawn_pair(t, o, ch, [](Transport& tr) { return send_loaned(tr, 3'000, loan_size_for); },
                        [&](Transport& tr) {
                          return recv_in_place(tr, 3'000, loan_size_for, t.caps.buffer == BufferKnob::capacity_bytes);
                        });
    expect_clean_exit(p);
  });
}

TEST_CASE("semantics: a receiver whose card says pollable has an fd that a message makes readable") {
  for_each_mechanism([](const TransportSpec& t) {
    const SemanticsCard card = semantics_of(t);
    auto one = [](std::uint64_t) -> std::size_t { return 64; };
    std::unique_ptr<Channel> ch;
    auto p = spawn_pair(
        t, {}, ch, [&](Transport& tr) { return send_stream(tr, 1, one); },
        [&](Transport& tr) {
          const int fd = tr.poll_fd();
          // opt_in (shm): no fd with the default options; its own test below turns it on.
          if (card.pollable != Pollable::fd) return fd == -1 ? recv_stream(tr, 1, one, 0) : 10;
          if (fd < 0) return 11;
          pollfd pfd{fd, POLLIN, 0};
          // Bounded: the sender sends at once; 60 s only guards a loaded machine.
          if (::poll(&pfd, 1, 60'000) != 1 || (pfd.revents & POLLIN) == 0) return 12;
          return recv_stream(tr, 1, one, 0);
        });
    expect_clean_exit(p);
  });
}

TEST_CASE("semantics: shm --wait eventfd is pollable across processes: an epoll loop drains it with try_recv") {
  // The receiver is an event loop in its own process: it waits only in epoll_wait() on the
  // ring's eventfd, drains with try_recv() until would_block (re-arming the fd) and sees
  // peer_closed after the last message. The sender pauses so the loop runs dry and must be
  // woken through the fd; a lost wake-up would leave epoll_wait() to time out (30 s bound).
  const TransportSpec& t = find_transport("shm");
  CHECK(semantics_of(t).pollable == Pollable::opt_in);
  ChannelOptions o;
  o.wait = Wait::eventfd;
  o.spin_ns = 0;
  static constexpr std::uint64_t kCount = 2'000;
  const auto before = test::leak_snapshot();
  {
    std::unique_ptr<Channel> ch;
    auto p = spawn_pair(
        t, o, ch,
        [](Transport& tr) {
          std::vector<std::byte> buf(1 << 20);
          for (std::uint64_t i = 0; i < kCount; ++i) {
            std::span<std::byte> m(buf.data(), size_for(i));
            test::fill_payload(m, i);
            if (tr.send(m) != IoStatus::ok) return 2;
            if (i % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
          return 0;
        },
        [](Transport& tr) {
          std::uint64_t got = 0;
          const int rc = test::run_event_loop(tr, 1 << 20, got, [](std::span<const std::byte> m, std::uint64_t i) {
            return m.size() == size_for(i) && test::payload_matches(m, i);
          });
          return rc != 0 ? rc : got == kCount ? 0 : 15;
        });
    expect_clean_exit(p);
  }
  const auto leaked = test::new_entries(before, test::leak_snapshot());
  CHECK_MESSAGE(leaked.empty(), "leaked: " << (leaked.empty() ? "" : leaked.front()));
}

TEST_CASE("semantics: every mechanism has a complete card that survives JSON") {
  for (const auto* t : all_transports()) {
    INFO("mechanism ", std::string(t->name));
    const SemanticsCard card = semantics_of(*t);
    CHECK(!card.poll_note.empty());
    CHECK(!card.dead_peer.empty());
    CHECK(!card.access.empty());
    CHECK(!card.limits.empty());
    CHECK(card.max_message_bytes == message_limit_of(*t).bytes);
    CHECK(card.max_message_bytes <= t->caps.max_msg_bytes);
    CHECK(card.shared_sender == t->caps.shared_sender);
    CHECK((summary_line(card).find("several processes may share one sending end") != std::string::npos) ==
          card.shared_sender);
    const nlohmann::json j = card;
    CHECK(j.at("may_lose") == card.may_lose());
    CHECK(j.get<SemanticsCard>() == card);
  }
}

TEST_CASE("registry: every mechanism has a unique name and a description") {
  std::set<std::string_view> names;
  for (const auto* t : all_transports()) {
    CHECK(!t->description.empty());
    CHECK(names.insert(t->name).second);
    CHECK(&find_transport(t->name) == t);
  }
  CHECK_THROWS_WITH_AS((void)find_transport("carrier-pigeon"), doctest::Contains("valid: pipe"), Error);
}

}  // TEST_SUITE
