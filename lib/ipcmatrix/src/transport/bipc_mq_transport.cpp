// `bipc-mq`: Boost.Interprocess message_queue, the off-the-shelf shared-memory queue a
// user would otherwise pick. Its messages have a fixed maximum size, so a larger message
// is split: the first chunk starts with the 8-byte total length, the rest are raw bytes.
// A zero-length chunk is the sender's clean close.
//
// message_queue has no notion of a dead peer, so a small companion segment holds a
// LivenessBlock, and a waiting call checks the peer every 20 ms (see poll_until). A peer
// killed while holding the queue's internal mutex leaves it locked for good: the build
// makes Boost's lock() give up after 2 s (BOOST_INTERPROCESS_ENABLE_TIMEOUT_WHEN_LOCKING,
// set in CMake), which surfaces here as an error instead of a hang.
#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <optional>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/byte_order.hpp"
#include "ipcmatrix/sys/ipc_names.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "chunked.hpp"
#include "liveness_segment.hpp"

namespace ipcmatrix {
namespace {

namespace bip = boost::interprocess;
constexpr std::size_t kDefaultMsgBytes = 8 * 1024;
constexpr std::size_t kDefaultCapacity = std::size_t{256} << 10;  // as the shm ring
constexpr std::size_t kPerMessageOverhead = 64;      // Boost's per-message header, rounded up
constexpr int kImmediateTries = 64;                  // before the first nap
constexpr std::int64_t kNapNs = 20'000;              // one nap (the kernel adds its timer slack)
constexpr std::int64_t kLivenessEveryNs = 20'000'000;  // how often a waiter checks its peer

void remove_all(const std::string& q) noexcept {
  bip::message_queue::remove(q.c_str());
  detail::remove_liveness_segment(q);
}

Error wrap(const bip::interprocess_exception& e, const std::string& name, std::string_view what) {
  return detail::interprocess_error(e, "bipc-mq", name, what);
}

class MqChannel final : public Channel {
 public:
  explicit MqChannel(const ChannelOptions& o) : name_(o.name.empty() ? sys::unique_ipc_name() : o.name) {
    msg_bytes_ = o.mq_msg_bytes ? o.mq_msg_bytes : kDefaultMsgBytes;
    if (msg_bytes_ < 64) throw Error("bipc-mq", name_, "message size must be >= 64 bytes");
    const std::size_t cap = o.capacity_bytes ? o.capacity_bytes : kDefaultCapacity;
    const std::size_t count = std::max<std::size_t>(2, cap / msg_bytes_);
    // Boost sizes the queue's segment as the messages plus a header per message; a segment
    // tmpfs cannot back would be a SIGBUS in whichever end touches the missing page first.
    sys::require_shm_space(count * (msg_bytes_ + kPerMessageOverhead) + sizeof(detail::LivenessBlock), "bipc-mq", name_);
    bip::permissions perm;
    perm.set_permissions(0600);
    // Fail closed: a name that is taken is someone else's object. Only what this constructor
    // created is removed on failure (and by the destructor).
    try {
      bip::message_queue q(bip::create_only, name_.c_str(), count, msg_bytes_, perm);
      created_queue_ = true;
      reserve_queue_pages();
      detail::create_liveness_segment(name_, "bipc-mq", created_live_);
    } catch (const bip::interprocess_exception& e) {
      remove_created();
      throw wrap(e, name_, "create");
    } catch (const Error&) {
      remove_created();
      throw;
    }
  }
  ~MqChannel() override { remove_created(); }
  ChannelSpec spec(Role) const override {
    ChannelSpec s;
    s.mechanism = "bipc-mq";
    s.name = name_;
    s.msg_bytes = msg_bytes_;
    return s;
  }
  ChannelSpec take(Role r) override { return spec(r); }
  void close_local_fds() noexcept override {}

 private:
  /// Boost sizes the queue's segment itself; reserving its pages now makes a /dev/shm that
  /// filled up since the space check an error here rather than a SIGBUS in a worker.
  void reserve_queue_pages() {
    const std::string path = std::string(sys::kShmDir) + "/" + name_;
    const sys::Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return;  // not a file in /dev/shm: nothing to reserve
    sys::reserve_shared_memory(fd.get(), static_cast<std::size_t>(st.st_size), "bipc-mq", name_);
  }

  void remove_created() noexcept {
    if (created_queue_) bip::message_queue::remove(name_.c_str());
    if (created_live_) detail::remove_liveness_segment(name_);
  }

  std::string name_;
  std::size_t msg_bytes_ = 0;
  bool created_queue_ = false;
  bool created_live_ = false;
};

class MqTransport final : public Transport {
 public:
  MqTransport(const ChannelSpec& s, Role role) : sender_(role == Role::sender) {
    try {
      q_.emplace(bip::open_only, s.name.c_str());
      live_region_ = detail::map_liveness_segment(s.name);
    } catch (const bip::interprocess_exception& e) {
      throw wrap(e, s.name, "open");
    }
    chunk_ = q_->get_max_msg_size();
    stage_.resize(chunk_);
    peer_.emplace(static_cast<detail::LivenessBlock*>(live_region_.get_address()), role);
    if (peer_->mark_open()) remove_all(s.name);
  }
  ~MqTransport() override {
    if (sender_) {
      try {
        q_->try_send(stage_.data(), 0, 0);  // best effort: the closed flag is authoritative
      } catch (...) {
      }
    }
    peer_->mark_closed();
  }

  IoStatus send(std::span<const std::byte> msg) noexcept override {
    if (peer_->peer_closed()) return IoStatus::peer_closed;
    return detail::send_chunked({msg, {}}, stage_, chunk_,
                                [this](const std::byte* p, std::size_t n) { return put(p, n); });
  }

  IoStatus recv(std::span<std::byte> buf, std::size_t& len) noexcept override {
    std::error_code framing;
    const IoStatus st = detail::recv_chunked(
        buf, len, stage_, chunk_, [this](std::byte* p, std::size_t& got) { return take(p, got); }, framing);
    return framing ? fail(framing) : st;
  }

 private:
  // Why try_send/try_receive in a polling loop and not the blocking calls: the blocking
  // ones wait in pthread_cond_timedwait, which re-acquires the queue's mutex without a
  // timeout when it wakes. A peer SIGKILLed while holding that mutex (it is inside
  // send/receive most of the time in a stream) then hangs the survivor for good; the
  // conformance test caught it about one run in six. try_* only take the mutex through
  // lock(), which the build makes give up after 2 s (see CMakeLists.txt). Between
  // attempts the caller spins briefly, then sleeps in short naps, so a waiting endpoint
  // costs about what a blocked one does and wakes within ~kNap of a new message.
  template <class Attempt>
  IoStatus poll_until(Attempt attempt, bool receiving) noexcept {
    try {
      for (int i = 0; i < kImmediateTries; ++i) {
        if (attempt()) return IoStatus::ok;
        sys::cpu_relax();
      }
      std::int64_t next_check = sys::monotonic_ns() + kLivenessEveryNs;
      while (!attempt()) {
        sys::sleep_for_ns(kNapNs);
        if (sys::monotonic_ns() < next_check) continue;
        next_check = sys::monotonic_ns() + kLivenessEveryNs;
        // A receiver drains first: a peer that died after its last send still delivered it.
        if (peer_->peer_gone() && (!receiving || q_->get_num_msg() == 0)) {
          return attempt() ? IoStatus::ok : IoStatus::peer_closed;
        }
      }
      return IoStatus::ok;
    } catch (const bip::interprocess_exception& e) {
      return fail_errno(e.get_native_error() ? e.get_native_error() : EIO);
    }
  }
  IoStatus put(const void* p, std::size_t n) noexcept {
    return poll_until([&] { return q_->try_send(p, n, 0); }, false);
  }
  IoStatus take(void* p, std::size_t& got) noexcept {
    unsigned prio = 0;
    bip::message_queue::size_type r = 0;
    const IoStatus s = poll_until([&] { return q_->try_receive(p, chunk_, r, prio); }, true);
    got = r;
    return s;
  }

  bool sender_;
  std::optional<bip::message_queue> q_;
  bip::mapped_region live_region_;
  std::optional<detail::PeerWatch> peer_;
  std::size_t chunk_ = 0;
  std::vector<std::byte> stage_;
};

std::unique_ptr<Channel> create(const ChannelOptions& o) { return std::make_unique<MqChannel>(o); }
std::unique_ptr<Transport> open(const ChannelSpec& s, Role r) {
  return std::make_unique<MqTransport>(s, r);
}

}  // namespace

extern const TransportSpec kBipcMqTransport{
    "bipc-mq",
    "Boost.Interprocess message_queue (8 KiB messages by default; larger ones split): the "
    "off-the-shelf shared-memory queue",
    Capabilities{.buffer = BufferKnob::capacity_bytes, .in_dev_shm = true}, &create, &open, nullptr,
    SemanticsCard{
        .pollable = Pollable::none,
        .poll_note = "no fd: a waiting end polls the queue with short naps",
        .boundaries = Boundaries::kept,
        .when_full = WhenFull::blocks,
        .dead_peer = "the queue does not know its peers: a companion liveness block and the peer's pid are "
                     "checked every 20 ms, then peer_closed; a peer killed inside the queue's mutex makes "
                     "the survivor's next call fail after 2 s instead of hanging",
        .visibility = Visibility::global_name,
        .access = "a 0600 queue and companion segment in /dev/shm with random run-scoped names, created "
                  "exclusively",
        .limits = "messages above the queue's 8 KiB chunk are split; queue size bounded by the free space "
                  "of /dev/shm",
    }};

}  // namespace ipcmatrix
