// `nng`: nng (1.5, the C API) push0 -> pull0 over ipc://, the socket file in a private 0700
// directory. library_transport.hpp has the protocol the two library mechanisms share:
// liveness pipes for the end-of-file nng does not give, and an acked end marker, because
// nng_close() does not wait for what is still being written (nng 1.x has no linger).
//
// Socket types: push0/pull0, for the reasons zmq gives (back-pressure at the sender, any
// number of senders fair-queued), and pub0/sub0 for a fan-out channel (ChannelSpec::
// receivers: one publish reaches every subscriber, a full subscriber pipe drops).
// Settings: push0's send buffer left at nng's 0 (unbuffered: a send waits until the
// connection has finished writing the previous message, so the only buffers are the
// kernel's socket buffers and one message held by pull0 for the application) unless
// ChannelOptions::queue_messages (--queue-messages, 1..8,192: nng's range) sets it (pull0
// has no receive queue; pub0's per-subscriber queue and sub0's receive queue take it too);
// NNG_OPT_RECVMAXSZ raised from nng's 1 MiB to the
// mechanism's 1 GiB (+1 for the kind byte); reconnection every 10 ms while nobody has bound.
//
// Framing: nng has no multipart messages, so every message starts with one kind byte
// (data, or the end marker, whose 8-byte token follows). That costs nothing nng does not
// spend anyway: nng_send() copies the caller's bytes into a message it allocates, and here
// the byte and the caller's pieces go into that one allocation (nng_msg_alloc,
// nng_sendmsg); nng_recv() copies a received message out of nng's own allocation, and here
// nng_recvmsg() and one copy into the caller's buffer do the same past the kind byte. A
// message longer than the buffer is message_size (nng_recv would truncate it silently). So
// nng allocates once per message at each end, as it does for any user of it.
//
// A sender that sent nothing still waits, when it closes, until its connection's handshake
// is over (or the receiver is gone): nng 1.5's listener takes no more connections after a
// dialer closed mid-handshake (see connected()).
//
// nng keeps process-wide state (its thread pool, started on first use) that fork() does not
// carry: a process forked from one that used nng must not use it (nng aborts, "nng is not
// fork-reentrant safe"). ipc-matrix's workers are forked by its zygote (runner/zygote.hpp),
// an exec'd process that never opens a channel, or exec'd, so they start fresh; open()
// refuses with an Error in a forked child of a process that opened an nng channel.
//
// Pollable: poll_fd() is an epoll set of NNG_OPT_RECVFD (an fd nng keeps readable while
// pull0 holds a message: level-triggered; nobody reads or writes it) and the senders'
// liveness pipe. An end marker also makes it readable: try_recv() takes it and answers
// would_block, or peer_closed once the senders are gone.
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "ipcmatrix/error.hpp"
#include "library_transport.hpp"

namespace ipcmatrix {
namespace {

constexpr std::string_view kName = "nng";  // the mechanism (NngEnd::kName)
constexpr std::byte kData{0};
constexpr std::byte kEndMarker{1};
constexpr auto kSliceMs = static_cast<nng_duration>(detail::kLibraryWaitSliceMs);
constexpr auto kReconnectMs = static_cast<nng_duration>(detail::kLibraryReconnectMs);
/// How long a close may take before it is taken to be nng 1.5's deadlock (close_bounded()).
constexpr std::chrono::milliseconds kCloseLimit{500};
/// NNG_OPT_SENDBUF and NNG_OPT_RECVBUF take 0..8192 messages.
constexpr std::size_t kNngMaxQueue = 8192;

class NngCategory final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "nng"; }
  [[nodiscard]] std::string message(int e) const override { return nng_strerror(e); }
};

std::error_code nng_code(int e) noexcept {
  static const NngCategory kCategory;
  return {e, kCategory};
}

/// Refuses (Error) use of nng in a process forked from one that had used it.
void require_not_forked(const ChannelSpec& s) {
  static std::atomic<int> user{0};  // the pid of the first process that opened nng here
  int first = 0;
  const int self = sys::current_pid();
  if (user.compare_exchange_strong(first, self) || first == self) return;
  throw Error(std::make_error_code(std::errc::operation_not_permitted), kName, s.name,
              "this process was forked from one that had used nng (pid " + std::to_string(first) +
                  "), and nng's process-wide state does not survive fork: open nng channels in a process that "
                  "was exec'd, or that forked before using nng");
}

/// One end's nng socket.
class NngEnd {
  struct Shared;

 public:
  static constexpr std::string_view kName = ipcmatrix::kName;
  // nng 1.5's nng_close() of a pull0 socket can wait for good when a message is being
  // written to it during the close (reproduced: 12 runs in 450 of the conformance ping-pong
  // under load, the closing receiver stuck in nng_close and its peer waiting for the ack of
  // an end marker sent as the receiver closed; nng issues #1219 and #1543). So a receiver
  // closed before its senders first sends them away (library_transport.hpp).
  static constexpr bool kReceiverClosesLast = true;
  static std::string check_options(const ChannelOptions& o) {
    if (o.queue_messages <= kNngMaxQueue) return {};
    return "nng queues at most " + std::to_string(kNngMaxQueue) + " messages per socket (NNG_OPT_SENDBUF, " +
           "NNG_OPT_RECVBUF), --queue-messages asks for " + std::to_string(o.queue_messages);
  }
  NngEnd(const ChannelSpec& s, Role r) {
    require_not_forked(s);
    const std::string url = "ipc://" + s.name;
    const bool fan_out = s.receivers >= 2;
    if (fan_out) {
      check(r == Role::sender ? nng_pub0_open(&sock_) : nng_sub0_open(&sock_), "open", s);
    } else {
      check(r == Role::sender ? nng_push0_open(&sock_) : nng_pull0_open(&sock_), "open", s);
    }
    open_ = true;
    try {
      if (fan_out) {
        open_fan_out(s, r, url);
      } else if (r == Role::sender) {
        check(nng_socket_set_ms(sock_, NNG_OPT_SENDTIMEO, kSliceMs), "set send timeout", s);
        if (s.queue_messages > 0) check(nng_socket_set_int(sock_, NNG_OPT_SENDBUF, queue_of(s)), "set send buffer", s);
        check(nng_socket_set_ms(sock_, NNG_OPT_RECONNMINT, kReconnectMs), "set reconnect time", s);
        check(nng_socket_set_ms(sock_, NNG_OPT_RECONNMAXT, kReconnectMs), "set reconnect time", s);
        check(nng_pipe_notify(sock_, NNG_PIPE_EV_ADD_POST, &NngEnd::on_connected, &shared_->connected), "notify", s);
        // NONBLOCK: the first attempt runs in the background and is retried until the
        // receiver has bound, so the sender may open first.
        check(nng_dial(sock_, url.c_str(), nullptr, NNG_FLAG_NONBLOCK), "dial", s);
      } else {
        // No NNG_OPT_RECVBUF: pull0 keeps no receive queue of its own (nng 1.5 accepts the
        // option on the socket and never uses it), so the queue is the sender's alone.
        check(nng_socket_set_ms(sock_, NNG_OPT_RECVTIMEO, kSliceMs), "set receive timeout", s);
        check(nng_socket_set_size(sock_, NNG_OPT_RECVMAXSZ, detail::kLibraryMaxMessageBytes + 1), "set size", s);
        check(nng_listen(sock_, url.c_str(), nullptr, 0), "listen", s);
      }
    } catch (...) {
      close();
      throw;
    }
  }
  NngEnd(const NngEnd&) = delete;
  NngEnd& operator=(const NngEnd&) = delete;
  ~NngEnd() { close(); }

  detail::LibStatus send(std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
    return put(kData, a, b);
  }
  detail::LibStatus send_end_marker(std::uint64_t token) noexcept {
    return put(kEndMarker, std::as_bytes(std::span(&token, 1)), {});
  }
  [[nodiscard]] std::uint64_t marker_token() const noexcept { return token_; }

  detail::LibStatus recv(std::span<std::byte> buf, std::size_t& len, bool wait) noexcept {
    nng_msg* m = nullptr;
    const int rv = nng_recvmsg(sock_, &m, wait ? 0 : NNG_FLAG_NONBLOCK);
    if (rv == NNG_ETIMEDOUT || rv == NNG_EAGAIN) return detail::LibStatus::again;
    if (rv != 0) return failed(nng_code(rv));
    const std::size_t n = nng_msg_len(m);
    const auto* body = static_cast<const std::byte*>(nng_msg_body(m));
    detail::LibStatus st = detail::LibStatus::ok;
    if (n == 0 || (body[0] != kData && body[0] != kEndMarker)) {
      st = failed(std::make_error_code(std::errc::bad_message));  // not from an ipc-matrix sender
    } else if (body[0] == kEndMarker) {
      token_ = 0;
      if (n == 1 + sizeof token_) std::memcpy(&token_, body + 1, sizeof token_);
      st = detail::LibStatus::end_marker;
    } else if (n - 1 > buf.size()) {
      st = detail::LibStatus::too_large;
    } else {
      if (n > 1) std::memcpy(buf.data(), body + 1, n - 1);
      len = n - 1;
    }
    nng_msg_free(m);
    return st;
  }

  int poll_fd() noexcept {
    int fd = -1;
    return nng_socket_get_int(sock_, NNG_OPT_RECVFD, &fd) == 0 ? fd : -1;
  }
  [[nodiscard]] std::error_code error() const noexcept { return error_; }
  void close() noexcept {
    if (!open_) return;
    open_ = false;
    close_bounded(sock_, shared_);
  }
  // nng 1.5's listener stops taking connections once a dialer has closed in the middle of
  // the handshake: every later sender's connection then opens and takes its messages, which
  // nobody ever reads (reproduced: 5-8 runs in 40 of "a sender opens and closes at once,
  // then another sends", none when the first waited for its pipe). So a sender closes only
  // once its pipe was added, i.e. the handshake is over.
  [[nodiscard]] bool connected() const noexcept { return shared_->connected.load(std::memory_order_acquire); }
  // Fan-out sender: the subscribers' pipes connected now (on_subscribers()).
  [[nodiscard]] int subscribers() const noexcept { return shared_->subscribers.load(std::memory_order_acquire); }

 private:
  // Publish/subscribe (a fan-out channel): pub0 listens, so every sub0 dials the one path;
  // pub0 sends each message to every connected pipe, and a pipe whose queue is full loses
  // it (nng's pub0 never waits). sub0 filters locally, so a connected pipe is a subscriber:
  // subscribers() counts the pipes connected.
  void open_fan_out(const ChannelSpec& s, Role r, const std::string& url) {
    if (r == Role::sender) {
      if (s.queue_messages > 0) check(nng_socket_set_int(sock_, NNG_OPT_SENDBUF, queue_of(s)), "set send buffer", s);
      check(nng_pipe_notify(sock_, NNG_PIPE_EV_ADD_POST, &NngEnd::on_subscribers, &shared_->subscribers), "notify", s);
      check(nng_pipe_notify(sock_, NNG_PIPE_EV_REM_POST, &NngEnd::on_subscribers, &shared_->subscribers), "notify", s);
      check(nng_listen(sock_, url.c_str(), nullptr, 0), "listen", s);
      return;
    }
    check(nng_socket_set(sock_, NNG_OPT_SUB_SUBSCRIBE, "", 0), "subscribe", s);
    check(nng_socket_set_ms(sock_, NNG_OPT_RECVTIMEO, kSliceMs), "set receive timeout", s);
    check(nng_socket_set_size(sock_, NNG_OPT_RECVMAXSZ, detail::kLibraryMaxMessageBytes + 1), "set size", s);
    if (s.queue_messages > 0) check(nng_socket_set_int(sock_, NNG_OPT_RECVBUF, queue_of(s)), "set receive buffer", s);
    check(nng_socket_set_ms(sock_, NNG_OPT_RECONNMINT, kReconnectMs), "set reconnect time", s);
    check(nng_socket_set_ms(sock_, NNG_OPT_RECONNMAXT, kReconnectMs), "set reconnect time", s);
    check(nng_dial(sock_, url.c_str(), nullptr, NNG_FLAG_NONBLOCK), "dial", s);
  }

  static int queue_of(const ChannelSpec& s) noexcept {
    return static_cast<int>(std::min(s.queue_messages, kNngMaxQueue));
  }
  static void check(int rv, const char* what, const ChannelSpec& s) {
    if (rv != 0) throw Error(nng_code(rv), kName, s.name, std::string(what) + ": " + nng_strerror(rv));
  }

  // One message: the kind byte, then a ++ b, in the one allocation nng would make anyway.
  detail::LibStatus put(std::byte kind, std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
    nng_msg* m = nullptr;
    if (const int rv = nng_msg_alloc(&m, 1 + a.size() + b.size()); rv != 0) return failed(nng_code(rv));
    auto* p = static_cast<std::byte*>(nng_msg_body(m));
    p[0] = kind;
    if (!a.empty()) std::memcpy(p + 1, a.data(), a.size());
    if (!b.empty()) std::memcpy(p + 1 + a.size(), b.data(), b.size());
    const int rv = nng_sendmsg(sock_, m, 0);  // on success nng owns m
    if (rv == 0) return detail::LibStatus::ok;
    nng_msg_free(m);
    // NNG_ETIMEDOUT: one slice with no room (the previous message still being written) or no
    // connection yet.
    return rv == NNG_ETIMEDOUT || rv == NNG_EAGAIN ? detail::LibStatus::again : failed(nng_code(rv));
  }
  detail::LibStatus failed(std::error_code ec) noexcept {
    error_ = ec;
    return detail::LibStatus::error;
  }

  // nng 1.5's nng_close() can wait for good, in its reaper, on a pipe task that was
  // prepared and never started (nng issue #1543, fixed after 1.5.2): reproduced here in a
  // receiver closed as its peer hung up, 3 runs in about 240 of the conformance ping-pong
  // under load even after kReceiverClosesLast, and a stuck reaper then holds every later close in
  // the process. So the close runs on a thread of its own and is waited for a bounded time;
  // one still stuck then is left to the process's exit (nng registers nothing that runs at
  // exit), holding the shared state its pipe callback may still write.
  static void close_bounded(nng_socket sock, const std::shared_ptr<Shared>& shared) noexcept {
    std::thread closer;
    try {
      closer = std::thread([sock, shared] {
        nng_close(sock);
        const std::lock_guard lock(shared->m);
        shared->closed = true;
        shared->cv.notify_one();
      });
    } catch (...) {
      nng_close(sock);  // no thread to be had: close here, unbounded
      return;
    }
    bool closed = false;
    try {
      std::unique_lock lock(shared->m);
      closed = shared->cv.wait_for(lock, kCloseLimit, [&] { return shared->closed; });
    } catch (...) {  // a lock that failed: the closer is left to finish on its own
    }
    if (closed) {
      closer.join();
    } else {
      closer.detach();
    }
  }

  // On one of nng's threads once a connection's handshake is done.
  static void on_connected(nng_pipe, nng_pipe_ev, void* flag) {
    // release: pairs with the acquire in connected()
    static_cast<std::atomic<bool>*>(flag)->store(true, std::memory_order_release);
  }

  // On one of nng's threads for each pipe a fan-out sender's listener adds or removes: the
  // count is of subscribers connected now (one that reconnected counts once).
  static void on_subscribers(nng_pipe, nng_pipe_ev ev, void* count) {
    // release: pairs with the acquire in subscribers()
    static_cast<std::atomic<int>*>(count)->fetch_add(ev == NNG_PIPE_EV_ADD_POST ? 1 : -1, std::memory_order_release);
  }

  /// What outlives this end while a stuck close (close_bounded()) still runs.
  struct Shared {
    std::atomic<bool> connected{false};  ///< a sender's pipe was added (on_connected())
    std::atomic<int> subscribers{0};     ///< a fan-out sender's pipes connected (on_subscribers())
    std::mutex m;
    std::condition_variable cv;
    bool closed = false;  ///< nng_close() has returned; guarded by m
  };

  nng_socket sock_ = NNG_SOCKET_INITIALIZER;
  bool open_ = false;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::error_code error_;
  std::uint64_t token_ = 0;  ///< the last end marker's
};

using Hooks = detail::LibraryHooks<NngEnd>;

}  // namespace

extern const TransportSpec kNngTransport{
    "nng",
    "nng (1.5, C API) push0 -> pull0 over ipc:// in a private 0700 directory; unbuffered sends unless "
    "--queue-messages sets its buffers, messages up to 1 GiB (NNG_OPT_RECVMAXSZ raised); liveness pipes and an acked "
    "end marker for the end-of-file it lacks",
    Capabilities{.max_msg_bytes = detail::kLibraryMaxMessageBytes,
                 .buffer = BufferKnob::queue_messages,
                 .shared_sender = true,
                 .fan_out_endpoint = true},
    &Hooks::create,
    &Hooks::open,
    &Hooks::preflight,
    detail::library_card({
        .library = "nng",
        .poll_note = "poll_fd() is an epoll set of NNG_OPT_RECVFD (readable while a message is held for the "
                     "application: level-triggered) and the senders' liveness pipe (so a sender's death wakes it "
                     "too); call try_recv() until would_block after each wake-up",
        .close_reason = "nng_close does not wait for a send still being written",
        .auth = "no token",
        .limits = "unbuffered sends by default: in flight are the kernel's socket buffers and one message held "
                  "at the receiver (--queue-messages gives the sender a queue of up to 8,192 messages, "
                  "NNG_OPT_SENDBUF); one allocation per message at each end; nng's process-wide "
                  "threads; not usable in a "
                  "process forked from one that used nng; a sender killed mid-handshake leaves nng 1.5's listener "
                  "taking no further senders; nng 1.5's nng_close() can hang (issue #1543): a close is waited "
                  "for 0.5 s, then left to the process's exit",
    })};

}  // namespace ipcmatrix
