// `unix`: a Unix domain stream socket through Boost.Asio. The socket file lives in a
// private 0700 directory with an unpredictable name, removed as soon as both ends are
// connected (and by the Channel if a side never came).
#include "ipcmatrix/sys/ipc_names.hpp"
#include "socket_transport.hpp"

#include <sys/un.h>

namespace ipcmatrix {
namespace {

std::string socket_path_problem(const std::string& path) {
  constexpr std::size_t kMax = sizeof(sockaddr_un::sun_path) - 1;
  if (path.size() <= kMax) return {};
  return "the socket path '" + path + "' is " + std::to_string(path.size()) + " bytes, over the " +
         std::to_string(kMax) + " a Unix socket address holds: set TMPDIR to a shorter directory";
}

struct UnixTraits {
  using Protocol = boost::asio::local::stream_protocol;
  static constexpr std::string_view kName = "unix";
  struct Place {
    std::string dir;
    std::string path;
  };
  static Protocol protocol() { return Protocol(); }
  static Protocol::endpoint bind_endpoint(Place& p, const ChannelOptions& o) {
    const std::string dir = sys::temp_dir() + "/" + (o.name.empty() ? sys::unique_ipc_name() : o.name);
    // Checked before anything is made, so a long $TMPDIR leaves nothing behind.
    if (const std::string problem = socket_path_problem(dir + "/s"); !problem.empty())
      throw Error(std::make_error_code(std::errc::filename_too_long), kName, dir, problem);
    sys::make_private_dir(dir);
    p.dir = dir;
    p.path = dir + "/s";
    return Protocol::endpoint(p.path);
  }
  static int port_of(Protocol::acceptor&) { return 0; }
  static std::string describe(const Place& p) { return p.path; }
  static Protocol::endpoint connect_endpoint(const ChannelSpec& s) {
    return Protocol::endpoint(s.name);
  }
  static void tune(Protocol::socket&) {}
  static void unlink_after_connect(const ChannelSpec& s) {
    sys::remove_quietly(s.name, s.name.substr(0, s.name.rfind('/')));
  }
  static void cleanup(const Place& p) noexcept { sys::remove_quietly(p.path, p.dir); }
};

std::unique_ptr<Channel> create(const ChannelOptions& o) {
  return std::make_unique<detail::SocketChannel<UnixTraits>>(o);
}
std::unique_ptr<Transport> open(const ChannelSpec& s, Role r) {
  return detail::open_socket<UnixTraits>(s, r);
}
std::string preflight(const ChannelOptions&) {
  return socket_path_problem(sys::temp_dir() + "/" + sys::unique_ipc_name() + "/s");
}

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
