// posix-mq beyond what the conformance suite checks for every mechanism: the queue's shape
// follows the kernel's limits, large messages are split into chunks, the limits are refused
// clearly (up front, per queue, per cell), names fail closed and never outlive the channel.
#include <doctest/doctest.h>
#include <mqueue.h>
#include <sys/resource.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/ipc_names.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "support/test_support.hpp"
#include "support/tool_runner.hpp"

using namespace ipcmatrix;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

const TransportSpec& mq() { return find_transport("posix-mq"); }

std::size_t proc_value(const char* path) {
  std::FILE* f = std::fopen(path, "r");
  REQUIRE_MESSAGE(f != nullptr, path);
  unsigned long long v = 0;
  const bool ok = std::fscanf(f, "%llu", &v) == 1;
  std::fclose(f);
  REQUIRE(ok);
  return static_cast<std::size_t>(v);
}
std::size_t msg_max() { return proc_value("/proc/sys/fs/mqueue/msg_max"); }
std::size_t msgsize_max() { return proc_value("/proc/sys/fs/mqueue/msgsize_max"); }

/// The queue's attributes as the kernel has them, or nullopt when no queue has that name.
std::optional<mq_attr> queue_attr(const std::string& name) {
  const mqd_t q = ::mq_open(("/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (q == static_cast<mqd_t>(-1)) return std::nullopt;
  mq_attr a{};
  ::mq_getattr(q, &a);
  ::mq_close(q);
  return a;
}

/// Lowers this process's soft RLIMIT_MSGQUEUE (always allowed) for one test, and restores it.
class LoweredQueueBytes {
 public:
  explicit LoweredQueueBytes(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_MSGQUEUE, &saved_) == 0);
    rlimit lower = saved_;
    lower.rlim_cur = std::min(saved_.rlim_cur, bytes);
    REQUIRE(::setrlimit(RLIMIT_MSGQUEUE, &lower) == 0);
    now_ = lower.rlim_cur;
  }
  ~LoweredQueueBytes() { ::setrlimit(RLIMIT_MSGQUEUE, &saved_); }
  LoweredQueueBytes(const LoweredQueueBytes&) = delete;
  LoweredQueueBytes& operator=(const LoweredQueueBytes&) = delete;
  [[nodiscard]] rlim_t now() const { return now_; }

 private:
  rlimit saved_{};
  rlim_t now_ = 0;
};

// Sends each message on a thread (a message of many chunks fills the queue before the
// receiver starts) and checks what arrives.
void round_trip(LocalPair& pair, const std::vector<std::size_t>& sizes) {
  std::thread tx([&] {
    std::vector<std::byte> m(1 << 20);
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      std::span<std::byte> msg(m.data(), sizes[i]);
      test::fill_payload(msg, i);
      // Every other one as a head and a body cut mid-chunk, so chunks straddle the two.
      const std::size_t cut = std::min<std::size_t>(msg.size(), 3 * i + 1);
      const GatherMessage g{msg.first(cut), msg.subspan(cut)};
      const IoStatus s = i % 2 ? pair.sender->send_gather({&g, 1}) : pair.sender->send(msg);
      if (s != IoStatus::ok) return;
    }
  });
  std::vector<std::byte> buf(1 << 20);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    CAPTURE(sizes[i]);
    std::size_t len = 0;
    REQUIRE(pair.receiver->recv(buf, len) == IoStatus::ok);
    CHECK(len == sizes[i]);
    CHECK(test::payload_matches({buf.data(), len}, i));
  }
  tx.join();
}

}  // namespace

TEST_SUITE("transport") {
  TEST_CASE("posix-mq: the queue's chunk and depth follow the kernel's limits and the buffer size") {
    const std::size_t chunk = std::min<std::size_t>(8192, msgsize_max());
    REQUIRE(mq().caps.buffer == BufferKnob::capacity_bytes);
    CHECK_FALSE(mq().caps.spin_wait);  // its cells run with Wait::kernel
    struct Case {
      std::size_t capacity, depth;
    };
    const Case cases[] = {{0, std::min<std::size_t>(msg_max(), (256 << 10) / chunk)},
                          {3 * chunk, std::min<std::size_t>(msg_max(), 3)},
                          {1, 1},
                          {std::size_t{1} << 30, msg_max()}};
    for (const Case& c : cases) {
      CAPTURE(c.capacity);
      ChannelOptions o;
      o.capacity_bytes = c.capacity;
      auto ch = mq().create(o);
      const ChannelSpec s = ch->spec(Role::sender);
      CHECK(s.msg_bytes == chunk);
      const auto attr = queue_attr(s.name);
      REQUIRE(attr.has_value());
      CHECK(static_cast<std::size_t>(attr->mq_msgsize) == chunk);
      CHECK(static_cast<std::size_t>(attr->mq_maxmsg) == c.depth);
    }
  }

  TEST_CASE("posix-mq: messages larger than a chunk round-trip split, at every chunk boundary") {
    ChannelOptions o;
    o.mq_msg_bytes = 128;    // a small chunk: many chunks a message
    o.capacity_bytes = 256;  // two slots: the sender waits for the receiver mid-message
    auto pair = open_local_pair(mq(), o);
    const std::size_t c = 128, first = c - 8;  // the first chunk carries the 8-byte length
    round_trip(pair, {0, 1, first - 1, first, first + 1, first + c, first + c + 1, 10 * c + 7, 100'000, 64});
  }

  TEST_CASE("posix-mq: a 1 MiB message round-trips through default 8 KiB chunks") {
    auto pair = open_local_pair(mq(), {});
    round_trip(pair, {1 << 20, 8192 - 8, 8192, 64});
  }

  TEST_CASE("posix-mq: preflight refuses a chunk above fs.mqueue.msgsize_max, naming the sysctl") {
    ChannelOptions o;
    CHECK(mq().preflight(o).empty());
    o.mq_msg_bytes = msgsize_max() + 1;
    const std::string why = mq().preflight(o);
    CHECK_MESSAGE(why.find("fs.mqueue.msgsize_max") != std::string::npos, why);
    CHECK_MESSAGE(why.find(std::to_string(msgsize_max())) != std::string::npos, why);
    // create() refuses the same, rather than silently making a smaller chunk than asked.
    const auto before = test::leak_snapshot();
    CHECK_THROWS_WITH_AS((void)mq().create(o), doctest::Contains("fs.mqueue.msgsize_max"), Error);
    CHECK(test::new_entries(before, test::leak_snapshot()).empty());
  }

  TEST_CASE("posix-mq: preflight refuses one queue larger than the per-user RLIMIT_MSGQUEUE") {
    const LoweredQueueBytes limit(1000);
    const std::string why = mq().preflight({});
    CHECK_MESSAGE(why.find("RLIMIT_MSGQUEUE") != std::string::npos, why);
    CHECK_MESSAGE(why.find("ulimit -q") != std::string::npos, why);
    CHECK_MESSAGE(why.find(std::to_string(limit.now())) != std::string::npos, why);
  }

  TEST_CASE("posix-mq: queues past the per-user byte limit fail with an error naming it, not a hang") {
    // About four default queues' worth, so the loop below ends within a few creations (sooner
    // if this user holds queues already).
    const LoweredQueueBytes limit(4 * 10 * (8192 + 128));
    const auto before = test::leak_snapshot();
    {
      std::vector<std::unique_ptr<Channel>> channels;
      std::optional<Error> refused;
      for (int i = 0; i < 1000 && !refused; ++i) {
        try {
          channels.push_back(mq().create({}));
        } catch (const Error& e) {
          refused = e;
        }
      }
      REQUIRE_MESSAGE(refused.has_value(), "1000 queues fit under a limit of " << limit.now() << " bytes");
      const std::string msg = refused->what();
      CAPTURE(msg);
      CHECK(refused->code() == std::errc::too_many_files_open);  // EMFILE: how the kernel says it
      CHECK(msg.find("RLIMIT_MSGQUEUE") != std::string::npos);
      CHECK(msg.find(std::to_string(limit.now())) != std::string::npos);
      CHECK(msg.find("ulimit -q") != std::string::npos);
      CHECK(channels.size() <= 4);
    }
    CHECK(test::new_entries(before, test::leak_snapshot()).empty());
  }

  TEST_CASE("posix-mq: a mesh cell shares the per-user queue limit: shallower queues, recorded, too little is a clear cell error") {
    // A mesh of 4 needs 12 queues (about 1 MB at the default depth of 10). Under a limit of
    // 3 default queues' worth the runner gives each queue its share of half the limit (depth
    // 1 here) and records that capacity; the preflight (one default queue) passes.
    auto run_mesh = [](std::size_t limit_bytes) {
      TempDir dir;
      const LoweredQueueBytes limit(limit_bytes);
      auto r = test::run_tool({"--sizes", "64", "--patterns", "mesh,stream", "--procs", "4", "--mechanisms",
                               "posix-mq", "--serializers", "raw", "--messages", "200", "--warmup", "10", "--json",
                               "-", "--quiet"},
                              dir);
      CHECK(sys::ipc_names_of(r.pid).empty());
      return r;
    };
    SUBCASE("shallower queues") {
      const auto r = run_mesh(3 * 10 * (8192 + 128));
      REQUIRE_MESSAGE(r.code == 0, r.err);
      const auto j = nlohmann::json::parse(r.out);
      for (const auto& c : j.at("cells")) {
        CHECK(c.at("status") == "ok");
        const auto cap = c.at("channel").at("capacity_bytes").get<std::uint64_t>();
        if (c.at("pattern") == "mesh") CHECK(cap == 8192);  // depth 1 x one 8 KiB chunk
        else CHECK(cap == 0);                                // one queue: the default depth fits
      }
    }
    SUBCASE("not even depth 1 fits: the cell fails naming the limit, the run goes on") {
      // One default queue (83 KB) fits, so the preflight passes; twelve of depth 1 (100 KB) do not.
      const auto r = run_mesh(90'000);
      CHECK_MESSAGE(r.code == 3, r.err);  // a cell failed; the run finished
      const auto j = nlohmann::json::parse(r.out);
      bool mesh_refused = false, stream_ok = false;
      for (const auto& c : j.at("cells")) {
        if (c.at("pattern") == "mesh") {
          const std::string err = c.value("error", "");
          CHECK_MESSAGE(err.find("RLIMIT_MSGQUEUE") != std::string::npos, err);
          CHECK_MESSAGE(err.find("ulimit -q") != std::string::npos, err);
          mesh_refused = c.at("status") == "error";
        }
        if (c.at("pattern") == "stream") stream_ok = c.at("status") == "ok";
      }
      CHECK(mesh_refused);
      CHECK(stream_ok);
    }
  }

  TEST_CASE("posix-mq: a taken queue name fails closed and leaves the queue alone") {
    const std::string name = sys::unique_ipc_name();
    mq_attr attr{};
    attr.mq_maxmsg = 1;
    attr.mq_msgsize = 64;
    const mqd_t q = ::mq_open(("/" + name).c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
    REQUIRE(q != static_cast<mqd_t>(-1));
    ChannelOptions o;
    o.name = name;
    CHECK_THROWS_WITH_AS((void)mq().create(o), doctest::Contains("taken"), Error);
    const auto still = queue_attr(name);
    REQUIRE(still.has_value());
    CHECK(still->mq_msgsize == 64);  // the other queue, untouched
    ::mq_close(q);
    ::mq_unlink(("/" + name).c_str());

    // The companion segment's name is taken: the queue made for it is removed again.
    const std::string name2 = sys::unique_ipc_name();
    const fs::path live = fs::path(sys::kShmDir) / (name2 + "-live");
    test::write_file(live, "x");
    o.name = name2;
    CHECK_THROWS_AS((void)mq().create(o), Error);
    CHECK(test::slurp(live) == "x");
    CHECK_FALSE(queue_attr(name2).has_value());
    fs::remove(live);
  }

  TEST_CASE("posix-mq: names are unlinked once both ends are open, and by the channel otherwise") {
    const auto before = test::leak_snapshot();
    std::string name;
    {
      auto ch = mq().create({});
      name = ch->spec(Role::sender).name;
      CHECK(queue_attr(name).has_value());
      CHECK(fs::exists(fs::path(sys::kShmDir) / (name + "-live")));
    }
    CHECK_FALSE(queue_attr(name).has_value());  // never opened: the Channel removed it
    {
      auto pair = open_local_pair(mq(), {});
      name = pair.channel->spec(Role::sender).name;
      CHECK_FALSE(queue_attr(name).has_value());  // both ends open: already unlinked
      CHECK_FALSE(fs::exists(fs::path(sys::kShmDir) / (name + "-live")));
      std::byte b[64]{};
      std::size_t len = 0;
      REQUIRE(pair.sender->send(b) == IoStatus::ok);  // the open ends still work
      REQUIRE(pair.receiver->recv(b, len) == IoStatus::ok);
      CHECK(len == 64);
    }
    CHECK(test::new_entries(before, test::leak_snapshot()).empty());
  }

  TEST_CASE("posix-mq: queues show in ipc_names and are removed by remove_ipc_object where /dev/mqueue is mounted") {
    if (!sys::mqueue_mounted()) {
      MESSAGE("skipped: no mqueue filesystem at /dev/mqueue");
      return;
    }
    auto ch = mq().create({});
    const std::string name = ch->spec(Role::sender).name;
    const std::string path = std::string(sys::kMqueueDir) + "/" + name;
    CHECK(sys::own_ipc_names().count(path) == 1);
    CHECK(sys::ipc_names_of(sys::current_pid()).count(path) == 1);
    std::string why;
    CHECK_MESSAGE(sys::remove_ipc_object(path, &why), why);
    CHECK_FALSE(queue_attr(name).has_value());
    CHECK(sys::own_ipc_names().count(path) == 0);
    // cleanup: a queue whose owner is alive stays, one whose owner is gone is removed.
    auto alive = mq().create({});
    const std::string alive_name = alive->spec(Role::sender).name;
    auto child = sys::fork_child([] { return 0; });
    const int dead_pid = child.pid();
    REQUIRE(child.wait_for(std::chrono::milliseconds(10'000)).has_value());
    const std::string dead_name = "ipcm-0123abcd-" + std::to_string(dead_pid) + "-1-89abcdef";
    mq_attr attr{};
    attr.mq_maxmsg = 1;
    attr.mq_msgsize = 64;
    const mqd_t q = ::mq_open(("/" + dead_name).c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
    REQUIRE(q != static_cast<mqd_t>(-1));
    ::mq_close(q);
    bool saw_alive = false, saw_dead = false;
    for (const auto& e : sys::cleanup_orphans(false)) {
      CAPTURE(e.reason);
      if (e.path == std::string(sys::kMqueueDir) + "/" + alive_name) {
        saw_alive = true;
        CHECK_FALSE(e.removed);
      }
      if (e.path == std::string(sys::kMqueueDir) + "/" + dead_name) {
        saw_dead = true;
        CHECK(e.removed);
      }
    }
    CHECK(saw_alive);
    CHECK(saw_dead);
    CHECK(queue_attr(alive_name).has_value());
    CHECK_FALSE(queue_attr(dead_name).has_value());
    ::mq_unlink(("/" + dead_name).c_str());  // in case the check above failed
  }

}  // TEST_SUITE
