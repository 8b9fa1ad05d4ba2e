#pragma once
// What unix-seqpacket and unix-dgram share: an AF_UNIX socketpair made by the coordinator,
// whose two fds reach the workers by inheritance (no name, no path); one message is one
// sendmsg/recvmsg with no length header, and a message the socket cannot carry whole is
// refused, never fragmented.
//
// The kernel's limits on one datagram (both socket types go through unix_dgram_sendmsg):
//   - a message of n bytes needs a send buffer (SO_SNDBUF as getsockopt reports it, twice the
//     value set) of n + 32 bytes, else EMSGSIZE. An unprivileged process may set at most
//     net.core.wmem_max (so a buffer of 2 x wmem_max: 416 KiB at Debian's default of 212992);
//     SO_SNDBUFFORCE, permitted with CAP_NET_ADMIN, sets any size.
//   - whatever the buffer, the head of a datagram is one kernel allocation of at most
//     KMALLOC_MAX_SIZE (4 MiB with 4 KiB pages), plus at most MAX_SKB_FRAGS pages: above
//     about 4 MiB + 68 KiB, sendmsg fails with ENOBUFS. kMaxDatagramBytes is that 4 MiB.
//   - the send buffer also bounds what is in flight: a sender blocks while its unread
//     datagrams fill it (nothing is dropped). net.unix.max_dgram_qlen does not apply to a
//     socketpair (its peer is connected back to it), so depth is bytes, not a count.
// datagram_limit() is that arithmetic, pure; datagram_limit_now() feeds it this process's
// values. The runner plans no cell whose messages exceed it, and says why.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <system_error>

#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix::detail {

/// The kernel's largest AF_UNIX datagram, whatever the send buffer (see above).
inline constexpr std::size_t kMaxDatagramBytes = std::size_t{4} << 20;
/// What a datagram needs in the send buffer beyond its own bytes.
inline constexpr std::size_t kSndbufOverheadBytes = 32;
/// How long a unix-dgram receiver blocks in one recvmsg before it looks at its senders'
/// liveness pipe.
inline constexpr std::int64_t kDatagramWaitSliceMs = 20;
/// Test hook: net.core.wmem_max as the datagram mechanisms see it, with SO_SNDBUFFORCE taken
/// as not permitted (an unprivileged user on such a kernel). Tests set it to plan, refuse and
/// size buffers as that user would, whoever runs them.
inline constexpr const char* kWmemMaxEnv = "IPCMATRIX_WMEM_MAX";

/// The largest message one sender can put in one datagram on a kernel whose
/// net.core.wmem_max is `wmem_max`, where `may_force` says SO_SNDBUFFORCE is permitted; with
/// the advice for a message of `wanted_bytes` (0: none). Pure.
[[nodiscard]] MessageLimit datagram_limit(std::uint64_t wmem_max, bool may_force, std::size_t wanted_bytes);

/// datagram_limit() for this process now: /proc/sys/net/core/wmem_max, and whether a probe
/// socket accepts SO_SNDBUFFORCE (or the kWmemMaxEnv test hook).
[[nodiscard]] MessageLimit datagram_limit_now(std::size_t wanted_bytes);

/// The error of a send over its socket's limit: equal to std::errc::message_size, and its
/// message() names the limit (`limit_bytes`), where it comes from and how to raise it.
[[nodiscard]] std::error_code datagram_too_large(std::size_t limit_bytes) noexcept;

/// One of the two socket types.
struct DatagramKind {
  std::string_view name;  ///< the mechanism's name, for errors
  int type;               ///< SOCK_SEQPACKET or SOCK_DGRAM
  /// SOCK_DGRAM gives a receiver no end-of-file when its senders go: a pipe whose write end
  /// every sender holds (ChannelSpec::aux_fd) hangs up instead.
  bool liveness_pipe;
};

/// The coordinator's socketpair (and liveness pipe), the sender's buffer sized from
/// o.capacity_bytes. Throws Error.
[[nodiscard]] std::unique_ptr<Channel> create_datagram_channel(const DatagramKind& k, const ChannelOptions& o);

/// One end over an inherited spec. Throws Error.
[[nodiscard]] std::unique_ptr<Transport> open_datagram(const DatagramKind& k, const ChannelSpec& s, Role r);

}  // namespace ipcmatrix::detail
