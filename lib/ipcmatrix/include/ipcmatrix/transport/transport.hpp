#pragma once
/// @file transport.hpp
/// The transport contract: a one-directional channel that moves whole messages
/// (framed bytes, 0 B up to message_limit_of(), at most Capabilities::max_msg_bytes) between
/// two processes.
///
/// Life of a channel:
///  1. A coordinator calls TransportSpec::create(): the mechanism makes its kernel or
///     shared-memory objects (O_EXCL, mode 0600, names carrying a random run id) and
///     returns a Channel that owns them.
///  2. Channel::spec(role) describes one end as plain data (ChannelSpec, serialisable to
///     JSON) that can cross exec: names, paths, a port, or an inherited fd number.
///  3. Each side, usually in its own process, calls TransportSpec::open(spec, role).
///     Names are unlinked as soon as both ends are open, where the mechanism allows it.
///  4. The Channel's destructor removes whatever is left (a side that died before opening).
///
/// Hot path (send/recv): noexcept, no allocation, no exceptions; failures come back as an
/// IoStatus with error() set. Every mechanism applies backpressure (a slow receiver makes
/// the sender wait; nothing is dropped or reordered), retries EINTR, never raises SIGPIPE,
/// and reports a dead or closed peer as peer_closed within a bounded time instead of hanging.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "ipcmatrix/model/semantics.hpp"
#include "ipcmatrix/model/vocabulary.hpp"

namespace ipcmatrix {

inline constexpr std::size_t kCacheLine = 64;  // not hardware_destructive_interference_size: ABI

/// Outcome of a hot-path call.
enum class IoStatus : std::uint8_t {
  ok,
  would_block,  ///< reserved for non-blocking use
  timeout,      ///< a bounded wait ran out (peer alive but silent)
  peer_closed,  ///< the other end closed or died; for recv: at a message boundary
  error,        ///< see Transport::error()
};
[[nodiscard]] std::string_view to_string(IoStatus s) noexcept;

/// Which end of a one-directional channel.
enum class Role : std::uint8_t { sender = 0, receiver = 1 };
[[nodiscard]] std::string_view to_string(Role r) noexcept;

/// How long a hybrid endpoint spins before it blocks: long enough to cover a busy peer's
/// next message, short enough that an idle endpoint soon stops burning its core.
inline constexpr std::int64_t kDefaultSpinNs = 50'000;
/// Smallest shm ring capacity: one page, so a frame header and a 64 B message always fit.
inline constexpr std::size_t kMinRingBytes = 4096;
/// Bounds of ChannelOptions::queue_messages and io_threads: far above what a channel
/// needs, low enough that a slip of the finger cannot ask a library for 10^12 messages of
/// queue or a thousand threads per end.
inline constexpr std::size_t kMaxQueueMessages = 1'000'000;
inline constexpr int kMaxIoThreads = 64;
/// Bound of ChannelOptions::receivers: a fan-out beyond this is not a channel but a fleet.
inline constexpr int kMaxReceivers = 1024;

/// Knobs a coordinator passes to create(). Zero means "the mechanism's default".
struct ChannelOptions {
  Wait wait = Wait::hybrid;
  std::int64_t spin_ns = kDefaultSpinNs;  ///< hybrid, eventfd: how long to spin before blocking
  /// shm ring bytes (power of two >= kMinRingBytes); bipc-mq total bytes; posix-mq total bytes
  /// (depth = capacity / chunk, at most fs.mqueue.msg_max); unix-seqpacket / unix-dgram: the
  /// sending socket's buffer (SO_SNDBUF as the kernel reports it, so 2 x what it is set to)
  std::size_t capacity_bytes = 0;
  std::size_t pipe_bytes = 0;            ///< F_SETPIPE_SZ for pipe; 0 keeps the kernel default
  std::size_t mq_msg_bytes = 0;          ///< bipc-mq / posix-mq maximum message size (chunk)
  /// zmq: ZMQ_SNDHWM and ZMQ_RCVHWM, the messages each end queues; nng: NNG_OPT_SENDBUF (and
  /// sub0's NNG_OPT_RECVBUF; pull0 has no receive queue), at most 8,192, which its preflight
  /// says. 0 = the library's default (zmq 1,000 per end; nng push0 unbuffered, pub0 16 per
  /// subscriber, sub0 128).
  std::size_t queue_messages = 0;
  /// zmq: the context's I/O threads (ZMQ_IO_THREADS); 0 = ZeroMQ's default of 1.
  int io_threads = 0;
  /// 0: one receiving end (every channel but a fan-out). N >= 2: N processes open the
  /// receiving end, each gets every message (publish/subscribe), and the sender's open
  /// waits until all N are there. Only Capabilities::fan_out_endpoint mechanisms take it.
  int receivers = 0;
  std::int64_t open_timeout_ms = 30'000; ///< how long open() waits for the peer to show up
  /// The object's name (shm, bipc-mq, posix-mq) or directory name (unix); empty = sys::unique_ipc_name().
  /// Tests set it to prove a mechanism fails closed when the name is taken.
  std::string name;
};

/// One end of a channel as plain data. Only the fields a mechanism needs are set.
struct ChannelSpec {
  std::string mechanism;
  std::string name;       ///< shm segment / queue name, or socket path (unix, zmq, nng)
  std::string token;      ///< random id; sockets check it so a stranger cannot connect
  int port = 0;           ///< tcp
  int fd = -1;            ///< inherited fd for this role (pipe end, listening socket, shm's eventfd)
  /// A second inherited fd for this role, kept open across exec like `fd` (unix-dgram: the
  /// liveness pipe, whose write end every sender holds and whose read end the receiver polls
  /// for the hang-up that a datagram socket never gives; zmq, nng: the receiver's liveness
  /// and ack pipe, `fd` being the senders' liveness pipe). -1: none.
  int aux_fd = -1;
  std::size_t capacity_bytes = 0;
  std::size_t msg_bytes = 0;
  std::size_t queue_messages = 0;  ///< ChannelOptions::queue_messages
  int io_threads = 0;              ///< ChannelOptions::io_threads
  int receivers = 0;               ///< ChannelOptions::receivers
  Wait wait = Wait::hybrid;
  std::int64_t spin_ns = 0;
  std::int64_t open_timeout_ms = 30'000;

  /// The inherited fds this end carries (fd, aux_fd; -1 where none): what a spawner keeps
  /// open across exec, and what a forked process playing the other end must close.
  [[nodiscard]] std::array<int, 2> inherited_fds() const noexcept { return {fd, aux_fd}; }
};

/// Flat text form for a command line or control message, and back (throws Error).
[[nodiscard]] std::string to_text(const ChannelSpec& s);
[[nodiscard]] ChannelSpec channel_spec_from_text(std::string_view text);

/// Which ChannelOptions buffer size a mechanism honours (the others it ignores).
enum class BufferKnob : std::uint8_t {
  none,           ///< the kernel's own buffers (socket buffers are left at their defaults)
  capacity_bytes, ///< ChannelOptions::capacity_bytes: the ring or queue it creates
  pipe_bytes,     ///< ChannelOptions::pipe_bytes: F_SETPIPE_SZ
  queue_messages, ///< ChannelOptions::queue_messages: a library's queue in messages
};

/// What a mechanism can do.
struct Capabilities {
  std::size_t max_msg_bytes = std::size_t{1} << 30;
  bool spin_wait = false;  ///< honours Wait::spin/block/hybrid/eventfd (otherwise always Wait::kernel)
  bool loan = false;       ///< loan()/peek() work in the channel's own memory (zero-copy)
  BufferKnob buffer = BufferKnob::none;
  /// With --ring-bytes 0, the runner sizes capacity_bytes to the cell (two frames of its
  /// largest message, within --ring-max-bytes and the free /dev/shm) instead of leaving the
  /// mechanism its own default. Only for a capacity_bytes knob.
  bool sized_per_cell = false;
  /// The channel's buffer (capacity_bytes, or the mechanism's default) is a file in
  /// /dev/shm: what a container's memory-backed /dev/shm must hold (runner/dev_shm.hpp).
  bool in_dev_shm = false;
  /// Several processes may open the same sending spec and send at once: each message
  /// arrives whole, never interleaved with another's, each sender's in its order, and the
  /// receiver sees peer_closed only after the last sender is gone. What a fan-in over one
  /// shared endpoint (Topology::connect_shared) needs; conformance checks it across processes.
  bool shared_sender = false;
  /// Honours ChannelOptions::io_threads (a library's own I/O threads per end).
  bool io_threads = false;
  /// Honours ChannelOptions::receivers: one sending end, N receiving ends, each of which
  /// gets every message in order (publish/subscribe, one send reaching all), and sees
  /// peer_closed once the sender closed. Such a channel is lossy: the sender never waits
  /// for a receiver that falls behind, whose queue drops what does not fit; the receivers
  /// see the gaps in the sequence, and the runner counts them. What a broadcast over one
  /// endpoint (Topology::connect_fan_out) needs.
  bool fan_out_endpoint = false;
};

/// A message in a channel's own memory: one contiguous piece, or two when it wraps around
/// the end of a ring. `second` is empty unless it wraps.
template <class Byte>
struct Pieces {
  std::span<Byte> first, second;
  [[nodiscard]] std::size_t size() const noexcept { return first.size() + second.size(); }
  /// Copies `src` to byte offset `off` of the message, across the wrap if it straddles it.
  void write(std::size_t off, std::span<const std::byte> src) const noexcept
    requires(!std::is_const_v<Byte>)
  {
    std::size_t n = src.size();
    const std::byte* p = src.data();
    if (off < first.size()) {
      const std::size_t k = std::min(n, first.size() - off);
      if (k) std::memcpy(first.data() + off, p, k);
      p += k;
      n -= k;
      off = first.size();
    }
    if (n) std::memcpy(second.data() + (off - first.size()), p, n);
  }
  /// Copies n bytes from byte offset `off` of the message into dst.
  void read(std::size_t off, std::byte* dst, std::size_t n) const noexcept {
    if (off < first.size()) {
      const std::size_t k = std::min(n, first.size() - off);
      if (k) std::memcpy(dst, first.data() + off, k);
      dst += k;
      n -= k;
      off = first.size();
    }
    if (n) std::memcpy(dst, second.data() + (off - first.size()), n);
  }
};
using LoanedSpace = Pieces<std::byte>;         ///< where a sender writes a loaned message
using MessageView = Pieces<const std::byte>;  ///< a received message, in place

/// A message to send as two pieces back to back (an envelope, then a body), gathered by the
/// mechanism without staging them in one buffer first.
struct GatherMessage {
  std::span<const std::byte> head, body;
  [[nodiscard]] std::size_t size() const noexcept { return head.size() + body.size(); }
};

/// A coordinator's handle on a created channel: owns names and its copies of fds.
class Channel {
 public:
  virtual ~Channel() = default;
  /// The spec for one end; the fd in it (if any) stays owned by the Channel.
  [[nodiscard]] virtual ChannelSpec spec(Role role) const = 0;
  /// Like spec(), but hands the fd over: the caller (open()) now owns it. For opening
  /// both ends in this process.
  [[nodiscard]] virtual ChannelSpec take(Role role) = 0;
  /// Closes the coordinator's copies of fds once children inherited them, so a peer's
  /// death is seen as EOF / EPIPE. Names stay until destruction.
  virtual void close_local_fds() noexcept = 0;
};

/// One open end. Not thread-safe: one thread per end.
class Transport {
 public:
  virtual ~Transport() = default;
  /// Sends one whole message; blocks while the channel is full.
  [[nodiscard]] virtual IoStatus send(std::span<const std::byte> msg) noexcept = 0;
  /// Sends several messages, coalesced into as few writes / publishes as the mechanism
  /// allows (the --batch dimension). The default sends them one by one.
  [[nodiscard]] virtual IoStatus send_batch(std::span<const std::span<const std::byte>> msgs) noexcept;
  /// Sends messages made of two pieces each, coalesced like send_batch(), without staging
  /// the pieces in a buffer of the caller's (one writev for streams; copied straight into a
  /// ring). The default copies each into a staging buffer of the transport and calls send().
  [[nodiscard]] virtual IoStatus send_gather(std::span<const GatherMessage> msgs) noexcept;
  /// Receives one whole message into buf and sets len. A message larger than buf is an
  /// error (message_size); the channel is unusable afterwards.
  [[nodiscard]] virtual IoStatus recv(std::span<std::byte> buf, std::size_t& len) noexcept = 0;

  /// Zero-copy send (Capabilities::loan): room for a message of `len` bytes in the channel's
  /// own memory, waiting for it like send(). Write the whole message into `space`, then
  /// commit(). Between loan() and commit() no other call may be made on this end. A message
  /// the mechanism cannot lend in one piece (larger than a ring) fails with message_size:
  /// send it with send()/send_gather() instead. The default fails with not_supported.
  [[nodiscard]] virtual IoStatus loan(std::size_t len, LoanedSpace& space) noexcept;
  /// Hands the loaned message to the receiver; publish=false defers making it visible
  /// until a later commit(publish=true) (batching).
  [[nodiscard]] virtual IoStatus commit(bool publish) noexcept;
  /// Makes every message committed with publish=false visible. The default does nothing.
  [[nodiscard]] virtual IoStatus publish() noexcept { return IoStatus::ok; }
  /// Zero-copy receive (Capabilities::loan): the next whole message, in place, valid until
  /// release(), which must come before the next peek() or recv(). Messages that cannot be
  /// shown in place (streamed through a ring smaller than them) are copied into a buffer
  /// of the transport; the view is the same. The default fails with not_supported.
  [[nodiscard]] virtual IoStatus peek(MessageView& msg) noexcept;
  /// Gives the space of the message returned by peek() back to the sender.
  virtual void release() noexcept {}
  /// A receiving end's fd that poll/epoll/Asio can wait on: readable once a message (or
  /// part of one) is waiting in the kernel. Bytes this end already read ahead are not in
  /// the kernel, so an event loop calls recv() until it would wait before polling again.
  /// -1 where the mechanism has none (SemanticsCard::pollable says which). For shm it is the
  /// ring's eventfd with --wait eventfd (-1 otherwise), which must be re-armed: see try_recv().
  [[nodiscard]] virtual int poll_fd() noexcept { return -1; }
  /// For an event loop: one whole message if one is ready, else would_block at once. Call it
  /// after poll_fd() became readable until it returns would_block; on shm with --wait eventfd
  /// that call also re-arms the eventfd, so it becomes readable when the next message is
  /// published (without it, the fd stays quiet). peer_closed once the sender closed and
  /// everything it sent was read. The default fails with operation_not_supported: the
  /// kernel mechanisms' recv() after a readable poll is their event-loop path.
  [[nodiscard]] virtual IoStatus try_recv(std::span<std::byte> buf, std::size_t& len) noexcept;
  /// The error behind the last IoStatus::error.
  [[nodiscard]] std::error_code error() const noexcept { return error_; }

 protected:
  IoStatus fail(std::error_code ec) noexcept {
    error_ = ec;
    return IoStatus::error;
  }
  IoStatus fail_errno(int e) noexcept { return fail(std::error_code(e, std::generic_category())); }
  std::error_code error_;
  std::vector<std::byte> gather_stage_;  ///< the default send_gather()'s staging buffer
};

/// The largest message a mechanism can send in this process now, what sets that bound and
/// how to lift it, as clauses for a warning.
struct MessageLimit {
  std::size_t bytes = 0;
  std::string source;  ///< what sets it: "2 x net.core.wmem_max = 2 x 212992 B, ..."; empty: caps
  /// How to carry the message asked about: "raise it with sysctl -w net.core.wmem_max=524320
  /// ...", or why nothing can; empty when it fits or none was asked about.
  std::string remedy;
};

/// A registered mechanism. Adding one is a file defining `extern const TransportSpec kX`
/// plus one line in src/transport/registry.cpp.
struct TransportSpec {
  std::string_view name;
  std::string_view description;
  Capabilities caps;
  std::unique_ptr<Channel> (*create)(const ChannelOptions& opts);
  std::unique_ptr<Transport> (*open)(const ChannelSpec& spec, Role role);
  /// What the kernel would refuse for these options (a pipe size over the system's limit, a
  /// socket path too long), as a sentence naming the value and the limit; empty when fine.
  /// The runner asks before spawning anything. nullptr: nothing to check.
  std::string (*preflight)(const ChannelOptions& opts) = nullptr;
  /// What deploying it means beyond speed (model/semantics.hpp). max_message_bytes and
  /// shared_sender are left unset here: semantics_of() fills them from message_limit and
  /// caps, so they cannot disagree.
  SemanticsCard semantics = {};
  /// The largest message this process can send right now, from the kernel's limits read at
  /// call time (unix-seqpacket, unix-dgram: 2 x net.core.wmem_max, unlimited up to the
  /// kernel's largest datagram where SO_SNDBUFFORCE is permitted, i.e. CAP_NET_ADMIN);
  /// `wanted_bytes` only shapes `remedy` (0: none asked). The runner plans no cell whose
  /// messages exceed it and says so in the run's warnings. nullptr: the limit is
  /// caps.max_msg_bytes, whoever runs it.
  MessageLimit (*message_limit)(std::size_t wanted_bytes) = nullptr;
  /// Shrinks opts so that `channels` such channels, created together for one cell, fit the
  /// limits they share (posix-mq: the user's RLIMIT_MSGQUEUE, of which a cell takes at most
  /// half, leaving room for a second run). The runner calls it before create(), so the
  /// options a cell records are the ones it ran with. nullptr: nothing shared to divide.
  void (*fit)(ChannelOptions& opts, std::size_t channels) = nullptr;
};

/// t's semantics card, with max_message_bytes from message_limit_of(t).
[[nodiscard]] SemanticsCard semantics_of(const TransportSpec& t);

/// The largest message t can send in this process now: t.message_limit(wanted_bytes), or
/// caps.max_msg_bytes (no source, no remedy) where t has no such hook.
[[nodiscard]] MessageLimit message_limit_of(const TransportSpec& t, std::size_t wanted_bytes = 0);

/// Every mechanism, in a fixed order (pipe, unix, shm, tcp, bipc-mq, posix-mq,
/// unix-seqpacket, unix-dgram, memfd, zmq, nng, iceoryx).
[[nodiscard]] const std::vector<const TransportSpec*>& all_transports();
/// By name; throws Error naming the valid choices.
[[nodiscard]] const TransportSpec& find_transport(std::string_view name);

/// Convenience: create + open both ends in this process (tests, benchmarks, threads).
struct LocalPair {
  std::unique_ptr<Channel> channel;
  std::unique_ptr<Transport> sender;
  std::unique_ptr<Transport> receiver;
};
/// Opens the receiver on a helper thread where the mechanism's open blocks for its peer.
[[nodiscard]] LocalPair open_local_pair(const TransportSpec& t, const ChannelOptions& opts = {});

}  // namespace ipcmatrix
