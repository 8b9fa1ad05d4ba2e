#pragma once
// Connection set-up shared by the stream-socket mechanisms (unix, tcp), over any Asio
// stream protocol. The coordinator binds and listens at create(), so the sender's
// connect() completes into the backlog whatever order the two sides open in (two
// processes each opening one channel of a ping-pong pair cannot deadlock). The
// listening fd is inherited by the receiver, which accepts, checks the random token the
// sender writes first (a stranger who guessed the path or port is refused), and closes
// the listener at once.

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "stream_transport.hpp"

namespace ipcmatrix::detail {

inline constexpr std::size_t kTokenBytes = 16;

/// Traits: Protocol (Asio), std::string_view name, endpoint for a spec, bind endpoint,
/// fill_spec(spec) after bind, tune(socket), cleanup after both ends are connected.
template <class Traits>
class SocketChannel final : public Channel {
 public:
  using Protocol = typename Traits::Protocol;

  explicit SocketChannel(const ChannelOptions& o) : token_(sys::random_id()), opts_(o) {
    boost::asio::io_context io;
    typename Protocol::acceptor acc(io);
    boost::system::error_code ec;
    auto ep = Traits::bind_endpoint(place_, o);
    acc.open(ep.protocol(), ec);
    if (!ec) acc.bind(ep, ec);
    if (!ec) acc.listen(1, ec);
    if (ec) {
      Traits::cleanup(place_);
      throw Error(to_std(ec), Traits::kName, Traits::describe(place_), "listen: " + ec.message());
    }
    port_ = Traits::port_of(acc);
    listener_.reset(acc.release());
    sys::set_cloexec(listener_.get(), true);
  }
  ~SocketChannel() override { Traits::cleanup(place_); }

  ChannelSpec spec(Role r) const override {
    ChannelSpec s;
    s.mechanism = std::string(Traits::kName);
    s.name = place_.path();
    s.port = port_;
    s.token = token_;
    s.open_timeout_ms = opts_.open_timeout_ms;
    if (r == Role::receiver) s.fd = listener_.get();
    return s;
  }
  ChannelSpec take(Role r) override {
    ChannelSpec s = spec(r);
    if (r == Role::receiver) s.fd = listener_.release();
    return s;
  }
  void close_local_fds() noexcept override { listener_.reset(); }

 private:
  typename Traits::Place place_;
  int port_ = 0;
  sys::Fd listener_;
  std::string token_;
  ChannelOptions opts_;
};

template <class Traits>
std::unique_ptr<Transport> open_socket(const ChannelSpec& s, Role role) {
  using Protocol = typename Traits::Protocol;
  using Socket = typename Protocol::socket;
  sys::ignore_sigpipe();
  if (s.token.size() != kTokenBytes) throw Error(Traits::kName, s.name, "spec has no valid token");
  int fd = -1;
  if (role == Role::receiver) {
    if (s.fd < 0) throw Error(Traits::kName, s.name, "receiver spec carries no listening fd");
    sys::Fd listener(s.fd);
    if (!sys::wait_readable(listener.get(), s.open_timeout_ms))
      throw Error(std::make_error_code(std::errc::timed_out), Traits::kName, s.name,
                  "sender did not connect within " + std::to_string(s.open_timeout_ms) + " ms");
    boost::asio::io_context io;
    typename Protocol::acceptor acc(io);
    boost::system::error_code ec;
    acc.assign(Traits::protocol(), listener.release(), ec);
    Socket sock(io);
    if (!ec) acc.accept(sock, ec);
    if (ec) throw Error(to_std(ec), Traits::kName, s.name, "accept: " + ec.message());
    // Both ends are connected: the path has done its job, remove it now so a crash
    // later cannot leave it behind.
    Traits::unlink_after_connect(s);
    char tok[kTokenBytes];
    if (!sys::wait_readable(sock.native_handle(), s.open_timeout_ms))
      throw Error(Traits::kName, s.name, "peer sent no token");
    boost::asio::read(sock, boost::asio::buffer(tok), ec);
    if (ec || std::string_view(tok, kTokenBytes) != s.token)
      throw Error(std::make_error_code(std::errc::permission_denied), Traits::kName, s.name,
                  "connection did not present this channel's token");
    fd = sock.release();
  } else {
    boost::asio::io_context io;
    Socket sock(io);
    boost::system::error_code ec;
    sock.connect(Traits::connect_endpoint(s), ec);
    if (ec) throw Error(to_std(ec), Traits::kName, s.name, "connect: " + ec.message());
    Traits::tune(sock);
    boost::asio::write(sock, boost::asio::buffer(s.token.data(), kTokenBytes), ec);
    if (ec) throw Error(to_std(ec), Traits::kName, s.name, "token write: " + ec.message());
    fd = sock.release();
  }
  sys::set_cloexec(fd, true);
  return std::make_unique<StreamTransport<Socket>>([fd](boost::asio::io_context& io) {
    Socket sock(io);
    sock.assign(Traits::protocol(), fd);
    return sock;
  });
}

}  // namespace ipcmatrix::detail
