// zmq and nng beyond what the conformance suite checks for every mechanism: the private
// socket directory, the acked close that loses nothing to a slow receiver (the tail ZeroMQ
// drops over ipc:// without it), the queue a channel option sets, publish/subscribe over a
// fan-out channel (every receiver, in order; drops at one that falls behind), a sender
// waiting for its ack released by the receiver's death, the end coming only after the last
// of several senders sharing one sending end, an event loop on poll_fd(), and nng's refusal
// in a forked child of a process that used it.
//
// The libraries run only in forked children, never in this process (except in the last
// test): nng cannot be used in a process forked from one that used it.
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "support/test_support.hpp"

using namespace ipcmatrix;
using namespace std::chrono_literals;

namespace {

constexpr const char* kLibraries[] = {"zmq", "nng"};
constexpr auto kChildLimit = std::chrono::milliseconds(120'000);  // generous: a loaded 2-core machine

/// Closes the fds of the other end's spec in a child that plays one end.
void drop(const ChannelSpec& s) {
  for (const int fd : s.inherited_fds())
    if (fd >= 0) ::close(fd);
}

/// A child that opens one end of `ch` and runs body on it; returns body's exit code.
sys::Child child_with(const TransportSpec& t, const Channel& ch, Role role,
                      const std::function<int(Transport&)>& body) {
  const ChannelSpec mine = ch.spec(role);
  const ChannelSpec other = ch.spec(role == Role::sender ? Role::receiver : Role::sender);
  return sys::fork_child([&] {
    drop(other);
    auto tr = t.open(mine, role);
    return body(*tr);
  });
}

void expect_ok(sys::Child& c, const char* who) {
  const auto st = c.wait_for(kChildLimit);
  REQUIRE_MESSAGE(st.has_value(), who << " hung");
  CHECK_MESSAGE(st->ok(), who << " " << st->describe());
}

/// Sends messages [from, to) of `bytes` each, message i carrying fill_payload(i).
int send_range(Transport& tr, std::uint64_t from, std::uint64_t to, std::size_t bytes) {
  std::vector<std::byte> m(bytes);
  for (std::uint64_t i = from; i < to; ++i) {
    test::fill_payload(m, i);
    if (tr.send(m) != IoStatus::ok) return 2;
  }
  return 0;
}

/// Receives messages [from, to) in order (pausing 1 ms every `pause_every`, 0: never).
int recv_range(Transport& tr, std::uint64_t from, std::uint64_t to, std::size_t bytes, int pause_every = 0) {
  std::vector<std::byte> buf(bytes + 64);
  for (std::uint64_t i = from; i < to; ++i) {
    std::size_t len = 0;
    if (tr.recv(buf, len) != IoStatus::ok) return 3;
    if (len != bytes || !test::payload_matches({buf.data(), len}, i)) return 4;
    if (pause_every && i % pause_every == 0) std::this_thread::sleep_for(1ms);
  }
  return 0;
}

int expect_end(Transport& tr) {
  std::byte buf[64];
  std::size_t len = 0;
  if (tr.recv(buf, len) != IoStatus::peer_closed) return 5;
  return tr.recv(buf, len) == IoStatus::peer_closed ? 0 : 6;  // and it stays closed
}

/// For each library: body, then nothing of this test's left behind.
void for_each_library(const std::function<void(const TransportSpec&)>& body) {
  for (const char* name : kLibraries) {
    SUBCASE(name) {
      test::expect_leaves_nothing([&] { body(find_transport(name)); });
    }
  }
}

}  // namespace

TEST_SUITE("transport") {
  TEST_CASE("zmq, nng: the socket lives in a private 0700 directory, which goes with the channel") {
    for_each_library([](const TransportSpec& t) {
      std::string dir;
      {
        auto ch = t.create({});
        const std::string path = ch->spec(Role::receiver).name;
        dir = path.substr(0, path.rfind('/'));
        CHECK(path == dir + "/s");
        struct stat st {};
        REQUIRE(::stat(dir.c_str(), &st) == 0);
        CHECK(S_ISDIR(st.st_mode));
        CHECK((st.st_mode & 07777) == 0700);
        CHECK(st.st_uid == ::geteuid());
        auto rx = child_with(t, *ch, Role::receiver, [&](Transport& tr) {
          // Bound: the socket file is there, in the directory.
          struct stat s {};
          if (::lstat(path.c_str(), &s) != 0 || !S_ISSOCK(s.st_mode)) return 7;
          if (const int rc = recv_range(tr, 0, 100, 64); rc != 0) return rc;
          return expect_end(tr);
        });
        auto tx = child_with(t, *ch, Role::sender, [](Transport& tr) { return send_range(tr, 0, 100, 64); });
        ch->close_local_fds();
        expect_ok(rx, "receiver");
        expect_ok(tx, "sender");
      }
      struct stat st {};
      CHECK(::stat(dir.c_str(), &st) == -1);
      CHECK(errno == ENOENT);
    });
  }

  TEST_CASE("zmq, nng: a taken directory name fails closed and is left alone") {
    for_each_library([](const TransportSpec& t) {
      ChannelOptions o;
      o.name = "ipcm-test-taken-" + sys::random_id();
      const std::string dir = sys::temp_dir() + "/" + o.name;
      sys::make_private_dir(dir);
      CHECK_THROWS_AS((void)t.create(o), Error);
      struct stat st {};
      CHECK(::stat(dir.c_str(), &st) == 0);
      ::rmdir(dir.c_str());
    });
  }

  TEST_CASE("zmq, nng: a clean close loses nothing to a slow receiver whose queue is full when the sender closes") {
    // The sender is done long before the receiver, whose queue (ZeroMQ: 1,000 messages at
    // each end) is full when it closes: without the acked end marker, ZeroMQ over ipc://
    // dropped the last few hundred of these.
    constexpr std::uint64_t kCount = 20'000;
    for_each_library([](const TransportSpec& t) {
      auto ch = t.create({});
      auto rx = child_with(t, *ch, Role::receiver, [](Transport& tr) {
        if (const int rc = recv_range(tr, 0, kCount, 64, 100); rc != 0) return rc;
        return expect_end(tr);
      });
      auto tx = child_with(t, *ch, Role::sender, [](Transport& tr) { return send_range(tr, 0, kCount, 64); });
      ch->close_local_fds();
      expect_ok(rx, "receiver");
      expect_ok(tx, "sender");
    });
  }

  TEST_CASE("zmq, nng: queue_messages bounds how far a sender gets ahead of a receiver that does not read") {
    // The sender reports each message sent on a pipe; the receiver reads nothing until the
    // sender has stopped (no progress for half a second) or got kFar ahead, then everything.
    // With a queue of 4 messages at each end, the library's queues plus the kernel's socket
    // buffers (three 64 KiB messages) hold a few dozen; with 300 the sender's queue alone
    // takes 300. (ZeroMQ's default of 1,000 or nng's unbuffered default would fail one each.)
    static constexpr std::uint64_t kCount = 400, kFar = 300, kNear = 60;
    static constexpr std::size_t kBytes = 64 << 10;
    for_each_library([](const TransportSpec& t) {
      for (const std::size_t queue : {std::size_t{4}, std::size_t{300}}) {
        CAPTURE(queue);
        sys::Fd go_r, go_w, sent_r, sent_w;
        sys::make_pipe(go_r, go_w);
        sys::make_pipe(sent_r, sent_w);
        const int go = go_r.get(), sent = sent_w.get();
        ChannelOptions o;
        o.queue_messages = queue;
        auto ch = t.create(o);
        CHECK(ch->spec(Role::sender).queue_messages == queue);
        auto rx = child_with(t, *ch, Role::receiver, [go](Transport& tr) {
          char g = 0;
          if (!sys::read_exact(go, &g, 1, 60'000, "go")) return 8;
          if (const int rc = recv_range(tr, 0, kCount, kBytes); rc != 0) return rc;
          return expect_end(tr);
        });
        auto tx = child_with(t, *ch, Role::sender, [sent](Transport& tr) {
          std::vector<std::byte> m(kBytes);
          for (std::uint64_t i = 0; i < kCount; ++i) {
            test::fill_payload(m, i);
            if (tr.send(m) != IoStatus::ok) return 2;
            sys::write_all(sent, "s", 1, "sent");
          }
          return 0;
        });
        ch->close_local_fds();
        sent_w.reset();
        // The first message may wait for the connection (ZMQ_IMMEDIATE): up to a minute;
        // after it, half a second without progress means the sender waits for room.
        std::uint64_t ahead = 0;
        const auto until = std::chrono::steady_clock::now() + 30s;
        while (ahead < kFar && std::chrono::steady_clock::now() < until) {
          pollfd p{sent_r.get(), POLLIN, 0};
          if (::poll(&p, 1, ahead == 0 ? 60'000 : 500) <= 0) break;
          char buf[512];
          const ssize_t n = ::read(sent_r.get(), buf, sizeof buf);
          if (n <= 0) break;
          ahead += static_cast<std::uint64_t>(n);
        }
        sys::write_all(go_w.get(), "g", 1, "go");
        if (queue == 4) {
          CHECK(ahead < kNear);
        } else {
          CHECK(ahead >= kFar);
        }
        expect_ok(rx, "receiver");
        expect_ok(tx, "sender");
      }
    });
  }

  TEST_CASE("zmq, nng: a fan-out channel gives each of its receivers every message, in order, then the end") {
    // Publish/subscribe with queues deeper than the run: nothing can be dropped, so each of
    // the three receivers gets all 500 in order. The sender's open waits until all three
    // have subscribed (ZeroMQ's slow joiner would lose the first messages otherwise).
    static constexpr std::uint64_t kCount = 500;
    for_each_library([](const TransportSpec& t) {
      REQUIRE(t.caps.fan_out_endpoint);
      ChannelOptions o;
      o.receivers = 3;
      o.queue_messages = 8192;
      auto ch = t.create(o);
      std::vector<sys::Child> rxs;
      for (int k = 0; k < 3; ++k) {
        rxs.push_back(child_with(t, *ch, Role::receiver, [](Transport& tr) {
          if (const int rc = recv_range(tr, 0, kCount, 256); rc != 0) return rc;
          return expect_end(tr);
        }));
      }
      auto tx = child_with(t, *ch, Role::sender, [](Transport& tr) { return send_range(tr, 0, kCount, 256); });
      ch->close_local_fds();
      for (auto& rx : rxs) expect_ok(rx, "receiver");
      expect_ok(tx, "sender");
    });
  }

  TEST_CASE("zmq, nng: a fan-out receiver that falls behind loses messages, never their order, and sees the end") {
    // Queues of 4 messages, 64 KiB each; one receiver reads nothing until the sender has sent
    // all 300 (and is in its close, repeating the end marker): it gets the few its queues held
    // and the kernel buffered, each intact and in order, then peer_closed. Its twin reads as
    // it goes. Every message carries its index in its first 8 bytes.
    static constexpr std::uint64_t kCount = 300;
    static constexpr std::size_t kBytes = 64 << 10;
    for_each_library([](const TransportSpec& t) {
      sys::Fd go_r, go_w, sent_r, sent_w;
      sys::make_pipe(go_r, go_w);
      sys::make_pipe(sent_r, sent_w);
      const int go = go_r.get(), sent = sent_w.get();
      ChannelOptions o;
      o.receivers = 2;
      o.queue_messages = 4;
      auto ch = t.create(o);
      // Receives until peer_closed; 0 when every message was whole and its index rose,
      // with the count of messages received written to `got` (a pipe) first.
      const auto receive_all = [](Transport& tr, int wait_for, int got) {
        char g = 0;
        if (wait_for >= 0 && !sys::read_exact(wait_for, &g, 1, 60'000, "go")) return 8;
        std::vector<std::byte> buf(kBytes + 64), want(kBytes);
        std::uint64_t n = 0, next = 0;
        for (;;) {
          std::size_t len = 0;
          const IoStatus st = tr.recv(buf, len);
          if (st == IoStatus::peer_closed) break;
          if (st != IoStatus::ok || len != kBytes) return 3;
          std::uint64_t i = 0;
          std::memcpy(&i, buf.data(), sizeof i);
          if (i < next || i >= kCount) return 4;  // back in time, repeated or never sent
          test::fill_payload(want, i);
          if (!std::equal(buf.begin() + 8, buf.begin() + static_cast<std::ptrdiff_t>(kBytes), want.begin() + 8))
            return 5;
          next = i + 1;
          ++n;
        }
        if (got >= 0) sys::write_all(got, &n, sizeof n, "got");
        return 0;
      };
      sys::Fd got_r, got_w;
      sys::make_pipe(got_r, got_w);
      const int got = got_w.get();
      auto behind = child_with(t, *ch, Role::receiver, [&](Transport& tr) { return receive_all(tr, go, got); });
      auto keeping_up = child_with(t, *ch, Role::receiver, [&](Transport& tr) { return receive_all(tr, -1, -1); });
      auto tx = child_with(t, *ch, Role::sender, [sent](Transport& tr) {
        std::vector<std::byte> m(kBytes);
        for (std::uint64_t i = 0; i < kCount; ++i) {
          test::fill_payload(m, i);
          std::memcpy(m.data(), &i, sizeof i);
          if (tr.send(m) != IoStatus::ok) return 2;
        }
        sys::write_all(sent, "s", 1, "sent");
        return 0;  // the destructor repeats the end marker until both receivers have closed
      });
      ch->close_local_fds();
      sent_w.reset();
      got_w.reset();
      char s = 0;
      const bool all_sent = sys::read_exact(sent_r.get(), &s, 1, 60'000, "sent");
      sys::write_all(go_w.get(), "g", 1, "go");
      CHECK(all_sent);
      expect_ok(behind, "receiver that fell behind");
      expect_ok(keeping_up, "receiver keeping up");
      expect_ok(tx, "sender");
      std::uint64_t n = kCount;
      REQUIRE(sys::read_exact(got_r.get(), &n, sizeof n, 10'000, "got"));
      CHECK(n < kCount / 2);  // a few dozen at most: the rest was dropped, not waited for
    });
  }

  TEST_CASE("zmq, nng: a fan-out sender's open fails, naming the count, when not every receiver subscribes") {
    for_each_library([](const TransportSpec& t) {
      ChannelOptions o;
      o.receivers = 2;
      o.open_timeout_ms = 300;
      auto ch = t.create(o);
      auto rx = child_with(t, *ch, Role::receiver, [](Transport& tr) {
        std::byte buf[64];
        std::size_t len = 0;
        // The sender never opens: its pipe hangs up when the test's copy goes.
        return tr.recv(buf, len) == IoStatus::peer_closed ? 0 : 3;
      });
      auto tx = sys::fork_child([&] {
        try {
          (void)t.open(ch->spec(Role::sender), Role::sender);
          return 2;
        } catch (const Error& e) {
          return std::string(e.what()).find(" of 2 receivers subscribed within 300 ms") != std::string::npos ? 0 : 4;
        }
      });
      expect_ok(tx, "sender");
      ch->close_local_fds();
      expect_ok(rx, "receiver");
    });
  }

  TEST_CASE("zmq, nng: a sender waiting in its close for the ack is released when the receiver dies") {
    for_each_library([](const TransportSpec& t) {
      sys::Fd note_r, note_w;
      sys::make_pipe(note_r, note_w);
      const int note = note_w.get();
      auto ch = t.create({});
      auto rx = child_with(t, *ch, Role::receiver, [note](Transport& tr) {
        if (recv_range(tr, 0, 1, 64) != 0) return 3;
        sys::write_all(note, "r", 1, "note");
        ::pause();  // never reads again: killed here
        return 0;
      });
      // A sender that sent nothing has nothing to lose: it closes at once, no ack awaited.
      auto idle = child_with(t, *ch, Role::sender, [](Transport&) { return 0; });
      expect_ok(idle, "idle sender");
      auto closing = child_with(t, *ch, Role::sender, [note](Transport& tr) {
        if (send_range(tr, 0, 5, 64) != 0) return 2;
        sys::write_all(note, "s", 1, "note");
        return 0;  // the destructor now sends the end marker and waits for an ack that never comes
      });
      ch->close_local_fds();
      note_w.reset();
      char c[2];
      REQUIRE(sys::read_exact(note_r.get(), c, 2, 60'000, "notes"));
      rx.kill(SIGKILL);
      expect_ok(closing, "closing sender");
      rx.kill_and_reap();
    });
  }

  TEST_CASE("zmq, nng: with several processes on one sending end, the end comes after the last of them") {
    for_each_library([](const TransportSpec& t) {
      sys::Fd go_r, go_w, half_r, half_w;
      sys::make_pipe(go_r, go_w);
      sys::make_pipe(half_r, half_w);
      const int half = half_w.get();
      auto ch = t.create({});
      auto rx = child_with(t, *ch, Role::receiver, [half](Transport& tr) {
        if (const int rc = recv_range(tr, 0, 100, 64); rc != 0) return rc;
        sys::write_all(half, "h", 1, "half");
        // The first sender has closed: the second still holds the sending end, so no end yet.
        if (const int rc = recv_range(tr, 100, 200, 64); rc != 0) return 10 + rc;
        return expect_end(tr);
      });
      auto first = child_with(t, *ch, Role::sender, [](Transport& tr) { return send_range(tr, 0, 100, 64); });
      auto second = child_with(t, *ch, Role::sender, [&go_r](Transport& tr) {
        if (!sys::wait_readable(go_r.get(), 60'000)) return 4;
        return send_range(tr, 100, 200, 64);
      });
      ch->close_local_fds();
      half_w.reset();
      expect_ok(first, "first sender");
      REQUIRE(sys::wait_readable(half_r.get(), 60'000));
      sys::write_all(go_w.get(), "g", 1, "go");
      expect_ok(second, "second sender");
      expect_ok(rx, "receiver");
    });
  }

  TEST_CASE("zmq, nng: an event loop on poll_fd() drains with try_recv, and sees the end and a killed sender") {
    // The receiver waits only in epoll_wait() on poll_fd() (30 s bound: a lost wake-up fails
    // the test instead of hanging it) and drains with try_recv() until would_block.
    static constexpr std::uint64_t kCount = 2'000;
    auto event_loop = [](Transport& tr, bool all) {
      std::uint64_t got = 0;
      const int rc = test::run_event_loop(tr, 4096, got, [](std::span<const std::byte> m, std::uint64_t i) {
        return m.size() == 64 && test::payload_matches(m, i);
      });
      return rc != 0 ? rc : !all || got == kCount ? 0 : 15;
    };
    for_each_library([&](const TransportSpec& t) {
      auto ch = t.create({});
      auto rx = child_with(t, *ch, Role::receiver, [&](Transport& tr) { return event_loop(tr, true); });
      auto tx = child_with(t, *ch, Role::sender, [](Transport& tr) {
        std::vector<std::byte> m(64);
        for (std::uint64_t i = 0; i < kCount; ++i) {
          test::fill_payload(m, i);
          if (tr.send(m) != IoStatus::ok) return 2;
          if (i % 100 == 0) std::this_thread::sleep_for(1ms);  // let the loop run dry
        }
        return 0;
      });
      ch->close_local_fds();
      expect_ok(tx, "sender");
      expect_ok(rx, "event loop");

      // A sender killed mid-stream: what it had queued may be lost, but the loop must end.
      sys::Fd note_r, note_w;
      sys::make_pipe(note_r, note_w);
      const int note = note_w.get();
      auto ch2 = t.create({});
      auto rx2 = child_with(t, *ch2, Role::receiver, [&](Transport& tr) { return event_loop(tr, false); });
      auto tx2 = child_with(t, *ch2, Role::sender, [note](Transport& tr) {
        if (send_range(tr, 0, 10, 64) != 0) return 2;
        sys::write_all(note, "s", 1, "note");
        ::pause();  // killed here
        return 0;
      });
      ch2->close_local_fds();
      note_w.reset();
      REQUIRE(sys::wait_readable(note_r.get(), 60'000));
      tx2.kill(SIGKILL);
      expect_ok(rx2, "event loop after a killed sender");
      tx2.kill_and_reap();
    });
  }

  TEST_CASE("nng: a process forked from one that used nng gets an Error naming it, not nng's abort") {
    const TransportSpec& t = find_transport("nng");
    test::expect_leaves_nothing([&] {
      LocalPair used = open_local_pair(t);  // nng now runs in this process
      auto ch = t.create({});
      const ChannelSpec txs = ch->spec(Role::sender);
      auto child = sys::fork_child([&] {
        try {
          (void)t.open(txs, Role::sender);
        } catch (const Error& e) {
          const bool named = std::string(e.what()).find("forked") != std::string::npos;
          return e.code() == std::errc::operation_not_permitted && named ? 0 : 3;
        }
        return 2;
      });
      expect_ok(child, "forked child");
    });
  }
}
