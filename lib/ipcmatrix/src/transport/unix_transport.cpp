// `unix`: a Unix domain stream socket through Boost.Asio. The socket file lives in a
// private 0700 directory with an unpredictable name, removed as soon as both ends are
// connected (and by the Channel if a side never came).
#include "socket_transport.hpp"

namespace ipcmatrix {
namespace {

struct UnixTraits {
  using Protocol = boost::asio::local::stream_protocol;
  static constexpr std::string_view kName = "unix";
  struct Place {
    std::string dir;
    std::string path;
  };
  static Protocol protocol() { return Protocol(); }
  static Protocol::endpoint bind_endpoint(Place& p) {
    p.dir = sys::temp_dir() + "/" + sys::unique_ipc_name();
    sys::make_private_dir(p.dir);
    p.path = p.dir + "/s";
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

}  // namespace

extern const TransportSpec kUnixTransport{
    "unix", "Unix domain stream socket (Boost.Asio), socket file in a private 0700 directory",
    Capabilities{}, &create, &open};

}  // namespace ipcmatrix
