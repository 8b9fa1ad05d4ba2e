// `tcp`: loopback TCP through Boost.Asio with TCP_NODELAY, bound to 127.0.0.1 only: the
// reference most users would otherwise pick.
#include "socket_transport.hpp"

namespace ipcmatrix {
namespace {

struct TcpTraits {
  using Protocol = boost::asio::ip::tcp;
  static constexpr std::string_view kName = "tcp";
  struct Place {
    [[nodiscard]] std::string path() const { return {}; }  // tcp has no file
  };
  static Protocol protocol() { return Protocol::v4(); }
  static Protocol::endpoint bind_endpoint(Place&, const ChannelOptions&) {
    return {boost::asio::ip::address_v4::loopback(), 0};  // port 0: the kernel picks a free one
  }
  static int port_of(Protocol::acceptor& a) { return a.local_endpoint().port(); }
  static std::string describe(const Place&) { return "127.0.0.1"; }
  static Protocol::endpoint connect_endpoint(const ChannelSpec& s) {
    return {boost::asio::ip::address_v4::loopback(), static_cast<unsigned short>(s.port)};
  }
  static void tune(Protocol::socket& sock) {
    sock.set_option(boost::asio::ip::tcp::no_delay(true));
  }
  static void unlink_after_connect(const ChannelSpec&) {}
  static void cleanup(const Place&) noexcept {}
};

std::unique_ptr<Channel> create(const ChannelOptions& o) {
  return std::make_unique<detail::SocketChannel<TcpTraits>>(o);
}
std::unique_ptr<Transport> open(const ChannelSpec& s, Role r) {
  return detail::open_socket<TcpTraits>(s, r);
}

}  // namespace

extern const TransportSpec kTcpTransport{
    "tcp", "loopback TCP (Boost.Asio), TCP_NODELAY, bound to 127.0.0.1: the common reference",
    Capabilities{}, &create, &open, nullptr,
    SemanticsCard{
        .pollable = Pollable::fd,
        .poll_note = "the connected socket's fd",
        .boundaries = Boundaries::framed,
        .when_full = WhenFull::blocks,
        .dead_peer = "the kernel closes the connection (FIN, or RST after unread data): EOF or ECONNRESET, "
                     "peer_closed at once",
        .visibility = Visibility::port,
        .access = "a port on 127.0.0.1: any local process can connect; a peer must send the channel's random "
                  "token",
        .limits = "socket buffers up to net.core.wmem_max / rmem_max; ports from "
                  "net.ipv4.ip_local_port_range",
    }};

}  // namespace ipcmatrix
