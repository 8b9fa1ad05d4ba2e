// `posix-mq`: the kernel's POSIX message queues (mq_open, <mqueue.h>). The kernel keeps the
// messages and the waiters, so a blocked end sleeps in the kernel (Wait::kernel) and a peer
// SIGKILLed inside mq_send leaves no lock behind (unlike bipc-mq's shared mutex).
//
// Limits, read from the kernel before every channel is created:
//   - /proc/sys/fs/mqueue/msgsize_max (8192 by default) caps one queue message, so the chunk
//     is min(msgsize_max, ChannelOptions::mq_msg_bytes or 8 KiB) and a larger message is
//     split: the first chunk starts with the 8-byte total length, the rest are raw bytes
//     (bipc-mq's framing). A zero-length chunk is the sender's clean close. An mq_msg_bytes
//     above msgsize_max is refused (preflight and create), never silently shrunk.
//   - /proc/sys/fs/mqueue/msg_max (10 by default) caps the depth, so depth is
//     min(msg_max, capacity_bytes / chunk), at least 1: 10 x 8 KiB = 80 KiB by default,
//     whatever the --ring-bytes above that.
//   - RLIMIT_MSGQUEUE (`ulimit -q`, 819200 bytes by default) caps the bytes of all queues of
//     one user: each queue is charged depth x (chunk + the kernel's ~100 B of bookkeeping per
//     message) at creation, so about nine default queues fit. The runner asks fit() first:
//     a cell's queues together take at most half of the limit (the other half is left to a
//     second run or another user of queues), each queue's depth shrunk to fit, down to 1; a
//     cell that still does not fit fails at create with an Error naming the limit and how to
//     raise it, before any worker is spawned.
//   - fs.mqueue.queues_max (256) caps the queues of the whole IPC namespace (ENOSPC).
//
// Waiting: mq_timedsend / mq_timedreceive with an absolute CLOCK_REALTIME deadline 20 ms
// ahead (the only clock these calls take; a wall-clock step back lengthens one wait, not
// the correctness), then a look at the peer's liveness, then again. The kernel has no
// notion of a dead peer for a queue (it outlives both ends by name), so, as for bipc-mq, a
// companion /dev/shm segment holds a LivenessBlock.
//
// Semantics: message boundaries kept (chunks reassembled in order); a full queue blocks the
// sender, nothing is dropped; a dead or closed peer is seen within one wait slice, after the
// receiver has drained what was queued; the queue descriptor is a pollable fd on Linux
// (poll_fd()); no root or sysctl needed within the default limits above. The same facts,
// typed, are the semantics card below.
//
// Names: a queue `/ipcm-...` (mqueue namespace: /dev/mqueue where mounted) and its `-live`
// segment in /dev/shm, both O_EXCL and 0600, unlinked as soon as both ends are open; the
// Channel's destructor removes what is left.
#include <mqueue.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cstring>
#include <ctime>
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
constexpr std::string_view kName = "posix-mq";
constexpr std::size_t kDefaultMsgBytes = 8 * 1024;
constexpr std::size_t kDefaultCapacity = std::size_t{256} << 10;  // as bipc-mq and the shm ring
constexpr std::size_t kMinMsgBytes = 64;                          // the length word and some payload
// What the kernel charges RLIMIT_MSGQUEUE per message slot besides its bytes: a struct
// msg_msg and a priority-tree node, 96 B on x86-64 (ipc/mqueue.c, mqueue_get_inode);
// rounded up, for an estimate that errs on the side of refusing.
constexpr std::size_t kKernelBytesPerMessage = 128;
constexpr std::int64_t kWaitSliceNs = 20'000'000;  // how long one kernel wait lasts before a liveness check
// Linux's defaults, for a /proc that cannot be read.
constexpr std::size_t kFallbackMsgMax = 10;
constexpr std::size_t kFallbackMsgSizeMax = 8192;

constexpr const char* kMsgMaxFile = "/proc/sys/fs/mqueue/msg_max";
constexpr const char* kMsgSizeMaxFile = "/proc/sys/fs/mqueue/msgsize_max";
constexpr const char* kQueuesMaxFile = "/proc/sys/fs/mqueue/queues_max";

/// The kernel's limits for this user, as they are now. Read before each channel is made:
/// a sysctl may change between cells.
struct MqLimits {
  std::size_t msg_max = kFallbackMsgMax;
  std::size_t msgsize_max = kFallbackMsgSizeMax;
  std::optional<unsigned long long> queues_max;
  rlim_t user_bytes = RLIM_INFINITY;  ///< RLIMIT_MSGQUEUE, soft: what the kernel checks

  static MqLimits read() {
    MqLimits l;
    l.msg_max = sys::read_number_file(kMsgMaxFile).value_or(kFallbackMsgMax);
    l.msgsize_max = sys::read_number_file(kMsgSizeMaxFile).value_or(kFallbackMsgSizeMax);
    l.queues_max = sys::read_number_file(kQueuesMaxFile);
    rlimit r{};
    if (::getrlimit(RLIMIT_MSGQUEUE, &r) == 0) l.user_bytes = r.rlim_cur;
    return l;
  }
  [[nodiscard]] std::string user_bytes_text() const {
    return user_bytes == RLIM_INFINITY ? std::string("unlimited") : std::to_string(user_bytes) + " bytes";
  }
};

/// A queue's shape for these options under these limits.
struct Geometry {
  std::size_t chunk = 0;  ///< mq_msgsize
  std::size_t depth = 0;  ///< mq_maxmsg
  /// About what the kernel charges to RLIMIT_MSGQUEUE for the queue.
  [[nodiscard]] std::size_t charged_bytes() const { return depth * (chunk + kKernelBytesPerMessage); }
};

std::string msgsize_refusal(std::size_t asked, const MqLimits& l) {
  return "a posix-mq message (chunk) of " + std::to_string(asked) + " bytes is over the system's limit of " +
         std::to_string(l.msgsize_max) + " bytes (" + kMsgSizeMaxFile +
         "; raise it with sysctl fs.mqueue.msgsize_max=" + std::to_string(asked) + ")";
}

/// What the kernel would refuse (or what cannot carry the framing), as a sentence; empty when fine.
std::string refusal(const ChannelOptions& o, const MqLimits& l) {
  if (o.mq_msg_bytes != 0 && o.mq_msg_bytes < kMinMsgBytes)
    return "a posix-mq message (chunk) of " + std::to_string(o.mq_msg_bytes) + " bytes is below the " +
           std::to_string(kMinMsgBytes) + " bytes its framing needs";
  if (o.mq_msg_bytes > l.msgsize_max) return msgsize_refusal(o.mq_msg_bytes, l);
  return {};
}

Geometry geometry(const ChannelOptions& o, const MqLimits& l) {
  Geometry g;
  g.chunk = o.mq_msg_bytes ? o.mq_msg_bytes : std::min(kDefaultMsgBytes, l.msgsize_max);
  const std::size_t cap = o.capacity_bytes ? o.capacity_bytes : kDefaultCapacity;
  g.depth = std::clamp<std::size_t>(cap / g.chunk, 1, std::max<std::size_t>(l.msg_max, 1));
  return g;
}

std::string one_queue_refusal(const Geometry& g, const MqLimits& l) {
  if (l.user_bytes == RLIM_INFINITY || g.charged_bytes() <= l.user_bytes) return {};
  return "one posix-mq queue (" + std::to_string(g.depth) + " x " + std::to_string(g.chunk) + " bytes, about " +
         std::to_string(g.charged_bytes()) +
         " bytes with the kernel's bookkeeping) is over this user's message-queue " + "limit RLIMIT_MSGQUEUE of " +
         l.user_bytes_text() + " (raise it with `ulimit -q " + std::to_string(g.charged_bytes()) + "` or more)";
}

/// The sentence for an mq_open(O_CREAT) that failed on a limit: which one, its value now,
/// and how to raise it. Empty for errors that are not about a limit.
std::string limit_hint(int e, const Geometry& g, const MqLimits& l) {
  const std::string queue = std::to_string(g.depth) + " x " + std::to_string(g.chunk) + " bytes";
  // EMFILE also means this process's fd table is full: tell the two apart.
  rlimit nofile{};
  if (e == EMFILE && ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY &&
      static_cast<rlim_t>(sys::open_fd_count() + 1) >= nofile.rlim_cur)
    return "this process has no file descriptor left (RLIMIT_NOFILE " + std::to_string(nofile.rlim_cur) +
           "; raise it with `ulimit -n`)";
  switch (e) {
    case EMFILE:
    case ENOMEM:
      return "this user's message queues would exceed the per-user limit RLIMIT_MSGQUEUE of " + l.user_bytes_text() +
             " (`ulimit -q`): every open queue is charged depth x (message size + ~100 B), this one " + queue +
             " = about " + std::to_string(g.charged_bytes()) + " bytes, so a cell with many channels (mesh, " +
             "fan-out) can run out; raise it with `ulimit -q <bytes>` (hard limit: `msgqueue` in " +
             "/etc/security/limits.conf), or run fewer channels or a smaller --ring-bytes";
    case ENOSPC:
      return "the system-wide number of message queues is used up (fs.mqueue.queues_max = " +
             (l.queues_max ? std::to_string(*l.queues_max) : std::string("?")) +
             "); raise it with `sysctl fs.mqueue.queues_max=N`";
    case EINVAL:
      return "the kernel refused a queue of " + queue + ": fs.mqueue.msg_max is " + std::to_string(l.msg_max) +
             " and fs.mqueue.msgsize_max is " + std::to_string(l.msgsize_max) +
             " (raise them with `sysctl fs.mqueue.msg_max=N` / `sysctl fs.mqueue.msgsize_max=N`)";
    case ENOSYS:
      return "this kernel has no POSIX message queues (CONFIG_POSIX_MQUEUE)";
    default:
      return {};
  }
}

std::string queue_path(const std::string& name) { return "/" + name; }
void remove_all(const std::string& name) noexcept {
  ::mq_unlink(queue_path(name).c_str());
  detail::remove_liveness_segment(name);
}

Error wrap(const bip::interprocess_exception& e, const std::string& name, std::string_view what) {
  return detail::interprocess_error(e, kName, name, what);
}

/// Owns one queue descriptor.
class QueueFd {
 public:
  QueueFd() noexcept = default;
  explicit QueueFd(mqd_t q) noexcept : q_(q) {}
  QueueFd(const QueueFd&) = delete;
  QueueFd& operator=(const QueueFd&) = delete;
  ~QueueFd() { reset(); }
  void reset(mqd_t q = static_cast<mqd_t>(-1)) noexcept {
    if (valid()) ::mq_close(q_);
    q_ = q;
  }
  [[nodiscard]] bool valid() const noexcept { return q_ != static_cast<mqd_t>(-1); }
  [[nodiscard]] mqd_t get() const noexcept { return q_; }

 private:
  mqd_t q_ = static_cast<mqd_t>(-1);
};

class PosixMqChannel final : public Channel {
 public:
  explicit PosixMqChannel(const ChannelOptions& o) : name_(o.name.empty() ? sys::unique_ipc_name() : o.name) {
    const MqLimits limits = MqLimits::read();
    if (std::string why = refusal(o, limits); !why.empty()) throw Error(kName, name_, why);
    const Geometry g = geometry(o, limits);
    msg_bytes_ = g.chunk;
    mq_attr attr{};
    attr.mq_maxmsg = static_cast<long>(g.depth);
    attr.mq_msgsize = static_cast<long>(g.chunk);
    // Fail closed: a name that is taken is someone else's object. Only what this constructor
    // created is removed on failure (and by the destructor).
    const mqd_t q = sys::retry_eintr(
        [&] { return ::mq_open(queue_path(name_).c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr); });
    if (q == static_cast<mqd_t>(-1)) {
      const int e = errno;
      // Error's what() ends with the errno's text; name the errno too, since EMFILE's text
      // ("Too many open files") misleads when the limit hit is RLIMIT_MSGQUEUE.
      const char* symbol = ::strerrorname_np(e);
      std::string what = std::string("mq_open(O_CREAT | O_EXCL) failed (") + (symbol ? symbol : "?") + ")";
      if (e == EEXIST) what += " (the name is taken: left alone)";
      if (std::string hint = limit_hint(e, g, limits); !hint.empty()) what += "; " + hint;
      throw Error(std::error_code(e, std::generic_category()), kName, name_, what);
    }
    // The queue lives on by name; the ends open their own descriptors.
    ::mq_close(q);
    created_queue_ = true;
    try {
      detail::create_liveness_segment(name_, kName, created_live_);
    } catch (const bip::interprocess_exception& e) {
      remove_created();
      throw wrap(e, name_, "create liveness segment");
    } catch (const Error&) {
      remove_created();
      throw;
    }
  }
  PosixMqChannel(const PosixMqChannel&) = delete;
  PosixMqChannel& operator=(const PosixMqChannel&) = delete;
  ~PosixMqChannel() override { remove_created(); }

  ChannelSpec spec(Role) const override {
    ChannelSpec s;
    s.mechanism = std::string(kName);
    s.name = name_;
    s.msg_bytes = msg_bytes_;
    return s;
  }
  ChannelSpec take(Role r) override { return spec(r); }
  void close_local_fds() noexcept override {}

 private:
  void remove_created() noexcept {
    if (created_queue_) ::mq_unlink(queue_path(name_).c_str());
    if (created_live_) detail::remove_liveness_segment(name_);
  }

  std::string name_;
  std::size_t msg_bytes_ = 0;
  bool created_queue_ = false;
  bool created_live_ = false;
};

/// CLOCK_REALTIME `ns` from now: mq_timed* take an absolute deadline on that clock only.
timespec deadline_in(std::int64_t ns) noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec += static_cast<long>(ns % 1'000'000'000);
  if (ts.tv_nsec >= 1'000'000'000) {
    ts.tv_nsec -= 1'000'000'000;
    ++ts.tv_sec;
  }
  return ts;
}
/// A deadline already past: the call takes or puts a message when it can, else ETIMEDOUT
/// at once (the kernel checks the queue before the deadline).
constexpr timespec kNow{0, 0};

class PosixMqTransport final : public Transport {
 public:
  PosixMqTransport(const ChannelSpec& s, Role role) : sender_(role == Role::sender) {
    const int access = sender_ ? O_WRONLY : O_RDONLY;
    q_.reset(sys::retry_eintr([&] { return ::mq_open(queue_path(s.name).c_str(), access | O_CLOEXEC); }));
    if (!q_.valid()) sys::check_errno(-1, "mq_open", kName, s.name);
    mq_attr attr{};
    sys::check_errno(::mq_getattr(q_.get(), &attr), "mq_getattr", kName, s.name);
    // The queue's own size, not the spec's: the kernel refuses receive buffers below it.
    chunk_ = static_cast<std::size_t>(attr.mq_msgsize);
    if (chunk_ < kMinMsgBytes)
      throw Error(kName, s.name, "queue message size " + std::to_string(chunk_) + " is too small");
    try {
      live_region_ = detail::map_liveness_segment(s.name);
    } catch (const bip::interprocess_exception& e) {
      throw wrap(e, s.name, "open liveness segment");
    }
    stage_.resize(chunk_);
    peer_.emplace(static_cast<detail::LivenessBlock*>(live_region_.get_address()), role);
    // Both ends hold the queue and the mapping now: the names can go.
    if (peer_->mark_open()) remove_all(s.name);
  }
  PosixMqTransport(const PosixMqTransport&) = delete;
  PosixMqTransport& operator=(const PosixMqTransport&) = delete;
  ~PosixMqTransport() override {
    // Best effort, never waiting: a full queue gets no marker, and the closed flag, set
    // after it, is what the receiver relies on once the queue is drained.
    if (sender_) (void)::mq_timedsend(q_.get(), reinterpret_cast<const char*>(stage_.data()), 0, 0, &kNow);
    peer_->mark_closed();
  }

  IoStatus send(std::span<const std::byte> msg) noexcept override { return send_pieces({msg, {}}); }

  IoStatus send_gather(std::span<const GatherMessage> msgs) noexcept override {
    for (const auto& m : msgs)
      if (auto st = send_pieces({m.head, m.body}); st != IoStatus::ok) return st;
    return IoStatus::ok;
  }

  // On Linux a queue descriptor is an fd: poll/epoll report POLLIN while a message waits.
  int poll_fd() noexcept override { return sender_ ? -1 : static_cast<int>(q_.get()); }

  IoStatus recv(std::span<std::byte> buf, std::size_t& len) noexcept override {
    std::error_code framing;
    const IoStatus st = detail::recv_chunked(
        buf, len, stage_, chunk_, [this](std::byte* p, std::size_t& got) { return take(p, got); }, framing);
    return framing ? fail(framing) : st;
  }

 private:
  IoStatus send_pieces(MessageView m) noexcept {
    if (peer_->peer_closed()) return IoStatus::peer_closed;
    return detail::send_chunked(m, stage_, chunk_, [this](const std::byte* p, std::size_t n) { return put(p, n); });
  }

  // Blocks in the kernel for one slice at a time; between slices, a peer that is gone ends
  // the wait. A full queue just waits: nothing is dropped.
  IoStatus put(const std::byte* p, std::size_t n) noexcept {
    for (;;) {
      const timespec until = deadline_in(kWaitSliceNs);
      if (::mq_timedsend(q_.get(), reinterpret_cast<const char*>(p), n, 0, &until) == 0) return IoStatus::ok;
      if (errno == EINTR) continue;
      if (errno != ETIMEDOUT) return fail_errno(errno);
      if (peer_->peer_gone()) return IoStatus::peer_closed;
    }
  }

  IoStatus take(std::byte* p, std::size_t& got) noexcept {
    got = 0;
    for (;;) {
      const timespec until = deadline_in(kWaitSliceNs);
      ssize_t r = ::mq_timedreceive(q_.get(), reinterpret_cast<char*>(p), chunk_, nullptr, &until);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && errno == ETIMEDOUT && peer_->peer_gone()) {
        // A receiver drains first: a peer that died (or closed) right after its last send
        // still delivered it, and nothing can arrive once it is gone.
        r = sys::retry_eintr(
            [&] { return ::mq_timedreceive(q_.get(), reinterpret_cast<char*>(p), chunk_, nullptr, &kNow); });
        if (r < 0 && errno == ETIMEDOUT) return IoStatus::peer_closed;
      }
      if (r >= 0) {
        got = static_cast<std::size_t>(r);
        return IoStatus::ok;
      }
      if (errno != ETIMEDOUT) return fail_errno(errno);
    }
  }

  bool sender_;
  QueueFd q_;
  bip::mapped_region live_region_;
  std::optional<detail::PeerWatch> peer_;
  std::size_t chunk_ = 0;
  std::vector<std::byte> stage_;
};

std::unique_ptr<Channel> create(const ChannelOptions& o) { return std::make_unique<PosixMqChannel>(o); }
std::unique_ptr<Transport> open(const ChannelSpec& s, Role r) { return std::make_unique<PosixMqTransport>(s, r); }

/// The depth that lets `channels` queues together take at most half of RLIMIT_MSGQUEUE.
void fit(ChannelOptions& o, std::size_t channels) {
  const MqLimits limits = MqLimits::read();
  if (limits.user_bytes == RLIM_INFINITY || channels == 0 || !refusal(o, limits).empty()) return;
  Geometry g = geometry(o, limits);
  const std::size_t share = static_cast<std::size_t>(limits.user_bytes) / 2 / channels;
  if (g.charged_bytes() <= share) return;
  g.depth = std::max<std::size_t>(1, share / (g.chunk + kKernelBytesPerMessage));
  o.capacity_bytes = g.depth * g.chunk;  // what geometry() turns back into this depth
}

/// Refused before anything is spawned: a chunk over fs.mqueue.msgsize_max (EINVAL from the
/// kernel otherwise), or one queue bigger than this user's RLIMIT_MSGQUEUE on its own. Many
/// queues that only together exceed it are a per-cell error at create (see limit_hint).
std::string preflight(const ChannelOptions& o) {
  const MqLimits limits = MqLimits::read();
  if (std::string why = refusal(o, limits); !why.empty()) return why;
  return one_queue_refusal(geometry(o, limits), limits);
}

}  // namespace

extern const TransportSpec kPosixMqTransport{
    "posix-mq",
    "kernel POSIX message queue (mq_timedsend/mq_timedreceive; chunks of min(8 KiB, fs.mqueue.msgsize_max), "
    "larger messages split; depth up to fs.mqueue.msg_max; per-user bytes capped by ulimit -q)",
    Capabilities{.buffer = BufferKnob::capacity_bytes},
    &create,
    &open,
    &preflight,
    SemanticsCard{
        .pollable = Pollable::fd,
        .poll_note = "the receiver's queue descriptor (an fd on Linux)",
        .boundaries = Boundaries::kept,
        .when_full = WhenFull::blocks,
        .dead_peer = "the queue outlives both ends: a companion liveness block and the peer's pid are checked "
                     "after each 20 ms wait, then peer_closed once the receiver has drained the queue; no lock "
                     "is left behind",
        .visibility = Visibility::global_name,
        .access = "a 0600 queue (/dev/mqueue where mounted) and a 0600 companion segment in /dev/shm, random "
                  "run-scoped names, created O_EXCL",
        .limits = "chunk at most fs.mqueue.msgsize_max (8 KiB), depth at most fs.mqueue.msg_max (10), all "
                  "queues of a user within ulimit -q (800 KiB: about nine default queues; a cell with more "
                  "channels gets shallower queues, its share of half the limit), fs.mqueue.queues_max; "
                  "raise with sysctl and ulimit -q",
    },
    nullptr,
    &fit};

}  // namespace ipcmatrix
