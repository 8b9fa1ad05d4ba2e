// `unix`: a Unix domain stream socket through Boost.Asio. The socket file lives in a
// private 0700 directory with an unpredictable name (socket_dir.hpp), removed as soon as both
// ends are connected (and by the Channel if a side never came).
#include "socket_dir.hpp"
#include "socket_transport.hpp"

namespace ipcmatrix {
namespace {

struct UnixTraits {
  using Protocol = boost::asio::local::stream_protocol;
  static constexpr std::string_view kName = "unix";
  using Place = detail::SocketDir;
  static Protocol protocol() { return Protocol(); }
  static Protocol::endpoint bind_endpoint(Place& p, const ChannelOptions& o) {
    p = detail::SocketDir(kName, o);
    return Protocol::endpoint(p.path());
  }
  static int port_of(Protocol::acceptor&) { return 0; }
  static std::string describe(const Place& p) { return p.path(); }
  static Protocol::endpoint connect_endpoint(const ChannelSpec& s) {
    return Protocol::endpoint(s.name);
  }
  static void tune(Protocol::socket&) {}
  static void unlink_after_connect(const ChannelSpec& s) {
    sys::remove_quietly(s.name, s.name.substr(0, s.name.rfind('/')));
  }
  static void cleanup(Place& p) noexcept { p.remove(); }
};

std::unique_ptr<Channel> create(const ChannelOptions& o) {
  return std::make_unique<detail::SocketChannel<UnixTraits>>(o);
}
std::unique_ptr<Transport> open(const ChannelSpec& s, Role r) {
  return detail::open_socket<UnixTraits>(s, r);
}
std::string preflight(const ChannelOptions&) { return detail::SocketDir::preflight(); }

}  // namespace

extern const TransportSpec kUnixTransport{
    "unix", "Unix domain stream socket (Boost.Asio), socket file in a private 0700 directory",
    Capabilities{}, &create, &open, &preflight,
    SemanticsCard{
        .pollable = Pollable::fd,
        .poll_note = "the connected socket's fd",
        .boundaries = Boundaries::framed,
        .when_full = WhenFull::blocks,
        .dead_peer = "the kernel closes the socket: the receiver reads EOF after what was sent, the sender's "
                     "write fails with EPIPE: peer_closed at once; the socket file is unlinked once both "
                     "ends are connected",
        .visibility = Visibility::path,
        .access = "a socket file in a private 0700 directory; a peer must send the channel's random token",
        .limits = "the path must fit sun_path (108 bytes, so a long $TMPDIR is refused); socket buffers up "
                  "to net.core.wmem_max / rmem_max",
    }};

}  // namespace ipcmatrix
