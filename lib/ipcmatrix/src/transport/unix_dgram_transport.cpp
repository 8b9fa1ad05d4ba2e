// `unix-dgram`: an AF_UNIX SOCK_DGRAM socketpair, plus a liveness pipe. The coordinator makes
// both and the workers inherit their fds (ChannelSpec::fd, ::aux_fd), as pipe's: no name, no
// path, nothing to leak. Each message is one datagram, so boundaries come from the kernel,
// not from a length header; a message over the socket's limit is refused, never fragmented
// (datagram_socket.hpp has the limits and the shared code).
//
// A datagram receiver gets no end-of-file when its sender goes (recv just blocks), so every
// sending process holds the write end of a pipe whose read end the receiver holds; when the
// last holder exits or crashes, the read end hangs up. The receiver blocks in recvmsg for
// 20 ms at a time, looks at the pipe between waits, drains what is still queued and then
// reports peer_closed. A sender whose receiver is gone gets ECONNREFUSED: peer_closed.
//
// One shared endpoint: several processes may inherit the same sending spec (the same socket
// and the same write end of the pipe) and send on it at once. The wire carries nothing per
// sender (a datagram is the message, whole and atomic), each sender keeps no state the others
// depend on, and the receiver sees the end only when the last of them is gone. This is what
// a fan-in over one shared socket builds on.
//
// Semantics: boundaries kept; a sender blocks while unread datagrams fill its send buffer,
// nothing is lost; a dead peer is seen from both ends; the receiving socket is a pollable
// fd. The same facts, typed, are the semantics card below.
#include <sys/socket.h>

#include "datagram_socket.hpp"

namespace ipcmatrix {
namespace {

constexpr detail::DatagramKind kKind{"unix-dgram", SOCK_DGRAM, true};

std::unique_ptr<Channel> create(const ChannelOptions& o) { return detail::create_datagram_channel(kKind, o); }
std::unique_ptr<Transport> open(const ChannelSpec& s, Role r) { return detail::open_datagram(kKind, s, r); }

}  // namespace

extern const TransportSpec kUnixDgramTransport{
    "unix-dgram",
    "AF_UNIX SOCK_DGRAM socketpair (inherited fds) and a liveness pipe for the end-of-file datagrams lack: one "
    "message per datagram, no framing; limits as unix-seqpacket",
    Capabilities{.max_msg_bytes = detail::kMaxDatagramBytes,
                 .buffer = BufferKnob::capacity_bytes,
                 .sized_per_cell = true,
                 .shared_sender = true},
    &create,
    &open,
    nullptr,
    SemanticsCard{
        .pollable = Pollable::fd,
        .poll_note = "the receiving socket's fd (readable when a datagram is queued); a loop that must notice dead "
                     "senders also polls the liveness pipe's read end for POLLHUP",
        .boundaries = Boundaries::kept,
        .when_full = WhenFull::blocks,
        .dead_peer = "a datagram socket gives no end-of-file: the receiver sees its senders' liveness pipe hang up "
                     "within one 20 ms wait, drains what was sent, then peer_closed; a sender whose receiver is "
                     "gone gets ECONNREFUSED: peer_closed at once",
        .visibility = Visibility::fd_only,
        .access = "only processes that inherit or are passed the fds; several processes may share one sending end",
        .limits = "a message at most the sender's SO_SNDBUF less 32 B: 2 x net.core.wmem_max for an unprivileged "
                  "process (416 KiB at the default 212992; raise with sysctl -w net.core.wmem_max=<bytes>), the "
                  "kernel's 4 MiB with CAP_NET_ADMIN (SO_SNDBUFFORCE); larger ones are refused. Datagrams in "
                  "flight are bounded by that buffer; net.unix.max_dgram_qlen does not apply to a socketpair",
    },
    &detail::datagram_limit_now};

}  // namespace ipcmatrix
