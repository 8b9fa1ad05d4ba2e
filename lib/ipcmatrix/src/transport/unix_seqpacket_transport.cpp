// `unix-seqpacket`: an AF_UNIX SOCK_SEQPACKET socketpair. The coordinator makes it and the
// workers inherit its two fds, as pipe's: no name, no path, nothing to leak, and the kernel
// frees it with its last fd. Each message is one datagram, so boundaries come from the
// kernel, not from a length header; a message over the socket's limit is refused, never
// fragmented (datagram_socket.hpp has the limits and the shared code).
//
// Semantics: boundaries kept; a sender blocks while its unread datagrams fill its send
// buffer, nothing is lost; a dead or closed peer is the kernel's end-of-file (after what was
// sent) or EPIPE / ECONNRESET, seen at once; the receiving socket is a pollable fd. The same
// facts, typed, are the semantics card below.
//
// One shared endpoint: several processes may inherit the same sending socket and send on it
// at once; each datagram is one atomic record, and the receiver's end-of-file comes when the
// last process holding the socket has closed it (the kernel's, nothing of ours).
#include <sys/socket.h>

#include "datagram_socket.hpp"

namespace ipcmatrix {
namespace {

constexpr detail::DatagramKind kKind{"unix-seqpacket", SOCK_SEQPACKET, false};

std::unique_ptr<Channel> create(const ChannelOptions& o) { return detail::create_datagram_channel(kKind, o); }
std::unique_ptr<Transport> open(const ChannelSpec& s, Role r) { return detail::open_datagram(kKind, s, r); }

}  // namespace

extern const TransportSpec kUnixSeqpacketTransport{
    "unix-seqpacket",
    "AF_UNIX SOCK_SEQPACKET socketpair (inherited fds): one message per datagram, no framing; the sender's "
    "SO_SNDBUF is sized per cell, a message is at most 2 x net.core.wmem_max (4 MiB with CAP_NET_ADMIN), "
    "larger ones are refused",
    Capabilities{.max_msg_bytes = detail::kMaxDatagramBytes,
                 .buffer = BufferKnob::capacity_bytes,
                 .sized_per_cell = true,
                 .shared_sender = true},
    &create,
    &open,
    nullptr,
    SemanticsCard{
        .pollable = Pollable::fd,
        .poll_note = "the receiving socket's fd (readable when a datagram is queued)",
        .boundaries = Boundaries::kept,
        .when_full = WhenFull::blocks,
        .dead_peer = "the kernel closes the socket: the receiver reads what was sent, then end-of-file (an empty "
                     "read without the sender's address: empty messages still arrive), the sender's send fails "
                     "with EPIPE or ECONNRESET: peer_closed at once; the kernel frees the pair with its last fd",
        .visibility = Visibility::fd_only,
        .access = "only processes that inherit or are passed the fd; the sending socket's autobound abstract "
                  "address cannot be connected or sent to",
        .limits = "a message at most the sender's SO_SNDBUF less 32 B: 2 x net.core.wmem_max for an unprivileged "
                  "process (416 KiB at the default 212992; raise with sysctl -w net.core.wmem_max=<bytes>), the "
                  "kernel's 4 MiB with CAP_NET_ADMIN (SO_SNDBUFFORCE); larger ones are refused. Datagrams in "
                  "flight are bounded by that buffer; net.unix.max_dgram_qlen does not apply to a socketpair",
    },
    &detail::datagram_limit_now};

}  // namespace ipcmatrix
