// `zmq`: ZeroMQ (libzmq 4.3 through cppzmq) PUSH -> PULL over ipc://, the socket file in a
// private 0700 directory. library_transport.hpp has the protocol the two library mechanisms
// share: liveness pipes for the end-of-file ZeroMQ does not give, and an acked end marker,
// without which ZeroMQ over ipc:// loses the tail of a stream to a slow receiver.
//
// Socket types: PUSH/PULL, and XPUB/SUB for a fan-out channel (ChannelSpec::receivers, the
// broadcast-shared pattern: one publish reaches every subscriber; a subscriber's queue at
// its high-water mark drops, as ZeroMQ documents for PUB). A PUSH socket blocks at its
// high-water mark (back-pressure, nothing dropped), and a PULL socket fair-queues any
// number of connected PUSH sockets, so a fan-in over one endpoint needs nothing new. Not
// PAIR: it is exclusive (one peer, a second connect is refused) and ZeroMQ describes it for
// inproc, not for processes that reconnect. Not DEALER/ROUTER: two-way, but every message
// grows an identity frame.
//
// Settings (the card records them): one context per end, with ZeroMQ's one I/O thread
// (ZMQ_IO_THREADS) plus its reaper thread unless ChannelOptions::io_threads (--io-threads)
// asks for more; high-water marks of 1,000 messages at each end (ZMQ_SNDHWM, ZMQ_RCVHWM:
// ZeroMQ's defaults, so a channel buffers up to about 2,000 messages plus the kernel's
// socket buffers, 2 GiB of 1 MiB messages; a lower mark cost about 40% of a 64 B stream
// here) unless ChannelOptions::queue_messages (--queue-messages) sets both, the cell
// recording what it ran with; ZMQ_IMMEDIATE 1 (a send
// waits for a completed connection, and a dead receiver's queue is dropped rather than kept
// for a reconnection); reconnection every 10 ms while nobody has bound; ZMQ_MAXMSGSIZE left
// unlimited (the sender refuses more than 1 GiB).
//
// Hot path: zmq_send from the caller's buffer (ZeroMQ copies it into a message it
// allocates: one malloc per message above 33 bytes, which the library does not let a caller
// avoid without giving up the buffer) and zmq_recv into the caller's buffer, whose return
// value is the message's real length: longer than the buffer is message_size. An end marker
// is a two-part message (an empty frame, then the 8-byte token), which a user message never
// is: every receive asks ZMQ_RCVMORE, a flag read without a syscall. send_gather() builds one zmq_msg_t from
// the two pieces (zmq_send would copy a staged buffer once more).
//
// Pollable: poll_fd() is an epoll set of ZMQ_FD and the senders' liveness pipe. ZMQ_FD is
// edge-triggered: it signals that the socket's state changed, not that a message waits, and
// it is re-armed only by a call that finds nothing (ZeroMQ's rule: read ZMQ_EVENTS until it
// is 0; a zmq_recv that answers EAGAIN has processed the same commands), so an event loop
// calls try_recv() until would_block after each wake-up.
#include <algorithm>
#include <cstring>
#include <zmq.hpp>

#include "ipcmatrix/error.hpp"
#include "library_transport.hpp"

namespace ipcmatrix {
namespace {

constexpr int kDefaultHighWaterMark = 1000;  // ZeroMQ's default, at each end
constexpr int kDefaultIoThreads = 1;         // ZeroMQ's default

class ZmqCategory final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "zmq"; }
  [[nodiscard]] std::string message(int e) const override { return zmq_strerror(e); }
  [[nodiscard]] std::error_condition default_error_condition(int e) const noexcept override {
    return std::generic_category().default_error_condition(e);
  }
};

std::error_code zmq_code(int e) noexcept {
  static const ZmqCategory kCategory;
  return {e, kCategory};
}

/// One end's ZeroMQ objects: a context of its own (one I/O thread) and one socket.
class ZmqEnd {
 public:
  static constexpr std::string_view kName = "zmq";
  static constexpr bool kReceiverClosesLast = false;  // zmq_close() never waits (linger 0)
  // ChannelOptions' bounds (kMaxQueueMessages, kMaxIoThreads) are within what ZeroMQ takes.
  static std::string check_options(const ChannelOptions&) { return {}; }
  ZmqEnd(const ChannelSpec& s, Role r) try
      : ctx_(s.io_threads > 0 ? s.io_threads : kDefaultIoThreads), sock_(ctx_, type_of(r, s.receivers >= 2)) {
    const std::string endpoint = "ipc://" + s.name;
    const int hwm =
        s.queue_messages > 0 ? static_cast<int>(std::min(s.queue_messages, kMaxQueueMessages)) : kDefaultHighWaterMark;
    sock_.set(zmq::sockopt::linger, 0);  // closed only once nothing is left to deliver
    if (s.receivers >= 2) {
      // Publish/subscribe (a fan-out channel): the XPUB binds, so any number of SUBs
      // connect to the one path, and hands this end each subscription (verbose: every one,
      // also a repeated "everything"), which subscribers() counts.
      if (r == Role::sender) {
        sock_.set(zmq::sockopt::sndhwm, hwm);
        sock_.set(zmq::sockopt::xpub_verbose, true);
        sock_.bind(endpoint);
      } else {
        sock_.set(zmq::sockopt::rcvhwm, hwm);
        sock_.set(zmq::sockopt::rcvtimeo, static_cast<int>(detail::kLibraryWaitSliceMs));
        sock_.set(zmq::sockopt::reconnect_ivl, static_cast<int>(detail::kLibraryReconnectMs));
        sock_.set(zmq::sockopt::subscribe, "");
        sock_.connect(endpoint);
      }
      return;
    }
    if (r == Role::sender) {
      sock_.set(zmq::sockopt::sndhwm, hwm);
      sock_.set(zmq::sockopt::sndtimeo, static_cast<int>(detail::kLibraryWaitSliceMs));
      sock_.set(zmq::sockopt::immediate, true);
      sock_.set(zmq::sockopt::reconnect_ivl, static_cast<int>(detail::kLibraryReconnectMs));
      sock_.connect(endpoint);
    } else {
      sock_.set(zmq::sockopt::rcvhwm, hwm);
      sock_.set(zmq::sockopt::rcvtimeo, static_cast<int>(detail::kLibraryWaitSliceMs));
      sock_.bind(endpoint);
    }
  } catch (const zmq::error_t& e) {
    throw Error(zmq_code(e.num()), kName, s.name, std::string("setting up the socket: ") + e.what());
  }
  ZmqEnd(const ZmqEnd&) = delete;
  ZmqEnd& operator=(const ZmqEnd&) = delete;
  ~ZmqEnd() { close(); }

  detail::LibStatus send(std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
    if (b.empty()) return sent(zmq_send(sock_.handle(), a.data(), a.size(), 0));
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, a.size() + b.size()) != 0) return failed(zmq_errno());
    auto* p = static_cast<std::byte*>(zmq_msg_data(&m));
    if (!a.empty()) std::memcpy(p, a.data(), a.size());
    std::memcpy(p + a.size(), b.data(), b.size());
    detail::LibStatus st;
    do {
      st = sent(zmq_msg_send(&m, sock_.handle(), 0));
    } while (st == detail::LibStatus::again && zmq_errno() == EINTR);
    zmq_msg_close(&m);  // empty after a send; frees the copy after a slice with no room
    return st;
  }

  // An empty frame, then the token. Once the first is queued the second is too: ZeroMQ
  // counts a high-water mark in whole messages, so it never stops one halfway. (Were it to,
  // the retry would make the marker one frame longer, and the receiver takes every frame.)
  detail::LibStatus send_end_marker(std::uint64_t token) noexcept {
    const detail::LibStatus st = sent(zmq_send(sock_.handle(), nullptr, 0, ZMQ_SNDMORE));
    if (st != detail::LibStatus::ok) return st;
    int rc;
    do {
      rc = zmq_send(sock_.handle(), &token, sizeof token, 0);
    } while (rc < 0 && zmq_errno() == EINTR);
    return sent(rc);
  }
  [[nodiscard]] std::uint64_t marker_token() const noexcept { return token_; }

  detail::LibStatus recv(std::span<std::byte> buf, std::size_t& len, bool wait) noexcept {
    for (;;) {
      const int n = zmq_recv(sock_.handle(), buf.data(), buf.size(), wait ? 0 : ZMQ_DONTWAIT);
      if (n < 0) {
        const int e = zmq_errno();
        if (e == EINTR) continue;
        return e == EAGAIN ? detail::LibStatus::again : failed(e);
      }
      if (more()) {
        // The end marker: its token frame is queued already (multipart messages arrive
        // whole); a longer marker is not from an ipc-matrix sender, and is taken whole.
        token_ = 0;
        while (zmq_recv(sock_.handle(), &token_, sizeof token_, ZMQ_DONTWAIT) >= 0 && more()) {
        }
        return detail::LibStatus::end_marker;
      }
      // zmq_recv returns the message's length, also when it copied only buf.size() bytes.
      if (static_cast<std::size_t>(n) > buf.size()) return detail::LibStatus::too_large;
      len = static_cast<std::size_t>(n);
      return detail::LibStatus::ok;
    }
  }

  int poll_fd() noexcept {
    int fd = -1;
    std::size_t n = sizeof fd;
    return zmq_getsockopt(sock_.handle(), ZMQ_FD, &fd, &n) == 0 ? fd : -1;
  }
  // ZeroMQ's listener copes with a peer that goes away mid-handshake: nothing to wait for.
  static bool connected() noexcept { return true; }
  // The subscriptions the XPUB has handed over so far (first byte 1: subscribe; 0, an
  // unsubscription at a SUB's close, is not a new subscriber). Events, not live peers: a
  // SUB that reconnected before the first send would count twice; over ipc:// to a bound
  // socket in a directory of the run's own nothing reconnects before the start.
  int subscribers() noexcept {
    unsigned char first = 0;
    while (zmq_recv(sock_.handle(), &first, 1, ZMQ_DONTWAIT) >= 0)
      if (first == 1) ++subscribers_;
    return subscribers_;
  }
  [[nodiscard]] std::error_code error() const noexcept { return error_; }
  void close() noexcept {
    sock_.close();
    ctx_.close();  // zmq_ctx_term: joins the I/O thread; linger 0, so it does not wait
  }

 private:
  static zmq::socket_type type_of(Role r, bool fan_out) noexcept {
    if (fan_out) return r == Role::sender ? zmq::socket_type::xpub : zmq::socket_type::sub;
    return r == Role::sender ? zmq::socket_type::push : zmq::socket_type::pull;
  }
  bool more() noexcept {
    int more = 0;
    std::size_t n = sizeof more;
    return zmq_getsockopt(sock_.handle(), ZMQ_RCVMORE, &more, &n) == 0 && more != 0;
  }
  // EAGAIN: the send timeout (one slice) ran out with no room or no connection; EINTR too
  // is "again": the caller's loop retries.
  detail::LibStatus sent(int rc) noexcept {
    if (rc >= 0) return detail::LibStatus::ok;
    const int e = zmq_errno();
    return e == EAGAIN || e == EINTR ? detail::LibStatus::again : failed(e);
  }
  detail::LibStatus failed(int e) noexcept {
    error_ = zmq_code(e);
    return detail::LibStatus::error;
  }

  zmq::context_t ctx_;
  zmq::socket_t sock_;
  std::error_code error_;
  std::uint64_t token_ = 0;  ///< the last end marker's
  int subscribers_ = 0;      ///< fan-out sender: subscriptions seen
};

using Hooks = detail::LibraryHooks<ZmqEnd>;

}  // namespace

extern const TransportSpec kZmqTransport{
    "zmq",
    "ZeroMQ (libzmq 4.3, cppzmq) PUSH -> PULL over ipc:// in a private 0700 directory; high-water marks of 1,000 "
    "messages at each end and one I/O thread per end unless --queue-messages / --io-threads say otherwise; "
    "liveness pipes and an acked end marker for the end-of-file it lacks",
    Capabilities{.max_msg_bytes = detail::kLibraryMaxMessageBytes,
                 .buffer = BufferKnob::queue_messages,
                 .shared_sender = true,
                 .io_threads = true,
                 .fan_out_endpoint = true},
    &Hooks::create,
    &Hooks::open,
    &Hooks::preflight,
    detail::library_card({
        .library = "ZeroMQ",
        .poll_note = "poll_fd() is an epoll set of ZMQ_FD and the senders' liveness pipe (so a sender's death "
                     "wakes it too). ZMQ_FD is edge-triggered: it signals a change of the socket's state, not a "
                     "waiting message, and re-arms only when a receive finds nothing, so after each wake-up call "
                     "try_recv() until would_block (ZeroMQ's rule: read ZMQ_EVENTS until it is 0)",
        .close_reason = "ZeroMQ over ipc:// drops a stream's tail when the sender disconnects while the receiver's "
                        "queue is full",
        .auth = "no token: ZeroMQ authenticates ipc peers only with ZAP/CURVE",
        .limits = "up to 1,000 messages queued at each end (ZMQ_SNDHWM, ZMQ_RCVHWM; --queue-messages sets both) "
                  "plus the kernel's socket buffers: about 2 GiB of 1 MiB messages per channel; one malloc per "
                  "message above 33 bytes; two threads per end (I/O and reaper; --io-threads sets the I/O threads)",
    })};

}  // namespace ipcmatrix
