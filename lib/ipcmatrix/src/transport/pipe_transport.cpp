// `pipe`: an anonymous pipe. Both ends are created by the coordinator and reach the
// workers as inherited fds, so there is no name to leak; the kernel frees the pipe when
// the last fd closes, which is also how a reader learns its writer died (EOF).
#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "stream_transport.hpp"

namespace ipcmatrix {
namespace {

class PipeChannel final : public Channel {
 public:
  explicit PipeChannel(const ChannelOptions& o) {
    sys::make_pipe(fds_[1], fds_[0]);  // fds_[Role::sender] = write end
    if (o.pipe_bytes) sys::set_pipe_size(fds_[0].get(), o.pipe_bytes);
  }
  ChannelSpec spec(Role r) const override {
    ChannelSpec s;
    s.mechanism = "pipe";
    s.fd = fds_[static_cast<int>(r)].get();
    return s;
  }
  ChannelSpec take(Role r) override {
    ChannelSpec s = spec(r);
    s.fd = fds_[static_cast<int>(r)].release();
    return s;
  }
  void close_local_fds() noexcept override {
    fds_[0].reset();
    fds_[1].reset();
  }

 private:
  sys::Fd fds_[2];
};

std::unique_ptr<Channel> create(const ChannelOptions& o) { return std::make_unique<PipeChannel>(o); }

std::unique_ptr<Transport> open(const ChannelSpec& s, Role) {
  if (s.fd < 0) throw Error("pipe", "fd", "channel spec carries no inherited fd");
  sys::ignore_sigpipe();
  sys::set_cloexec(s.fd, true);  // do not leak into processes this one spawns
  const int fd = s.fd;
  return std::make_unique<detail::StreamTransport<boost::asio::posix::stream_descriptor>>(
      [fd](boost::asio::io_context& io) { return boost::asio::posix::stream_descriptor(io, fd); });
}

}  // namespace

extern const TransportSpec kPipeTransport{
    "pipe", "anonymous pipe (inherited fds), 8-byte length framing; --pipe-bytes sets F_SETPIPE_SZ",
    Capabilities{}, &create, &open};

}  // namespace ipcmatrix
