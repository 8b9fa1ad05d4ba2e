// `pipe`: an anonymous pipe. Both ends are created by the coordinator and reach the
// workers as inherited fds, so there is no name to leak; the kernel frees the pipe when
// the last fd closes, which is also how a reader learns its writer died (EOF).

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "fd_pair_channel.hpp"
#include "stream_transport.hpp"

namespace ipcmatrix {
namespace {

std::unique_ptr<Channel> create(const ChannelOptions& o) {
  sys::Fd read_end, write_end;
  sys::make_pipe(read_end, write_end);
  if (o.pipe_bytes) sys::set_pipe_size(read_end.get(), o.pipe_bytes);
  return std::make_unique<detail::FdPairChannel>("pipe", std::move(write_end), std::move(read_end));
}

std::unique_ptr<Transport> open(const ChannelSpec& s, Role) {
  if (s.fd < 0) throw Error("pipe", "fd", "channel spec carries no inherited fd");
  sys::ignore_sigpipe();
  sys::set_cloexec(s.fd, true);  // do not leak into processes this one spawns
  const int fd = s.fd;
  return std::make_unique<detail::StreamTransport<boost::asio::posix::stream_descriptor>>(
      [fd](boost::asio::io_context& io) { return boost::asio::posix::stream_descriptor(io, fd); });
}

/// F_SETPIPE_SZ above fs.pipe-max-size fails with EPERM for most users; refused for everyone,
/// so a run behaves the same whoever starts it.
std::string preflight(const ChannelOptions& o) {
  constexpr const char* kLimitFile = "/proc/sys/fs/pipe-max-size";
  if (o.pipe_bytes == 0) return {};
  const auto limit = sys::read_number_file(kLimitFile);
  if (!limit || o.pipe_bytes <= *limit) return {};
  return "a pipe of " + std::to_string(o.pipe_bytes) + " bytes is over the system's limit of " +
         std::to_string(*limit) + " bytes (" + kLimitFile + "; raise it with sysctl fs.pipe-max-size)";
}

}  // namespace

extern const TransportSpec kPipeTransport{
    "pipe", "anonymous pipe (inherited fds), 8-byte length framing; --pipe-bytes sets F_SETPIPE_SZ",
    Capabilities{.buffer = BufferKnob::pipe_bytes}, &create, &open, &preflight,
    SemanticsCard{
        .pollable = Pollable::fd,
        .poll_note = "the read end's fd",
        .boundaries = Boundaries::framed,
        .when_full = WhenFull::blocks,
        .dead_peer = "the reader sees EOF after what was written; the writer's write fails with EPIPE (SIGPIPE "
                     "ignored): peer_closed at once; the kernel frees the pipe with its last fd",
        .visibility = Visibility::fd_only,
        .access = "only processes that inherit or are passed the fd",
        .limits = "--pipe-bytes above /proc/sys/fs/pipe-max-size (1 MiB by default) needs root or sysctl "
                  "fs.pipe-max-size; an unprivileged user's pipes share fs.pipe-user-pages-soft",
    }};

}  // namespace ipcmatrix
