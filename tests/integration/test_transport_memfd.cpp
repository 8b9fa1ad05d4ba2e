// memfd beyond what the conformance suite checks for every mechanism: inline and pooled
// messages up to 64 MiB round-trip byte for byte; a steady stream reuses a bounded pool
// (counted as the fds a raw receiver is passed, and as the mappings each end holds); the
// buffers are sealed so the receiver cannot write or resize them; a receiver refuses an fd
// without the seals and never maps it; peer death is peer_closed from both ends; loan and
// peek work in the buffers themselves.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "support/test_support.hpp"
#include "transport/memfd_wire.hpp"

using namespace ipcmatrix;
namespace wire = ipcmatrix::detail::memfd;

namespace {

constexpr auto kLimit = std::chrono::milliseconds(120'000);  // generous: a loaded 2-core machine

const TransportSpec& mfd() { return find_transport("memfd"); }

/// The mechanism's memfds this process maps ("/memfd:ipcm-memfd"), by inode: one each,
/// however many lines the kernel splits a mapping into.
std::set<std::string> memfd_maps() {
  std::ifstream in("/proc/self/maps");
  std::set<std::string> inodes;
  for (std::string line; std::getline(in, line);) {
    if (line.find("/memfd:ipcm-memfd") == std::string::npos) continue;
    char range[64], perms[8], offset[32], dev[16];
    unsigned long inode = 0;
    if (std::sscanf(line.c_str(), "%63s %7s %31s %15s %lu", range, perms, offset, dev, &inode) == 5)
      inodes.insert(std::string(dev) + ":" + std::to_string(inode));
  }
  return inodes;
}

/// The maps line whose range holds p, or "".
std::string maps_line_of(const void* p) {
  std::ifstream in("/proc/self/maps");
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  for (std::string line; std::getline(in, line);) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi) return line;
  }
  return {};
}

struct Pair {
  sys::Child tx, rx;
};

// The two ends in two children, each closing the other's fd, the parent closing its own:
// end-of-stream and peer death are seen as in production.
Pair spawn_pair(std::unique_ptr<Channel>& ch, const std::function<int(Transport&)>& tx_body,
                const std::function<int(Transport&)>& rx_body) {
  ch = mfd().create({});
  const ChannelSpec txs = ch->spec(Role::sender), rxs = ch->spec(Role::receiver);
  Pair p;
  p.rx = sys::fork_child([&] {
    ::close(txs.fd);
    auto tr = mfd().open(rxs, Role::receiver);
    return rx_body(*tr);
  });
  p.tx = sys::fork_child([&] {
    ::close(rxs.fd);
    auto tr = mfd().open(txs, Role::sender);
    return tx_body(*tr);
  });
  ch->close_local_fds();
  return p;
}

void expect_clean_exit(Pair& p) {
  auto rx = p.rx.wait_for(kLimit);
  auto tx = p.tx.wait_for(kLimit);
  REQUIRE_MESSAGE(rx.has_value(), "receiver hung");
  REQUIRE_MESSAGE(tx.has_value(), "sender hung");
  CHECK_MESSAGE(rx->ok(), "receiver " << rx->describe());
  CHECK_MESSAGE(tx->ok(), "sender " << tx->describe());
}

/// Sends one record as a peer would: a Record and optionally an fd. False when the peer is gone.
bool send_record(int sock, const wire::Record& r, int fd = -1) {
  const long n = fd >= 0 ? sys::send_with_fd(sock, &r, sizeof r, fd) : ::send(sock, &r, sizeof r, MSG_NOSIGNAL);
  if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return false;
  REQUIRE(n == static_cast<long>(sizeof r));
  return true;
}

/// Reads one record as a raw receiver; `fd` gets an fd passed with it (or -1). False at EOF.
bool recv_record(int sock, wire::Record& r, std::vector<std::byte>& bytes, int& fd) {
  bytes.assign(wire::kInlineMaxBytes, std::byte{0});
  iovec iov[2] = {{&r, sizeof r}, {bytes.data(), bytes.size()}};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
  msghdr mh{};
  mh.msg_iov = iov;
  mh.msg_iovlen = 2;
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof ctl;
  ssize_t n = -1;
  do n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && (errno == EINTR || errno == ECONNRESET));
  REQUIRE(n >= 0);
  fd = -1;
  if (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr && c->cmsg_type == SCM_RIGHTS)
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  if (n == 0) return false;
  REQUIRE(static_cast<std::size_t>(n) >= sizeof r);
  bytes.resize(static_cast<std::size_t>(n) - sizeof r);
  return true;
}

/// A sealed-or-not memfd of `bytes`, as a hostile sender would make it.
sys::Fd hostile_memfd(std::size_t bytes, int seals) {
  sys::Fd fd(::memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  REQUIRE(fd.valid());
  REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(bytes)) == 0);
  if (seals != 0) REQUIRE(::fcntl(fd.get(), F_ADD_SEALS, seals) == 0);
  return fd;
}

// Sizes on each side of every threshold: inline, the smallest buffer, powers of two.
const std::vector<std::size_t> kRoundTripSizes{0,
                                               1,
                                               wire::kInlineMaxBytes - 1,
                                               wire::kInlineMaxBytes,
                                               wire::kInlineMaxBytes + 1,
                                               wire::kMinBufferBytes,
                                               wire::kMinBufferBytes + 1,
                                               3,
                                               std::size_t{1} << 20,
                                               (std::size_t{16} << 20) + 5,
                                               200,
                                               std::size_t{64} << 20,
                                               (std::size_t{1} << 20) - 1,
                                               std::size_t{64} << 20};

}  // namespace

TEST_SUITE("transport") {
  TEST_CASE("memfd: inline and pooled messages round-trip byte for byte across processes, 64 MiB included") {
    const auto before = test::leak_snapshot();
    std::unique_ptr<Channel> ch;
    auto p = spawn_pair(
        ch,
        [](Transport& tr) {
          std::vector<std::byte> m(std::size_t{64} << 20);
          for (std::size_t i = 0; i < kRoundTripSizes.size(); ++i) {
            const std::span<std::byte> msg(m.data(), kRoundTripSizes[i]);
            test::fill_payload(msg, i);
            // Every other one gathered from a head and a body, cut mid-message.
            const std::size_t cut = std::min<std::size_t>(msg.size(), 7 * i + 1);
            const GatherMessage g{msg.first(cut), msg.subspan(cut)};
            const IoStatus s = i % 2 ? tr.send_gather({&g, 1}) : tr.send(msg);
            if (s != IoStatus::ok) return 2;
          }
          return 0;
        },
        [](Transport& tr) {
          std::vector<std::byte> buf(std::size_t{64} << 20);
          for (std::size_t i = 0; i < kRoundTripSizes.size(); ++i) {
            std::size_t len = 0;
            if (tr.recv(buf, len) != IoStatus::ok) return 3;
            if (len != kRoundTripSizes[i] || !test::payload_matches({buf.data(), len}, i)) {
              std::fprintf(stderr, "message %zu: %zu bytes, wrong or corrupt\n", i, len);
              return 4;
            }
          }
          std::size_t len = 0;
          return tr.recv(buf, len) == IoStatus::peer_closed ? 0 : 5;
        });
    expect_clean_exit(p);
    CHECK(test::new_entries(before, test::leak_snapshot()).empty());
    CHECK(test::no_children_left());
  }

  TEST_CASE("memfd: a steady stream of large messages passes at most four memfds, each sealed read-only") {
    // The test process is a raw receiver: it counts the fds it is passed and frees each
    // buffer as our receiver would, after checking every byte through its own mapping.
    constexpr std::size_t kMessages = 200;
    auto size_of = [](std::size_t i) { return (std::size_t{1} << 20) - 64 * (i % 5); };
    auto ch = mfd().create({});
    const ChannelSpec txs = ch->spec(Role::sender);
    sys::Fd rx(ch->take(Role::receiver).fd);
    auto tx = sys::fork_child([&] {
      ::close(rx.get());
      auto tr = mfd().open(txs, Role::sender);
      std::vector<std::byte> m(std::size_t{1} << 20);
      for (std::size_t i = 0; i < kMessages; ++i) {
        const std::span<std::byte> msg(m.data(), size_of(i));
        test::fill_payload(msg, i);
        if (tr->send(msg) != IoStatus::ok) return 2;
        if (memfd_maps().size() > wire::kMaxPoolBuffers) return 3;
      }
      return 0;
    });
    ch->close_local_fds();

    // Unmapped however the test ends: children forked by later tests must not inherit them.
    struct Mapped {
      const std::byte* p = nullptr;
      std::size_t capacity = 0;
    };
    struct Maps : std::map<std::uint32_t, Mapped> {
      ~Maps() {
        for (const auto& [id, m] : *this) ::munmap(const_cast<std::byte*>(m.p), m.capacity);
      }
    } maps;
    std::set<std::uint32_t> ids;
    std::size_t fds_passed = 0, corrupt = 0;
    wire::Record r{};
    std::vector<std::byte> bytes;
    int fd = -1;
    std::size_t i = 0;
    for (; recv_record(rx.get(), r, bytes, fd); ++i) {
      sys::Fd passed(fd);
      REQUIRE(r.kind != wire::RecordKind::inline_message);
      if (r.kind == wire::RecordKind::buffer_retire) continue;
      ids.insert(r.id);
      if (r.kind == wire::RecordKind::buffer_new) {
        REQUIRE(passed.valid());
        ++fds_passed;
        const int seals = ::fcntl(passed.get(), F_GET_SEALS);
        CHECK((seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE)) ==
              (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE));
        // What the seals mean for a receiver: no writable mapping, no write, no resize.
        errno = 0;
        CHECK(::mmap(nullptr, r.capacity, PROT_READ | PROT_WRITE, MAP_SHARED, passed.get(), 0) == MAP_FAILED);
        CHECK(errno == EPERM);
        const char x = 1;
        CHECK(::pwrite(passed.get(), &x, 1, 0) == -1);
        CHECK(::ftruncate(passed.get(), 0) == -1);
        CHECK(::ftruncate(passed.get(), static_cast<off_t>(r.capacity) * 2) == -1);
        void* p = ::mmap(nullptr, r.capacity, PROT_READ, MAP_SHARED, passed.get(), 0);
        REQUIRE(p != MAP_FAILED);
        maps[r.id] = {static_cast<const std::byte*>(p), r.capacity};
      } else {
        CHECK_FALSE(passed.valid());  // reuse: no fd, no new mapping
      }
      REQUIRE(maps.count(r.id) == 1);
      if (r.len != size_of(i) || !test::payload_matches({maps[r.id].p, r.len}, i)) ++corrupt;
      // The sender may be gone after its last message: then the free has no one to go to.
      (void)send_record(rx.get(), {wire::RecordKind::buffer_free, r.id, 0, 0});
    }
    CHECK(i == kMessages);
    CHECK(corrupt == 0);
    CHECK(fds_passed >= 1);
    CHECK(fds_passed <= wire::kMaxPoolBuffers);
    CHECK(ids.size() == fds_passed);
    auto st = tx.wait_for(kLimit);
    REQUIRE(st.has_value());
    CHECK_MESSAGE(st->ok(), "sender " << st->describe());
  }

  TEST_CASE("memfd: buffers follow the message sizes, and neither end ever maps more than four or keeps an fd") {
    // Growing sizes outgrow every buffer (retired, then replaced), then shrink and grow again.
    static const std::vector<std::size_t> sizes{20'000,  70'000, 200'000,  1 << 20, 5 << 20, 20 << 20, 64 << 20,
                                                100'000, 3,      64 << 20, 30'000,  2 << 20, 40 << 20, 17'000};
    std::unique_ptr<Channel> ch;
    auto p = spawn_pair(
        ch,
        [](Transport& tr) {
          std::vector<std::byte> m(std::size_t{64} << 20);
          for (int round = 0; round < 3; ++round)
            for (std::size_t i = 0; i < sizes.size(); ++i) {
              const std::span<std::byte> msg(m.data(), sizes[i]);
              test::fill_payload(msg, i);
              if (tr.send(msg) != IoStatus::ok) return 2;
              if (memfd_maps().size() > wire::kMaxPoolBuffers) return 3;
            }
          return 0;
        },
        [](Transport& tr) {
          std::vector<std::byte> buf(std::size_t{64} << 20);
          const int fds = sys::open_fd_count();
          for (int round = 0; round < 3; ++round)
            for (std::size_t i = 0; i < sizes.size(); ++i) {
              std::size_t len = 0;
              if (tr.recv(buf, len) != IoStatus::ok) return 4;
              if (len != sizes[i] || !test::payload_matches({buf.data(), len}, i)) return 5;
              if (memfd_maps().size() > wire::kMaxPoolBuffers) return 6;
              if (sys::open_fd_count() != fds) return 7;  // each passed fd closed once mapped
            }
          std::size_t len = 0;
          return tr.recv(buf, len) == IoStatus::peer_closed ? 0 : 8;
        });
    expect_clean_exit(p);
  }

  TEST_CASE("memfd: a receiver refuses an fd without the seals, and never maps or keeps it") {
    struct Case {
      const char* what;
      std::function<sys::Fd()> make;
      std::size_t capacity;
      std::errc expect;
    };
    constexpr std::size_t kCap = 1 << 20;
    const int all = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE;
    const std::vector<Case> cases{
        {"unsealed memfd", [] { return hostile_memfd(kCap, 0); }, kCap, std::errc::operation_not_permitted},
        {"size sealed, writable", [] { return hostile_memfd(kCap, F_SEAL_SHRINK | F_SEAL_GROW); }, kCap,
         std::errc::operation_not_permitted},
        {"write sealed, may shrink", [] { return hostile_memfd(kCap, F_SEAL_GROW | F_SEAL_FUTURE_WRITE); }, kCap,
         std::errc::operation_not_permitted},
        {"not sealable", [] { return sys::Fd(::memfd_create("hostile", MFD_CLOEXEC)); }, kCap,
         std::errc::operation_not_permitted},
        {"not a memfd",
         [] {
           sys::Fd r, w;
           sys::make_pipe(r, w);
           return r;
         },
         kCap, std::errc::operation_not_permitted},
        {"sealed, size not as stated", [&] { return hostile_memfd(kCap, all); }, 2 * kCap, std::errc::bad_message},
    };
    for (const Case& c : cases) {
      CAPTURE(c.what);
      auto ch = mfd().create({});
      sys::Fd raw(ch->take(Role::sender).fd);
      auto rx = mfd().open(ch->take(Role::receiver), Role::receiver);
      {
        sys::Fd fd = c.make();
        REQUIRE(fd.valid());
        REQUIRE(send_record(raw.get(), {wire::RecordKind::buffer_new, 1, 64, c.capacity}, fd.get()));
      }
      const int fds = sys::open_fd_count();
      const std::size_t mapped = memfd_maps().size();
      std::vector<std::byte> buf(kCap);
      std::size_t len = 0;
      CHECK(rx->recv(buf, len) == IoStatus::error);
      CHECK(rx->error() == c.expect);
      CHECK(sys::open_fd_count() == fds);  // the passed fd was closed
      CHECK(memfd_maps().size() == mapped);
      std::ifstream maps("/proc/self/maps");
      const std::string all_maps{std::istreambuf_iterator<char>(maps), {}};
      CHECK(all_maps.find("memfd:hostile") == std::string::npos);
    }
  }

  TEST_CASE("memfd: records that break the protocol are errors, not crashes") {
    struct Case {
      const char* what;
      wire::Record r;
    };
    const Case cases[] = {
        {"reuse of a buffer never passed", {wire::RecordKind::buffer_reuse, 7, 64, 0}},
        {"retire of a buffer never passed", {wire::RecordKind::buffer_retire, 7, 0, 0}},
        {"inline length not the record's", {wire::RecordKind::inline_message, 0, 100, 0}},
        {"a receiver's record", {wire::RecordKind::buffer_free, 1, 0, 0}},
        {"unknown kind", {static_cast<wire::RecordKind>(99), 0, 0, 0}},
        {"new buffer without its fd", {wire::RecordKind::buffer_new, 1, 64, 1 << 20}},
    };
    for (const Case& c : cases) {
      CAPTURE(c.what);
      auto ch = mfd().create({});
      sys::Fd raw(ch->take(Role::sender).fd);
      auto rx = mfd().open(ch->take(Role::receiver), Role::receiver);
      REQUIRE(send_record(raw.get(), c.r));
      std::vector<std::byte> buf(1024);
      std::size_t len = 0;
      CHECK(rx->recv(buf, len) == IoStatus::error);
      CHECK(rx->error() == std::errc::bad_message);
    }
  }

  TEST_CASE("memfd: a sender killed while its receiver waits is peer_closed, after what it sent") {
    sys::Fd note_r, note_w;
    sys::make_pipe(note_r, note_w);
    const int note = note_w.get();
    std::unique_ptr<Channel> ch;
    auto p = spawn_pair(
        ch,
        [note](Transport& tr) {
          std::vector<std::byte> m(std::size_t{4} << 20);
          for (std::size_t i = 0; i < 3; ++i) {
            test::fill_payload(m, i);
            if (tr.send(m) != IoStatus::ok) return 2;
          }
          char c = 1;
          if (::write(note, &c, 1) != 1) return 3;
          ::pause();  // killed here
          return 0;
        },
        [](Transport& tr) {
          std::vector<std::byte> buf(std::size_t{4} << 20);
          for (std::size_t i = 0; i < 3; ++i) {
            MessageView v;
            if (tr.peek(v) != IoStatus::ok) return 4;
            v.read(0, buf.data(), v.size());
            if (v.size() != buf.size() || !test::payload_matches(buf, i)) return 5;
            tr.release();
          }
          MessageView v;
          return tr.peek(v) == IoStatus::peer_closed ? 0 : 6;
        });
    note_w.reset();
    REQUIRE_MESSAGE(sys::wait_readable(note_r.get(), 60'000), "sender made no progress");
    p.tx.kill(SIGKILL);
    auto rs = p.rx.wait_for(std::chrono::milliseconds(30'000));
    REQUIRE_MESSAGE(rs.has_value(), "receiver hung after its sender was killed");
    CHECK_MESSAGE(rs->ok(), "receiver " << rs->describe());
    p.tx.kill_and_reap();
  }

  TEST_CASE("memfd: a receiver killed while its sender waits for a free buffer is peer_closed") {
    // The receiver holds the first message and reads no more, so the pool's four buffers stay
    // in flight and the fifth send waits for a free record that never comes.
    sys::Fd note_r, note_w;
    sys::make_pipe(note_r, note_w);
    const int note = note_w.get();
    std::unique_ptr<Channel> ch;
    auto p = spawn_pair(
        ch,
        [note](Transport& tr) {
          std::vector<std::byte> m(std::size_t{1} << 20);
          for (std::size_t i = 0; i < wire::kMaxPoolBuffers; ++i)
            if (tr.send(m) != IoStatus::ok) return 2;
          char c = 1;
          if (::write(note, &c, 1) != 1) return 3;
          const IoStatus s = tr.send(m);
          return s == IoStatus::peer_closed ? 0 : 4;
        },
        [note](Transport& tr) {
          MessageView v;
          if (tr.peek(v) != IoStatus::ok) return 5;
          char c = 1;
          if (::write(note, &c, 1) != 1) return 6;
          ::pause();  // killed here, still holding the message
          return 0;
        });
    note_w.reset();
    for (int k = 0; k < 2; ++k) {
      REQUIRE_MESSAGE(sys::wait_readable(note_r.get(), 60'000), "an end made no progress");
      char c = 0;
      REQUIRE(::read(note_r.get(), &c, 1) == 1);
    }
    p.rx.kill(SIGKILL);
    auto ts = p.tx.wait_for(std::chrono::milliseconds(30'000));
    REQUIRE_MESSAGE(ts.has_value(), "sender hung after its receiver was killed");
    CHECK_MESSAGE(ts->ok(), "sender " << ts->describe());
    p.rx.kill_and_reap();
  }

  TEST_CASE("memfd: loan writes into the pooled buffer and peek reads it in place, read-only, then reuses it") {
    auto pair = open_local_pair(mfd(), {});
    const void* first_loan = nullptr;
    const std::size_t sizes[] = {100, 1 << 20, 1 << 20, wire::kInlineMaxBytes, (1 << 20) - 3, 0, 1 << 20};
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
      CAPTURE(sizes[i]);
      std::vector<std::byte> want(sizes[i]);
      test::fill_payload(want, i);
      LoanedSpace space;
      REQUIRE(pair.sender->loan(want.size(), space) == IoStatus::ok);
      REQUIRE(space.size() == want.size());
      CHECK(space.second.empty());
      space.write(0, want);
      const bool pooled = want.size() > wire::kInlineMaxBytes;
      if (pooled && want.size() == std::size_t{1} << 20) {
        // One buffer serves every 1 MiB message: each was freed before the next loan.
        if (first_loan == nullptr) first_loan = space.first.data();
        CHECK(space.first.data() == first_loan);
      }
      REQUIRE(pair.sender->commit(true) == IoStatus::ok);

      MessageView v;
      REQUIRE(pair.receiver->peek(v) == IoStatus::ok);
      REQUIRE(v.size() == want.size());
      CHECK(v.second.empty());
      CHECK(std::equal(want.begin(), want.end(), v.first.begin()));
      if (pooled) {
        // In place: the view is the receiver's read-only shared mapping of the memfd.
        const std::string line = maps_line_of(v.first.data());
        CAPTURE(line);
        CHECK(line.find("/memfd:ipcm-memfd") != std::string::npos);
        CHECK(line.find(" r--s ") != std::string::npos);
      }
      pair.receiver->release();
    }
    // Sender and receiver live in this process: one mapping each for the 1 MiB buffer.
    CHECK(memfd_maps().size() <= 2 * wire::kMaxPoolBuffers);
  }

}  // TEST_SUITE
