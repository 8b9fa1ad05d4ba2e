// The socketpair mechanisms' shared code (datagram_socket.hpp has the kernel's limits).
//
// Sending: one sendmsg per message, or one sendmmsg per batch of up to 64, each message
// gathered from its pieces (envelope, body) by an iovec, never staged. Nothing a sender
// writes depends on which process it is, and the only state it keeps is a cache of its
// socket's limit, refreshed from the kernel before anything is refused, so several processes
// may send on the same inherited end (unix-dgram's shared endpoint for fan-in). A message
// above the cached limit first asks the kernel for a buffer large enough for two of it (never
// shrinking one another sender enlarged), within what this process may set; a message that
// still does not fit is refused with datagram_too_large(), and nothing of it is sent.
//
// Receiving: one recvmsg with MSG_TRUNC, which gives a datagram's real length, so a message
// larger than the caller's buffer is a message_size error rather than a silent truncation.
// Waits are the kernel's: a sender blocks while its unread datagrams fill its send buffer, a
// receiver while its queue is empty. unix-seqpacket learns of a dead peer from the kernel
// (end-of-file, EPIPE). unix-dgram's receiver gets no end-of-file, so it blocks for at most
// kDatagramWaitSliceMs at a time (SO_RCVTIMEO: one syscall a message while messages flow),
// then, idle, polls its socket and the liveness pipe together: once every sender's copy of
// the pipe's write end is closed (exit or crash), it drains what is queued and reports
// peer_closed.
#include "datagram_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <optional>
#include <string>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"

namespace ipcmatrix::detail {
namespace {

constexpr const char* kWmemMaxFile = "/proc/sys/net/core/wmem_max";
constexpr std::uint64_t kFallbackWmemMax = 212992;  // Linux's default, for a /proc that cannot be read
/// Messages one sendmmsg carries at most: the runner's largest default batch in one call.
constexpr std::size_t kBatchMessages = 64;

/// Whether this process may set a send buffer above net.core.wmem_max: asked of the kernel
/// with a probe socket, since CAP_NET_ADMIN in a user namespace is not enough for it.
bool sndbufforce_permitted() noexcept {
  const sys::Fd probe(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return false;
  const int v = 4096;
  return ::setsockopt(probe.get(), SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) == 0;
}

/// What this process may ask of a send buffer, read now (a sysctl may change between cells).
struct SndbufPolicy {
  std::uint64_t wmem_max = kFallbackWmemMax;
  bool may_force = false;

  static SndbufPolicy now() {
    if (const char* env = std::getenv(kWmemMaxEnv); env != nullptr && *env != '\0') {
      char* end = nullptr;
      const unsigned long long v = std::strtoull(env, &end, 10);
      if (end != nullptr && *end == '\0' && v > 0) return {v, false};
    }
    return {sys::read_number_file(kWmemMaxFile).value_or(kFallbackWmemMax), sndbufforce_permitted()};
  }
};

/// The send buffer as the kernel reports it (twice the value set), 0 when unreadable.
std::size_t sndbuf_of(int fd) noexcept {
  int v = 0;
  socklen_t n = sizeof v;
  if (::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &n) != 0 || v < 0) return 0;
  return static_cast<std::size_t>(v);
}

/// Asks for a send buffer of `bytes` as the kernel reports it, within what `p` allows (above
/// 2 x wmem_max only with SO_SNDBUFFORCE, else capped there); returns what the kernel granted.
std::size_t set_sndbuf(int fd, std::size_t bytes, const SndbufPolicy& p) noexcept {
  const std::uint64_t half = std::min<std::uint64_t>((std::uint64_t{bytes} + 1) / 2, INT_MAX / 2);
  int v = static_cast<int>(half);
  if (half > p.wmem_max) {
    if (p.may_force && ::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) == 0) return sndbuf_of(fd);
    v = static_cast<int>(std::min<std::uint64_t>(p.wmem_max, INT_MAX / 2));
  }
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);  // SO_SNDBUF caps, never fails for a size
  return sndbuf_of(fd);
}

/// The largest datagram a send buffer of `sndbuf` bytes (as reported) carries.
std::size_t limit_for(std::size_t sndbuf) noexcept {
  return std::min(sndbuf > kSndbufOverheadBytes ? sndbuf - kSndbufOverheadBytes : 0, kMaxDatagramBytes);
}

class TooLargeCategory final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "datagram"; }
  [[nodiscard]] std::string message(int limit) const override {
    std::string m = "message larger than this socket's limit of " + std::to_string(limit) +
                    " bytes per datagram: refused, never fragmented (";
    if (static_cast<std::size_t>(limit) >= kMaxDatagramBytes)
      return m + "the kernel's largest datagram, whatever the send buffer)";
    return m +
           "its send buffer less 32 bytes; an unprivileged process's buffer stops at 2 x net.core.wmem_max: "
           "raise it with sysctl -w net.core.wmem_max=<bytes>)";
  }
  [[nodiscard]] std::error_condition default_error_condition(int) const noexcept override {
    return std::make_error_condition(std::errc::message_size);
  }
};

/// Owns the two ends of a socketpair (and of the liveness pipe), indexed by Role.
class DatagramChannel final : public Channel {
 public:
  DatagramChannel(const DatagramKind& k, const ChannelOptions& o) : kind_(k), open_timeout_ms_(o.open_timeout_ms) {
    int sv[2];
    sys::check_errno(::socketpair(AF_UNIX, k.type | SOCK_CLOEXEC, 0, sv), "socketpair", k.name);
    sock_[0].reset(sv[0]);  // sock_[Role::sender]
    sock_[1].reset(sv[1]);
    const int tx = sock_[0].get();
    // The buffer belongs to the socket, so every process sending on it shares what is set here.
    capacity_ = o.capacity_bytes ? set_sndbuf(tx, o.capacity_bytes, SndbufPolicy::now()) : sndbuf_of(tx);
    if (k.type == SOCK_SEQPACKET) {
      // SOCK_SEQPACKET reports its peer's close as a read of 0 bytes, the same as an empty
      // message. Autobound (a kernel-chosen abstract name), the sender's socket stamps its
      // address on every datagram, so a read without one is the close. Nobody can use the
      // name: the socket does not listen, and a connected socket takes only its peer's.
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      sys::check_errno(::bind(tx, reinterpret_cast<const sockaddr*>(&a), sizeof(sa_family_t)), "bind (autobind)",
                       k.name);
    }
    if (k.liveness_pipe) sys::make_pipe(live_[1], live_[0]);  // the receiver reads, every sender holds the write end
  }

  ChannelSpec spec(Role r) const override {
    ChannelSpec s;
    s.mechanism = std::string(kind_.name);
    s.fd = sock_[static_cast<int>(r)].get();
    s.aux_fd = live_[static_cast<int>(r)].get();
    s.capacity_bytes = capacity_;
    s.open_timeout_ms = open_timeout_ms_;
    return s;
  }
  ChannelSpec take(Role r) override {
    ChannelSpec s = spec(r);
    s.fd = sock_[static_cast<int>(r)].release();
    s.aux_fd = live_[static_cast<int>(r)].release();
    return s;
  }
  void close_local_fds() noexcept override {
    for (auto* fds : {&sock_, &live_})
      for (sys::Fd& fd : *fds) fd.reset();
  }

 private:
  DatagramKind kind_;
  std::int64_t open_timeout_ms_;
  std::size_t capacity_ = 0;
  std::array<sys::Fd, 2> sock_;
  std::array<sys::Fd, 2> live_;
};

class DatagramTransport final : public Transport {
 public:
  DatagramTransport(const DatagramKind& k, const ChannelSpec& s, Role r)
      : sender_(r == Role::sender),
        seqpacket_(k.type == SOCK_SEQPACKET),
        watch_senders_(k.liveness_pipe && r == Role::receiver) {
    if (s.fd < 0) throw Error(k.name, to_string(r), "channel spec carries no inherited socket fd");
    sock_.reset(s.fd);
    live_.reset(s.aux_fd);
    if (k.liveness_pipe && !live_.valid())
      throw Error(k.name, to_string(r), "channel spec carries no liveness pipe fd");
    // Do not leak into processes this one spawns: a stray copy of the liveness pipe's write
    // end would hide every sender's death.
    sys::set_cloexec(sock_.get(), true);
    if (live_.valid()) sys::set_cloexec(live_.get(), true);
    if (sender_) {
      policy_ = SndbufPolicy::now();
      limit_ = limit_for(sndbuf_of(sock_.get()));
    } else if (watch_senders_) {
      const timeval slice{0, static_cast<suseconds_t>(kDatagramWaitSliceMs * 1000)};
      sys::check_errno(::setsockopt(sock_.get(), SOL_SOCKET, SO_RCVTIMEO, &slice, sizeof slice),
                       "setsockopt(SO_RCVTIMEO)", k.name);
    }
  }

  IoStatus send(std::span<const std::byte> msg) noexcept override {
    return send_many(1, [msg](std::size_t) { return Two{msg, {}}; });
  }
  IoStatus send_batch(std::span<const std::span<const std::byte>> msgs) noexcept override {
    return send_many(msgs.size(), [msgs](std::size_t i) { return Two{msgs[i], {}}; });
  }
  IoStatus send_gather(std::span<const GatherMessage> msgs) noexcept override {
    return send_many(msgs.size(), [msgs](std::size_t i) { return Two{msgs[i].head, msgs[i].body}; });
  }

  IoStatus recv(std::span<std::byte> buf, std::size_t& len) noexcept override {
    len = 0;
    iovec iov{buf.data(), buf.size()};
    sockaddr_un from{};
    for (;;) {
      msghdr mh{};
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      if (seqpacket_) {
        mh.msg_name = &from;
        mh.msg_namelen = sizeof from;
      }
      // MSG_TRUNC: the datagram's real length, even when it did not fit.
      const ssize_t r = ::recvmsg(sock_.get(), &mh, MSG_TRUNC | (senders_gone_ ? MSG_DONTWAIT : 0));
      if (r >= 0) {
        if (r == 0 && seqpacket_ && mh.msg_namelen == 0) return IoStatus::peer_closed;  // no address: the close
        if (static_cast<std::size_t>(r) > buf.size()) return fail(std::make_error_code(std::errc::message_size));
        len = static_cast<std::size_t>(r);
        return IoStatus::ok;
      }
      const int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN || e == EWOULDBLOCK) {
        // The queue is drained after the senders went, or a wait slice ended (unix-dgram).
        if (senders_gone_) return IoStatus::peer_closed;
        if (!watch_senders_) return IoStatus::would_block;  // a caller made the fd non-blocking
        senders_gone_ = wait_while_idle();                  // then drain: what they sent before going is queued
        continue;
      }
      if (e == ECONNRESET) return IoStatus::peer_closed;
      return fail_errno(e);
    }
  }

  int poll_fd() noexcept override { return sender_ ? -1 : sock_.get(); }

 private:
  struct Two {
    std::span<const std::byte> a, b;
  };

  // Sends count messages, pieces(i) giving the two pieces of message i, in batches of
  // kBatchMessages. A message that cannot be carried ends the call after the ones before it
  // have gone, in order.
  template <class Pieces>
  IoStatus send_many(std::size_t count, Pieces&& pieces) noexcept {
    std::size_t i = 0;
    while (i < count) {
      std::size_t n = 0;
      std::size_t refused = 0;  // the length of a message that cannot be carried, 0 if none
      for (; i < count && n < kBatchMessages; ++i) {
        const Two m = pieces(i);
        const std::size_t len = m.a.size() + m.b.size();
        if (len > limit_ && !fit(len)) {
          refused = len;
          break;
        }
        iovec* v = &iov_[2 * n];
        std::size_t k = 0;
        if (!m.a.empty()) v[k++] = {const_cast<std::byte*>(m.a.data()), m.a.size()};
        if (!m.b.empty()) v[k++] = {const_cast<std::byte*>(m.b.data()), m.b.size()};
        hdr_[n].msg_hdr = msghdr{};
        hdr_[n].msg_hdr.msg_iov = v;
        hdr_[n].msg_hdr.msg_iovlen = k;
        ++n;
      }
      if (const IoStatus s = send_prepared(n); s != IoStatus::ok) return s;
      if (refused) return fail(datagram_too_large(refused > kMaxDatagramBytes ? kMaxDatagramBytes : limit_));
    }
    return IoStatus::ok;
  }

  // Sends hdr_[0, n); sendmmsg may stop early (a signal, a full buffer), so it resumes.
  IoStatus send_prepared(std::size_t n) noexcept {
    std::size_t done = 0;
    while (done < n) {
      const int r = n - done == 1 ? (::sendmsg(sock_.get(), &hdr_[done].msg_hdr, MSG_NOSIGNAL) >= 0 ? 1 : -1)
                                  : ::sendmmsg(sock_.get(), &hdr_[done], static_cast<unsigned>(n - done), MSG_NOSIGNAL);
      if (r > 0) {
        done += static_cast<std::size_t>(r);
        continue;
      }
      const int e = r < 0 ? errno : EIO;
      if (e == EINTR) continue;
      switch (e) {
        case EPIPE:         // unix-seqpacket: the receiver closed
        case ECONNRESET:    // unix-seqpacket: ... with datagrams unread
        case ECONNREFUSED:  // unix-dgram: the receiving socket is gone
        case ENOTCONN:
          return IoStatus::peer_closed;
        case EMSGSIZE:  // the buffer shrank under us (another sender of the same socket)
          limit_ = limit_for(sndbuf_of(sock_.get()));
          return fail(datagram_too_large(limit_));
        default:
          return fail_errno(e);
      }
    }
    return IoStatus::ok;
  }

  // Makes the send buffer hold a message of len bytes (room for two where allowed); false
  // when this process may not make it that large. Cold: once per larger message size.
  [[gnu::noinline]] bool fit(std::size_t len) noexcept {
    if (!policy_) return false;  // a receiving end: it has nothing to send with
    const std::size_t now = sndbuf_of(sock_.get());
    limit_ = limit_for(now);  // another sender of the same socket may have enlarged it
    if (len <= limit_) return true;
    // Beyond the kernel's largest datagram, or at the most this process may set already (a
    // sender that may force it larger shared the socket): asking again could only shrink it.
    if (len > kMaxDatagramBytes || (!policy_->may_force && now >= 2 * policy_->wmem_max)) return false;
    limit_ = limit_for(set_sndbuf(sock_.get(), std::max(now, 2 * (len + kSndbufOverheadBytes)), *policy_));
    return len <= limit_;
  }

  // After a wait slice with nothing received: waits one more slice for a datagram or the
  // liveness pipe, whichever comes first (so an idle receiver sees its senders go at once,
  // and one whose fd a caller made non-blocking does not spin). True when the senders are
  // gone: nobody writes to the pipe, so readable (end-of-file) or hung up both mean that no
  // holder of its write end is left.
  bool wait_while_idle() const noexcept {
    std::array<pollfd, 2> p{{{sock_.get(), POLLIN, 0}, {live_.get(), POLLIN, 0}}};
    if (::poll(p.data(), p.size(), static_cast<int>(kDatagramWaitSliceMs)) <= 0) return false;
    return (p[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
  }

  bool sender_;
  bool seqpacket_;
  bool watch_senders_;
  bool senders_gone_ = false;
  sys::Fd sock_;
  sys::Fd live_;                        ///< unix-dgram: the liveness pipe's write end (sender) or read end (receiver)
  std::optional<SndbufPolicy> policy_;  ///< set on a sending end only
  std::size_t limit_ = 0;               ///< the largest datagram the socket's buffer carries, as last seen
  std::array<mmsghdr, kBatchMessages> hdr_{};
  std::array<iovec, 2 * kBatchMessages> iov_{};
};

}  // namespace

MessageLimit datagram_limit(std::uint64_t wmem_max, bool may_force, std::size_t wanted_bytes) {
  MessageLimit l;
  const std::uint64_t by_buffer = 2 * wmem_max > kSndbufOverheadBytes ? 2 * wmem_max - kSndbufOverheadBytes : 0;
  if (may_force || by_buffer >= kMaxDatagramBytes) {
    l.bytes = kMaxDatagramBytes;
    l.source = may_force ? "the kernel's largest datagram; this process may set any send buffer (SO_SNDBUFFORCE)"
                         : "the kernel's largest datagram, below 2 x net.core.wmem_max";
    if (wanted_bytes > l.bytes) l.remedy = "no setting raises it";
    return l;
  }
  l.bytes = static_cast<std::size_t>(by_buffer);
  l.source = "2 x net.core.wmem_max = 2 x " + std::to_string(wmem_max) +
             " B, the largest send buffer an unprivileged process may set, less 32 B";
  if (wanted_bytes > kMaxDatagramBytes) {
    l.remedy = "no setting carries them: the kernel's largest datagram is " + std::to_string(kMaxDatagramBytes) +
               " B whatever net.core.wmem_max";
  } else if (wanted_bytes > l.bytes) {
    const std::uint64_t need = (wanted_bytes + kSndbufOverheadBytes + 1) / 2;
    l.remedy =
        "raise it with sysctl -w net.core.wmem_max=" + std::to_string(need) + " (or more), or run with CAP_NET_ADMIN";
  }
  return l;
}

MessageLimit datagram_limit_now(std::size_t wanted_bytes) {
  const SndbufPolicy p = SndbufPolicy::now();
  return datagram_limit(p.wmem_max, p.may_force, wanted_bytes);
}

std::error_code datagram_too_large(std::size_t limit_bytes) noexcept {
  static const TooLargeCategory kCategory;
  // The limit is the code's value; never 0, which would read as "no error".
  return {static_cast<int>(std::clamp<std::size_t>(limit_bytes, 1, INT_MAX)), kCategory};
}

std::unique_ptr<Channel> create_datagram_channel(const DatagramKind& k, const ChannelOptions& o) {
  return std::make_unique<DatagramChannel>(k, o);
}

std::unique_ptr<Transport> open_datagram(const DatagramKind& k, const ChannelSpec& s, Role r) {
  return std::make_unique<DatagramTransport>(k, s, r);
}

}  // namespace ipcmatrix::detail
