#pragma once
// What the message-library mechanisms (zmq, nng) share: a PUSH socket connected to a PULL
// socket over `ipc://` in a private 0700 directory, and the protocol around the library that
// the transport contract needs and neither library gives.
//
// Neither library's socket survives exec (the coordinator cannot make it for the workers),
// neither reports that the other end has gone (no end-of-file: a PULL socket just waits for
// the next sender), and neither says when the peer application has taken a message. So:
//
// Channel (create(), in the coordinator): the socket directory (socket_dir.hpp, removed by
// the Channel's destructor), a pipe and a socketpair, inherited by the workers like a pipe's
// fds (ChannelSpec::fd, ::aux_fd):
//   - the senders' pipe: every sending process holds its write end, the receiver its read
//     end, which hangs up once the last sender has closed or died. Nothing is ever written
//     to it.
//   - the receiver's socket (AF_UNIX SOCK_SEQPACKET socketpair): the receiver holds one end,
//     every sender the other, which hangs up when the receiver has closed or died. Closing
//     senders register on it for their acks (below); nothing else is sent on it.
//
// Open: the receiver binds its PULL socket to `ipc://<dir>/s`, the sender connects its PUSH
// socket, which the library retries in the background until the receiver has bound, so
// either side may open first and neither waits in open(). (A fan-out channel's sender binds
// and waits in open() for its subscribers: see LibraryTransport.)
//
// Sending: the library's blocking send with a timeout of one wait slice (20 ms), so a
// sender that is held back (the receiver's queue is full, or nobody has bound yet) looks at
// the receiver's socket every 20 ms: hung up = peer_closed. A message over the mechanism's
// limit is refused (message_size) before anything is sent.
//
// Closing a sender (its destructor) that sent anything, while its receiver is alive: it
// makes an ack pipe of its own, passes the pipe's write end with a token (its pid and a
// count) over the receiver's socket (SCM_RIGHTS), sends an end marker carrying the token (a
// message the receiver can tell from every user message: Lib says how), waits for the ack
// byte or the end-of-file of its ack pipe, and only then closes its socket and its end of
// the senders' pipe. The registration is queued at the receiver before the marker is sent,
// so a receiver that takes a marker finds its pipe; the receiver writes the ack and closes
// that pipe; a receiver that closes or dies closes every pipe it holds or has queued, so no
// sender waits on a receiver that is gone. Keyed acks are what let several processes share
// one sending end: each waits for its own ack, never one another's, and a sender that dies
// before its ack leaves nothing in anyone's way. The wait is what makes a clean close lose
// nothing. ZeroMQ 4.3 over ipc:// drops the tail of a stream whose sender disconnects while
// the receiver's queue is at its high-water mark (the peer's hang-up stops the receiving
// engine with data still unread; reproduced here: 389 of 20,000 messages lost to a slow
// receiver, with linger -1, and none over tcp://), and nng_close() may abort a send still
// being written. After the ack the receiver holds every message this sender sent, so the
// socket is closed with nothing queued (linger 0). The wait ends when the receiver takes
// the marker or goes away: a receiver that is alive but never reads again keeps the sender
// in its destructor, as it would keep it in a blocking send. So a receiver opened in the
// same thread is destroyed first (LocalPair's member order does that), and the role loops
// close their sending ends while their receiving ends still drain (Sender::close()).
//
// Receiving: the library's blocking receive with a timeout of one slice. A slice that ends
// with nothing received looks at the senders' pipe; once it has hung up, what is already
// queued is drained without waiting, then peer_closed. An end marker is acked at once and is
// not a message; recv() then waits up to one slice for the senders' pipe to hang up, so a
// single sender's close is seen at once rather than a slice later. poll_fd() is an epoll set
// of the library's own fd and the senders' pipe, so an event loop wakes for a sender's death
// as well as for a message, and try_recv() never waits.
//
// One shared sending end (Capabilities::shared_sender): several processes may inherit the
// same sending spec. Each process's socket is its own, the library fair-queues them at the
// receiving socket, and the receiver sees the end only when the last of them has gone (they
// all hold the senders' pipe).

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "socket_dir.hpp"

namespace ipcmatrix::detail {

/// How long one blocking library call waits before the end looks at its peer's pipe.
inline constexpr std::int64_t kLibraryWaitSliceMs = 20;
/// The largest message the library mechanisms carry (Capabilities::max_msg_bytes).
inline constexpr std::size_t kLibraryMaxMessageBytes = std::size_t{1} << 30;
/// How often a connecting socket retries while nobody has bound yet.
inline constexpr std::int64_t kLibraryReconnectMs = 10;
/// How long a receiver closed before its senders waits for them (Lib::kReceiverClosesLast).
inline constexpr std::int64_t kLibraryCloseWaitMs = 10 * kLibraryWaitSliceMs;

/// The coordinator's channel: the socket directory, the senders' pipe and the receiver's socket.
class LibraryChannel final : public Channel {
 public:
  LibraryChannel(std::string_view mechanism, const ChannelOptions& o) : dir_(mechanism, o) {
    both_.mechanism = std::string(mechanism);
    both_.name = dir_.path();
    both_.open_timeout_ms = o.open_timeout_ms;
    both_.queue_messages = o.queue_messages;
    both_.io_threads = o.io_threads;
    both_.receivers = o.receivers;
    sys::make_pipe(senders_read_, senders_write_);
    sys::make_socketpair(receiver_read_, receiver_write_, SOCK_SEQPACKET);
  }

  [[nodiscard]] ChannelSpec spec(Role r) const override {
    ChannelSpec s = both_;
    const bool tx = r == Role::sender;
    s.fd = (tx ? senders_write_ : senders_read_).get();
    s.aux_fd = (tx ? receiver_read_ : receiver_write_).get();
    return s;
  }
  [[nodiscard]] ChannelSpec take(Role r) override {
    ChannelSpec s = spec(r);
    const bool tx = r == Role::sender;
    s.fd = (tx ? senders_write_ : senders_read_).release();
    s.aux_fd = (tx ? receiver_read_ : receiver_write_).release();
    return s;
  }
  void close_local_fds() noexcept override {
    for (sys::Fd* fd : {&senders_read_, &senders_write_, &receiver_read_, &receiver_write_}) fd->reset();
  }

 private:
  SocketDir dir_;
  ChannelSpec both_;                        ///< what both ends' specs carry; spec() adds the role's fds
  sys::Fd senders_read_, senders_write_;    ///< hangs up when the last sender is gone
  sys::Fd receiver_read_, receiver_write_;  ///< the receiver's socket: senders' end, receiver's end
};

/// What one call into the library did.
enum class LibStatus : std::uint8_t {
  ok,          ///< sent; or received a message, now in the caller's buffer
  end_marker,  ///< received a sender's end marker (taken, not a message)
  again,       ///< nothing within the wait slice (or at once, for a call that does not wait)
  too_large,   ///< received a message larger than the caller's buffer (taken, lost)
  error,       ///< Lib::error() says what
};

/// Owns an inherited fd: the spec must carry it (Error otherwise), and a process this one
/// spawns must not inherit it, or a stray copy would hide this end's death.
inline sys::Fd inherited_fd(int fd, std::string_view mechanism, const ChannelSpec& s, const char* which) {
  if (fd < 0) throw Error(mechanism, s.name, std::string("channel spec carries no ") + which);
  sys::Fd owned(fd);
  sys::set_cloexec(fd, true);
  return owned;
}

/// One end over a library. Lib names its mechanism (static constexpr std::string_view
/// kName), is constructed from (spec, role) and provides, noexcept:
///   LibStatus send(a, b)          one message a ++ b; waits up to one slice
///   LibStatus send_end_marker(token)  the end marker carrying token; waits up to one slice
///   LibStatus recv(buf, len, wait)  one message; wait: up to one slice, else not at all
///   std::uint64_t marker_token()  the token of the end marker recv() last answered with
///   int poll_fd(), std::error_code error(), void close() (linger 0; idempotent)
///   bool connected()              a sender's connection is set up (or needs no waiting for)
///   static constexpr bool kReceiverClosesLast  the library's receiving socket must not be
///                                 closed while a sender may still write to it (nng)
///   static std::string check_options(const ChannelOptions&)  what the library would refuse
///                                 of queue_messages / io_threads, as a sentence; empty: fine
///   int subscribers()             fan-out sender: receivers connected (and subscribed) so far
///
/// A fan-out channel (ChannelSpec::receivers >= 2, Capabilities::fan_out_endpoint) is the
/// library's publish/subscribe: the sender's socket binds and publishes, each receiver's
/// subscribes to everything. The sender's open waits until all receivers are there (so no
/// message is lost to a late joiner, ZeroMQ's "slow joiner"); a send never waits, and a
/// receiver whose queue is full loses the message (the receivers count the gaps). The end:
/// the sender repeats its end marker every wait slice (a full queue may drop one too) until
/// every receiver has closed (their shared socket hangs up) or the open timeout runs out; a
/// receiver reports peer_closed at the first marker (publish/subscribe keeps each
/// receiver's order, so nothing of this sender follows it), or once the sender is gone and
/// the queue drained. No acks: a receiver cannot tell which of the others has the tail.
template <class Lib>
class LibraryTransport final : public Transport {
 public:
  LibraryTransport(const ChannelSpec& s, Role r)
      : sender_(r == Role::sender),
        fan_out_(s.receivers >= 2),
        open_timeout_ms_(s.open_timeout_ms),
        senders_(inherited_fd(s.fd, Lib::kName, s, "senders' liveness pipe")),
        receiver_(inherited_fd(s.aux_fd, Lib::kName, s, "receiver's socket")),
        lib_(s, r) {
    sys::ignore_sigpipe();  // an ack written after every sender is gone: EPIPE, not a signal
    if (fan_out_ && sender_) wait_for_subscribers(s);
  }
  LibraryTransport(const LibraryTransport&) = delete;
  LibraryTransport& operator=(const LibraryTransport&) = delete;
  ~LibraryTransport() override {
    if (fan_out_) {
      if (sender_) end_fan_out();
    } else if (sent_any_) {
      const std::uint64_t token = next_token();
      if (sys::Fd ack = register_for_ack(token); ack.valid() && put_marker(token) == IoStatus::ok) wait_for_ack(ack);
    } else if (sender_) {
      // Nothing to lose, so no marker (and no wait on a receiver that may never read, e.g.
      // when this process fails before its start); only a connection still being set up is
      // let finish first, where the library needs that (Lib::connected()).
      while (!receiver_gone_ && !lib_.connected()) receiver_gone_ = hung_up(receiver_.get(), kLibraryWaitSliceMs);
    } else if (Lib::kReceiverClosesLast && !senders_gone_) {
      // A receiver closed while its senders live: it hangs up its own pipe first, so a
      // sender in put() or wait_for_ack() ends with peer_closed and closes its socket, and
      // closes the library's socket once they have gone (or after a bounded wait: a sender
      // in this thread, or one that is stuck, does not hold it for good).
      receiver_.reset();
      acks_.clear();
      senders_gone_ = hung_up(senders_.get(), kLibraryCloseWaitMs);
    }
    lib_.close();
  }

  IoStatus send(std::span<const std::byte> msg) noexcept override { return put(msg, {}); }
  IoStatus send_gather(std::span<const GatherMessage> msgs) noexcept override {
    for (const GatherMessage& m : msgs)
      if (const IoStatus s = put(m.head, m.body); s != IoStatus::ok) return s;
    return IoStatus::ok;
  }

  IoStatus recv(std::span<std::byte> buf, std::size_t& len) noexcept override { return take(buf, len, true); }
  IoStatus try_recv(std::span<std::byte> buf, std::size_t& len) noexcept override { return take(buf, len, false); }

  // An epoll set of the library's own fd and the senders' liveness pipe, made on first use:
  // readable when the library has something for try_recv(), and for good once the senders
  // are gone, so an event loop waiting on it sees a sender's death too (the library's fd
  // alone would not tell it). -1 for a sending end, or when it cannot be made.
  int poll_fd() noexcept override {
    if (sender_ || poll_set_.valid()) return poll_set_.get();
    const int lib_fd = lib_.poll_fd();
    sys::Fd set(::epoll_create1(EPOLL_CLOEXEC));
    if (lib_fd < 0 || !set.valid()) return -1;
    for (const int fd : {lib_fd, senders_.get()}) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (::epoll_ctl(set.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return -1;
    }
    poll_set_ = std::move(set);
    return poll_set_.get();
  }

 private:
  IoStatus put(std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
    if (a.size() + b.size() > kLibraryMaxMessageBytes) return fail(std::make_error_code(std::errc::message_size));
    const IoStatus st = retry_send([&] { return lib_.send(a, b); });
    sent_any_ = sent_any_ || st == IoStatus::ok;
    return st;
  }
  IoStatus put_marker(std::uint64_t token) noexcept {
    return retry_send([&] { return lib_.send_end_marker(token); });
  }
  // One send, retried slice by slice while the receiver is slow or not there yet.
  template <class Send>
  IoStatus retry_send(Send send) noexcept {
    for (;;) {
      if (receiver_gone_) return IoStatus::peer_closed;
      const LibStatus st = send();
      if (st == LibStatus::ok) return IoStatus::ok;
      if (st != LibStatus::again) return fail(lib_.error());
      // A slice went by with nothing sent: the receiver is slow, not there yet, or gone.
      receiver_gone_ = hung_up(receiver_.get(), 0);
    }
  }

  // wait: the first call waits up to a slice; once the senders are gone, nothing waits.
  IoStatus take(std::span<std::byte> buf, std::size_t& len, bool wait) noexcept {
    len = 0;
    if (ended_) return IoStatus::peer_closed;
    bool acked = false;  // an end marker was just taken
    for (;;) {
      switch (lib_.recv(buf, len, wait && !senders_gone_ && !acked)) {
        case LibStatus::ok:
          return IoStatus::ok;
        case LibStatus::end_marker:
          if (fan_out_) {
            ended_ = true;  // nothing of the one sender follows its marker
            return IoStatus::peer_closed;
          }
          ack(lib_.marker_token());
          acked = true;  // what is queued already (other senders') is taken first, unwaited
          continue;
        case LibStatus::too_large:
          return fail(std::make_error_code(std::errc::message_size));
        case LibStatus::error:
          return fail(lib_.error());
        case LibStatus::again:
          // Drained after the senders went: everything they sent has been taken.
          if (senders_gone_) return IoStatus::peer_closed;
          // After an ack with nothing queued: a sender closes its pipe end right after its
          // ack, so with one sender that is the end, seen now rather than a slice later.
          // (With a shared end the wait ends at the slice; only then may it cost one.)
          // try_recv() does not wait: its caller's poll_fd() turns readable at the hang-up.
          senders_gone_ = hung_up(senders_.get(), acked && wait ? kLibraryWaitSliceMs : 0);
          acked = false;
          if (!senders_gone_ && !wait) return IoStatus::would_block;
          continue;
      }
    }
  }

  // Fan-out sender's open: until every receiver has subscribed, within the open timeout;
  // throws Error (naming how many came) when they do not, or all have closed.
  void wait_for_subscribers(const ChannelSpec& s) {
    const std::int64_t until = sys::monotonic_ns() + open_timeout_ms_ * 1'000'000;
    while (lib_.subscribers() < s.receivers) {
      if (hung_up(receiver_.get(), 0))
        throw Error(Lib::kName, s.name, "every receiver closed before all had subscribed");
      if (sys::monotonic_ns() >= until)
        throw Error(std::make_error_code(std::errc::timed_out), Lib::kName, s.name,
                    std::to_string(lib_.subscribers()) + " of " + std::to_string(s.receivers) +
                        " receivers subscribed within " + std::to_string(open_timeout_ms_) + " ms");
      (void)hung_up(receiver_.get(), 1);  // a 1 ms pause that wakes at once if they all close
    }
  }

  // Fan-out sender's close: the end marker every slice until the receivers' socket hangs up
  // (all have closed) or the open timeout runs out (a receiver that stopped reading).
  void end_fan_out() noexcept {
    const std::int64_t until = sys::monotonic_ns() + open_timeout_ms_ * 1'000'000;
    while (!receiver_gone_ && sys::monotonic_ns() < until) {
      if (put_marker(0) != IoStatus::ok) return;
      receiver_gone_ = hung_up(receiver_.get(), kLibraryWaitSliceMs);
    }
  }

  // A token no other sender's marker carries: this process's pid and a count.
  static std::uint64_t next_token() noexcept {
    static std::atomic<std::uint32_t> count{0};
    return (static_cast<std::uint64_t>(sys::current_pid()) << 32) | count.fetch_add(1, std::memory_order_relaxed);
  }

  // Passes the write end of a new ack pipe, with the token, to the receiver; returns the
  // read end, or an invalid Fd when the receiver is gone (or no pipe could be made: the
  // sender then closes without the wait, as before there was an ack).
  sys::Fd register_for_ack(std::uint64_t token) noexcept {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return {};
    sys::Fd read_end(p[0]), write_end(p[1]);
    // EPIPE or ECONNREFUSED: the receiver is gone.
    if (sys::send_with_fd(receiver_.get(), &token, sizeof token, write_end.get()) < 0) return {};
    return read_end;  // write_end closes here: the receiver holds the only one now
  }

  // The ack for the marker carrying `token`: one byte on the pipe its sender registered,
  // which is then closed. Registrations are taken off the receiver's socket as markers need
  // them; none is found only if its sender could not register, and then nobody waits.
  void ack(std::uint64_t token) noexcept {
    for (;;) {
      for (auto it = acks_.begin(); it != acks_.end(); ++it) {
        if (it->first != token) continue;
        const char one = 1;
        // A pipe of its own, so never blocks; EPIPE: the sender is gone.
        (void)sys::retry_eintr([&] { return ::write(it->second.get(), &one, 1); });
        acks_.erase(it);
        return;
      }
      std::uint64_t t = 0;
      sys::Fd pipe;
      const long n = sys::recv_with_fd(receiver_.get(), &t, sizeof t, pipe, MSG_DONTWAIT);
      if (n <= 0) return;
      if (n == sizeof t && pipe.valid()) acks_.emplace_back(t, std::move(pipe));
    }
  }

  // After the end marker: one byte is the ack; end-of-file means the receiver has closed
  // or died without taking it.
  static void wait_for_ack(const sys::Fd& ack) noexcept {
    char byte = 0;
    (void)sys::retry_eintr([&] { return ::read(ack.get(), &byte, 1); });
  }

  // The senders' pipe hangs up once nobody holds its write end, the senders' end of the
  // receiver's socket once the receiver's end is closed. Nothing is ever written to either
  // (the receiver's socket carries registrations the other way), so POLLHUP is what counts.
  static bool hung_up(int fd, std::int64_t timeout_ms) noexcept {
    pollfd p{fd, POLLIN, 0};
    const int rc = sys::retry_eintr([&] { return ::poll(&p, 1, static_cast<int>(timeout_ms)); });
    return rc > 0 && (p.revents & (POLLHUP | POLLERR)) != 0;
  }

  bool sender_;
  bool fan_out_;  ///< a publish/subscribe channel (ChannelSpec::receivers >= 2)
  std::int64_t open_timeout_ms_;
  bool ended_ = false;          ///< fan-out receiver: the sender's end marker came
  bool sent_any_ = false;       ///< sender: a message went out, so closing sends the end marker
  bool senders_gone_ = false;   ///< receiver: the senders' pipe has hung up
  bool receiver_gone_ = false;  ///< sender: the receiver's socket has hung up
  sys::Fd senders_;             ///< the senders' pipe: write end (sender) or read end (receiver)
  sys::Fd receiver_;            ///< the receiver's socket: the senders' end or the receiver's
  /// receiver: the registered ack pipes whose markers have not come yet, by token
  std::vector<std::pair<std::uint64_t, sys::Fd>> acks_;
  sys::Fd poll_set_;  ///< receiver: poll_fd()'s epoll set, once asked for
  Lib lib_;
};

/// A library mechanism's TransportSpec hooks.
template <class Lib>
struct LibraryHooks {
  static std::unique_ptr<Channel> create(const ChannelOptions& o) {
    return std::make_unique<LibraryChannel>(Lib::kName, o);
  }
  static std::unique_ptr<Transport> open(const ChannelSpec& s, Role r) {
    return std::make_unique<LibraryTransport<Lib>>(s, r);
  }
  static std::string preflight(const ChannelOptions& o) {
    if (std::string problem = Lib::check_options(o); !problem.empty()) return problem;
    return SocketDir::preflight();
  }
};

/// What sets one library mechanism's card apart from the other's.
struct LibraryCardFacts {
  std::string_view library;       ///< "ZeroMQ"
  std::string poll_note;          ///< what poll_fd() is made of
  std::string_view close_reason;  ///< why a clean close waits for the ack
  std::string_view auth;          ///< what the library offers to tell peers apart, if anything
  std::string_view limits;        ///< its buffers, allocations and threads
};

/// The semantics card of a library mechanism: the facts this header's protocol sets.
inline SemanticsCard library_card(const LibraryCardFacts& f) {
  const std::string library(f.library);
  return SemanticsCard{
      .pollable = Pollable::fd,
      .poll_note = f.poll_note,
      .boundaries = Boundaries::kept,
      .when_full = WhenFull::blocks,
      .dead_peer = library + " gives no end-of-file and reconnects silently: every sender holds a liveness pipe " +
                   "whose hang-up the receiver sees within one 20 ms wait, then it drains what is queued and " +
                   "reports peer_closed; a sender sees its receiver's socket hang up within one 20 ms send wait. " +
                   "A clean close sends an end marker and waits for the receiver's ack, keyed to the sender (" +
                   std::string(f.close_reason) + ")",
      .visibility = Visibility::path,
      .access =
          "a socket file `s` in a private 0700 directory with a random run-scoped name in $TMPDIR, removed by "
          "the channel; any process of this user that knows the path can connect (" +
          std::string(f.auth) + ")",
      .limits = std::string(f.limits) +
                "; the socket path must fit sun_path (108 bytes); a channel with several receivers (broadcast-shared) "
                "is publish/subscribe: the sender never waits, and a receiver whose queue is full loses the message "
                "(counted by the runner, never reordered)",
  };
}

}  // namespace ipcmatrix::detail
