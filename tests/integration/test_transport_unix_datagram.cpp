// unix-seqpacket and unix-dgram beyond what the conformance suite checks for every mechanism:
// the facts of their semantics cards (a full buffer blocks the sender and loses nothing, a
// dead peer is peer_closed from both ends, a message over the socket's limit is refused
// clearly and nothing of it is sent), the sender's buffer sizing, empty messages, unix-dgram's
// liveness pipe, and a refused size in a real
// run's warnings and report.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "support/test_support.hpp"
#include "support/tool_runner.hpp"
#include "transport/datagram_socket.hpp"

using namespace ipcmatrix;
using namespace std::chrono_literals;
using test::ScopedEnv;
using test::TempDir;

namespace {

constexpr const char* kBoth[] = {"unix-seqpacket", "unix-dgram"};
constexpr auto kChildLimit = std::chrono::milliseconds(60'000);

std::vector<std::byte> payload(std::size_t n, std::uint64_t i) {
  std::vector<std::byte> m(n);
  test::fill_payload(m, i);
  return m;
}

/// Receives one message and checks it is message i of n bytes.
void expect_message(Transport& rx, std::size_t n, std::uint64_t i) {
  std::vector<std::byte> buf(n + 64);
  std::size_t len = 0;
  REQUIRE(rx.recv(buf, len) == IoStatus::ok);
  CHECK(len == n);
  CHECK(test::payload_matches({buf.data(), len}, i));
}


}  // namespace

TEST_SUITE("transport") {
  TEST_CASE(
      "unix datagrams: a message over the socket's limit is a clear message_size error, and nothing of it is sent") {
    for (const char* name : kBoth) {
      SUBCASE(name) {
        const TransportSpec& t = find_transport(name);
        // As an unprivileged user on a kernel with net.core.wmem_max = 64 KiB: the sender may
        // grow its buffer to 2 x 64 KiB, no further.
        const ScopedEnv wmem(detail::kWmemMaxEnv, "65536");
        ChannelOptions o;
        o.capacity_bytes = 64 << 10;
        auto pair = open_local_pair(t, o);
        CHECK(pair.channel->spec(Role::sender).capacity_bytes == (64 << 10));
        CHECK(message_limit_of(t).bytes == 2 * 65536 - 32);

        const auto big = payload(200'000, 0);
        REQUIRE(pair.sender->send(big) == IoStatus::error);
        CHECK(pair.sender->error() == std::errc::message_size);
        const std::string why = pair.sender->error().message();
        CAPTURE(why);
        CHECK(why.find(std::to_string(2 * 65536 - 32) + " bytes") != std::string::npos);
        CHECK(why.find("net.core.wmem_max") != std::string::npos);
        CHECK(why.find("never fragmented") != std::string::npos);

        // Larger than the buffer it was created with, within what it may grow to: it goes.
        REQUIRE(pair.sender->send(payload(100'000, 1)) == IoStatus::ok);
        REQUIRE(pair.sender->send(payload(1000, 2)) == IoStatus::ok);
        expect_message(*pair.receiver, 100'000, 1);  // nothing of the refused one arrived
        expect_message(*pair.receiver, 1000, 2);

        // Above the kernel's largest datagram: refused whoever sends, naming that limit.
        const std::vector<std::byte> huge(detail::kMaxDatagramBytes + 1);
        REQUIRE(pair.sender->send(huge) == IoStatus::error);
        CHECK(pair.sender->error() == std::errc::message_size);
        CHECK_MESSAGE(pair.sender->error().message().find("kernel's largest datagram") != std::string::npos,
                      pair.sender->error().message());

        // In a gathered batch, the messages before the refused one go, in order; the rest do not.
        const auto a = payload(300, 3), c = payload(400, 5);
        const GatherMessage batch[] = {{std::span(a).first(10), std::span(a).subspan(10)},
                                       {std::span(big).first(100), std::span(big).subspan(100)},
                                       {c, {}}};
        REQUIRE(pair.sender->send_gather(batch) == IoStatus::error);
        CHECK(pair.sender->error() == std::errc::message_size);
        REQUIRE(pair.sender->send(payload(500, 6)) == IoStatus::ok);
        expect_message(*pair.receiver, 300, 3);
        expect_message(*pair.receiver, 500, 6);
      }
    }
  }

  TEST_CASE("unix datagrams: the send buffer follows capacity_bytes, and grows to carry a larger message") {
    for (const char* name : kBoth) {
      SUBCASE(name) {
        const TransportSpec& t = find_transport(name);
        ChannelOptions o;
        o.capacity_bytes = 256 << 10;
        CHECK(t.create(o)->spec(Role::sender).capacity_bytes == (256 << 10));
        if (message_limit_of(t).bytes < (std::size_t{1} << 20)) {
          MESSAGE("skipped the 1 MiB part: this process may not send 1 MiB datagrams here");
          return;
        }
        // Created with the kernel's default buffer, it still carries a 1 MiB message whole.
        auto pair = open_local_pair(t, {});
        std::thread tx([&] { CHECK(pair.sender->send(payload(1 << 20, 7)) == IoStatus::ok); });
        expect_message(*pair.receiver, 1 << 20, 7);
        tx.join();
      }
    }
  }

  TEST_CASE("unix datagrams: a full buffer blocks the sender, and nothing is lost") {
    for (const char* name : kBoth) {
      SUBCASE(name) {
        ChannelOptions o;
        o.capacity_bytes = 16 << 10;
        auto pair = open_local_pair(find_transport(name), o);
        constexpr int kCount = 2000;
        std::atomic<int> sent{0};
        std::atomic<bool> failed{false};
        std::thread tx([&] {
          std::vector<std::byte> m(1024);
          for (int i = 0; i < kCount; ++i) {
            test::fill_payload(m, static_cast<std::uint64_t>(i));
            if (pair.sender->send(m) != IoStatus::ok) {
              failed = true;
              return;
            }
            ++sent;
          }
        });
        std::this_thread::sleep_for(300ms);
        const int stalled = sent;
        CHECK(stalled < kCount);  // 2 MB cannot fit a 16 KiB buffer: the sender waits
        std::this_thread::sleep_for(100ms);
        CHECK(sent == stalled);  // waiting, not failing or dropping
        CHECK_FALSE(failed);
        for (int i = 0; i < kCount; ++i) expect_message(*pair.receiver, 1024, static_cast<std::uint64_t>(i));
        tx.join();
        CHECK(sent == kCount);
      }
    }
  }

  TEST_CASE("unix datagrams: a closed peer is peer_closed from both ends, and empty messages are messages") {
    for (const char* name : kBoth) {
      SUBCASE(name) {
        const TransportSpec& t = find_transport(name);
        {
          auto pair = open_local_pair(t);
          pair.receiver.reset();
          const std::byte m[64]{};
          CHECK(pair.sender->send(m) == IoStatus::peer_closed);
        }
        auto pair = open_local_pair(t);
        // A SOCK_SEQPACKET read of 0 bytes is also how the kernel says the peer closed: empty
        // messages before and at the end must still arrive as messages.
        const std::size_t sizes[] = {0, 0, 5, 0};
        for (std::uint64_t i = 0; i < std::size(sizes); ++i)
          REQUIRE(pair.sender->send(payload(sizes[i], i)) == IoStatus::ok);
        pair.sender.reset();
        for (std::uint64_t i = 0; i < std::size(sizes); ++i) expect_message(*pair.receiver, sizes[i], i);
        const auto t0 = std::chrono::steady_clock::now();
        std::byte buf[64];
        std::size_t len = 0;
        CHECK(pair.receiver->recv(buf, len) == IoStatus::peer_closed);
        CHECK(pair.receiver->recv(buf, len) == IoStatus::peer_closed);  // and stays closed
        CHECK(std::chrono::steady_clock::now() - t0 < 5s);
      }
    }
  }

  TEST_CASE("unix-dgram: a sender killed after its last send: the receiver gets every message, then peer_closed") {
    const TransportSpec& t = find_transport("unix-dgram");
    auto ch = t.create({});
    const ChannelSpec txs = ch->spec(Role::sender);
    auto child = sys::fork_child([&] {
      auto tx = t.open(txs, Role::sender);
      for (std::uint64_t i = 0; i < 50; ++i)
        if (tx->send(payload(100, i)) != IoStatus::ok) return 2;
      ::kill(::getpid(), SIGKILL);  // no destructor, no clean close: only the kernel's cleanup
      return 3;
    });
    auto rx = t.open(ch->take(Role::receiver), Role::receiver);
    ch->close_local_fds();  // the sender's ends now live in the child alone
    const auto st = child.wait_for(kChildLimit);
    REQUIRE(st.has_value());
    CHECK(st->signal == SIGKILL);
    for (std::uint64_t i = 0; i < 50; ++i) expect_message(*rx, 100, i);
    const auto t0 = std::chrono::steady_clock::now();
    std::byte buf[128];
    std::size_t len = 0;
    CHECK(rx->recv(buf, len) == IoStatus::peer_closed);
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  }

  TEST_CASE("unix datagrams: a run plans no cell a datagram cannot carry, and says why in its warnings and report") {
    TempDir dir;
    const auto out = dir.path / "out";
    const auto r = test::run_tool(
        {"--sizes", "64,256K", "--patterns", "stream,pingpong", "--mechanisms", "unix-seqpacket,unix-dgram",
         "--serializers", "raw", "--messages", "200", "--warmup", "10", "--out", out.string(), "--quiet"},
        dir, {{detail::kWmemMaxEnv, "65536"}});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    const auto j = nlohmann::json::parse(test::slurp(out / "results.json"));
    int cells = 0;
    for (const auto& c : j.at("cells")) {
      CHECK_MESSAGE(c.at("status") == "ok", c.value("error", ""));
      CHECK(c.at("size_bytes") == 64);
      ++cells;
    }
    CHECK(cells == 4);  // two patterns x two mechanisms, 64 B only
    int refusals = 0;
    for (const auto& w : j.at("warnings")) {
      const std::string s = w.get<std::string>();
      if (s.find("carries at most 128.0KiB per message here") == std::string::npos) continue;
      ++refusals;
      CHECK(s.find("its 256KiB cells were not run") != std::string::npos);
      CHECK(s.find("sysctl -w net.core.wmem_max=") != std::string::npos);
    }
    CHECK(refusals == 2);  // one per mechanism
    const std::string report = test::slurp(out / "PERFORMANCE_REPORT.md");
    CHECK(report.find("unix-dgram carries at most 128.0KiB per message here") != std::string::npos);
    CHECK(report.find("unix-seqpacket carries at most 128.0KiB per message here") != std::string::npos);
  }
}  // TEST_SUITE
