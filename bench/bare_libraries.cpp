#include "bare_libraries.hpp"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "ipcmatrix/runner/floor.hpp"
#include "ipcmatrix/stats/statistics.hpp"
#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/byte_order.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/ipc_names.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/util/aligned_buffer.hpp"

namespace ipcmatrix::bench {
namespace {

constexpr std::size_t kBatch = 64;  // messages between two clock reads
constexpr std::int64_t kChildTimeoutMs = 60'000;
constexpr std::string_view kFlag = "--bare-library";

// ZeroMQ as cppzmq's documentation shows it: a context, a socket, bind or connect, then
// send and recv of buffers (zmq_send / zmq_recv underneath).
class Zmq {
 public:
  Zmq(bool push, const std::string& path, bool bind)
      : sock_(ctx_, push ? zmq::socket_type::push : zmq::socket_type::pull) {
    if (bind)
      sock_.bind("ipc://" + path);
    else
      sock_.connect("ipc://" + path);
  }
  void send(std::span<const std::byte> m) { (void)sock_.send(zmq::const_buffer(m.data(), m.size())); }
  std::size_t recv(std::span<std::byte> buf) {
    const auto r = sock_.recv(zmq::mutable_buffer(buf.data(), buf.size()));
    return r ? r->untruncated_size : 0;
  }

 private:
  zmq::context_t ctx_;
  zmq::socket_t sock_;
};

// nng as its manual shows it: nng_push0_open / nng_pull0_open, nng_listen / nng_dial,
// nng_send / nng_recv with the caller's buffer.
class Nng {
 public:
  Nng(bool push, const std::string& path, bool bind) {
    check(push ? nng_push0_open(&sock_) : nng_pull0_open(&sock_));
    if (!push) check(nng_socket_set_size(sock_, NNG_OPT_RECVMAXSZ, 0));  // no limit
    const std::string url = "ipc://" + path;
    check(bind ? nng_listen(sock_, url.c_str(), nullptr, 0) : nng_dial(sock_, url.c_str(), nullptr, 0));
  }
  Nng(const Nng&) = delete;
  Nng& operator=(const Nng&) = delete;
  ~Nng() { nng_close(sock_); }
  void send(std::span<const std::byte> m) { check(nng_send(sock_, const_cast<std::byte*>(m.data()), m.size(), 0)); }
  std::size_t recv(std::span<std::byte> buf) {
    std::size_t n = buf.size();
    check(nng_recv(sock_, buf.data(), &n, 0));
    return n;
  }

 private:
  static void check(int rv) {
    if (rv != 0) throw std::runtime_error(std::string("nng: ") + nng_strerror(rv));
  }
  nng_socket sock_ = NNG_SOCKET_INITIALIZER;
};

void pin(int cpu) {
  if (cpu >= 0) sys::pin_to_cpu(cpu);
}

/// A private directory for one socket file, removed on destruction.
struct SocketPath {
  std::string dir = sys::temp_dir() + "/" + sys::unique_ipc_name();
  std::string path = dir + "/s";
  SocketPath() { sys::make_private_dir(dir); }
  SocketPath(const SocketPath&) = delete;
  SocketPath& operator=(const SocketPath&) = delete;
  ~SocketPath() { sys::remove_quietly(path, dir); }
};

/// A one-way signal between the processes of a measurement: notify() writes a byte,
/// wait() reads it (false on end-of-file or after kChildTimeoutMs).
struct Signal {
  sys::Fd r, w;
  Signal() { sys::make_pipe(r, w); }
  void notify() const { sys::write_all(w.get(), "1", 1, "bare signal"); }
  [[nodiscard]] bool wait() const {
    char c = 0;
    return sys::read_exact(r.get(), &c, 1, kChildTimeoutMs, "bare signal");
  }
};

/// The figure a child wrote, then both children reaped (killed if they overstay).
std::optional<double> collect(Signal& result, sys::Child& a, sys::Child& b) {
  result.w.reset();
  double v = 0;
  const bool got = sys::read_exact(result.r.get(), &v, sizeof v, kChildTimeoutMs, "bare result");
  const auto sa = a.wait_for(std::chrono::milliseconds(kChildTimeoutMs));
  const auto sb = b.wait_for(std::chrono::milliseconds(kChildTimeoutMs));
  if (!got || !sa || !sa->ok() || !sb || !sb->ok() || !(v > 0)) return std::nullopt;
  return v;
}

template <class Lib>
std::optional<double> stream(std::size_t size, int cpu_a, int cpu_b, std::int64_t cap_ns) {
  size = std::max<std::size_t>(size, 8);
  const std::size_t batch = std::clamp<std::size_t>(kBareSourceBytes / size, 1, kBatch);
  const SocketPath where;
  Signal bound, result;
  sys::Fd consumer_alive_r, consumer_alive_w;  // hangs up when the consumer has exited
  sys::make_pipe(consumer_alive_r, consumer_alive_w);
  auto consumer = sys::fork_child([&] {
    pin(cpu_b);
    Lib in(false, where.path, true);
    bound.notify();
    AlignedBuffer buf(size);
    StreamWindow window(batch);
    for (;;) {
      const std::size_t len = in.recv(buf);
      if (len == 0) break;  // the producer's empty end message
      if (len != size || sys::load_le64(buf.data()) != window.messages()) return 2;
      window.count();
    }
    const double rate = window.msgs_per_s();
    sys::write_all(result.w.get(), &rate, sizeof rate, "bare result");
    return 0;
  });
  consumer_alive_w.reset();
  auto producer = sys::fork_child([&] {
    pin(cpu_a);
    if (!bound.wait()) return 3;
    Lib out(true, where.path, false);
    std::vector<std::vector<std::byte>> msgs(batch, std::vector<std::byte>(size, std::byte{0x5a}));
    const std::int64_t until = sys::now_ns() + cap_ns;
    for (std::uint64_t i = 0; sys::now_ns() < until; i += batch) {
      for (std::size_t k = 0; k < batch; ++k) {
        sys::store_le64(msgs[k].data(), i + k);
        out.send(msgs[k]);
      }
    }
    out.send({});
    // Keep the socket until the consumer has taken everything (it exits then).
    char c = 0;
    (void)sys::read_exact(consumer_alive_r.get(), &c, 1, kChildTimeoutMs, "bare consumer");
    return 0;
  });
  consumer_alive_r.reset();
  return collect(result, producer, consumer);
}

/// One process of a round trip: binds its PULL socket at `mine`, says so, waits until the
/// peer has bound `theirs`, then connects its PUSH socket there.
template <class Lib>
struct RoundTripSide {
  Lib in;
  std::optional<Lib> out;
  RoundTripSide(const SocketPath& mine, const SocketPath& theirs, const Signal& bound, const Signal& peer_bound)
      : in(false, mine.path, true) {
    bound.notify();
    if (!peer_bound.wait()) throw std::runtime_error("the peer process never bound its socket");
    out.emplace(true, theirs.path, false);
  }
};

template <class Lib>
std::optional<double> pingpong(std::size_t size, std::uint64_t rounds, int cpu_a, int cpu_b) {
  const SocketPath there, back;  // initiator -> echo, echo -> initiator
  Signal echo_bound, initiator_bound, result;
  const std::uint64_t total = rounds + rounds / 10;
  // Hangs up when the initiator has exited. nng_close drops what is still queued (no
  // linger), so an echo that closed right after its last send lost that reply now and then
  // and left the initiator waiting: the echo keeps its sockets until then.
  sys::Fd initiator_alive_r, initiator_alive_w;
  sys::make_pipe(initiator_alive_r, initiator_alive_w);
  auto echo = sys::fork_child([&] {
    initiator_alive_w.reset();
    pin(cpu_b);
    RoundTripSide<Lib> side(there, back, echo_bound, initiator_bound);
    AlignedBuffer buf(size);
    for (std::uint64_t i = 0; i < total; ++i) {
      const std::size_t len = side.in.recv(buf);
      side.out->send({buf.data(), len});
    }
    char c = 0;
    (void)sys::read_exact(initiator_alive_r.get(), &c, 1, kChildTimeoutMs, "bare initiator");
    return 0;
  });
  initiator_alive_r.reset();
  auto initiator = sys::fork_child([&] {
    pin(cpu_a);
    RoundTripSide<Lib> side(back, there, initiator_bound, echo_bound);
    AlignedBuffer buf(size, std::byte{1});
    std::vector<double> rtt;
    rtt.reserve(rounds);
    for (std::uint64_t i = 0; i < total; ++i) {
      const std::int64_t t0 = sys::now_ns();
      side.out->send(buf);
      if (side.in.recv(buf) != size) return 2;
      if (i >= total - rounds) rtt.push_back(static_cast<double>(sys::now_ns() - t0));
    }
    const double p50 = median(rtt);
    sys::write_all(result.w.get(), &p50, sizeof p50, "bare result");
    return 0;
  });
  initiator_alive_w.reset();
  return collect(result, initiator, echo);
}

// One measurement, in this (fresh) process: `count` is the cap in ns for a stream, the
// number of rounds for a round trip.
template <class Lib>
std::optional<double> measure(std::string_view pattern, std::size_t size, std::uint64_t count, int cpu_a, int cpu_b) {
  if (pattern == "stream") return stream<Lib>(size, cpu_a, cpu_b, static_cast<std::int64_t>(count));
  return pingpong<Lib>(size, count, cpu_a, cpu_b);
}

/// Runs the measurement in a re-executed copy of this binary; its figure comes back on a pipe.
std::optional<double> in_fresh_process(std::string_view mechanism, std::string_view pattern, std::size_t size,
                                       std::uint64_t count, int cpu_a, int cpu_b) {
  sys::Fd r, w;
  sys::make_pipe(r, w);
  const std::vector<std::string> args{std::string(kFlag),    std::to_string(w.get()), std::string(mechanism),
                                      std::string(pattern),  std::to_string(size),    std::to_string(count),
                                      std::to_string(cpu_a), std::to_string(cpu_b)};
  const int keep[] = {w.get()};
  sys::Child child = sys::spawn_self(args, keep);
  w.reset();
  double v = 0;
  const bool got = sys::read_exact(r.get(), &v, sizeof v, 3 * kChildTimeoutMs, "bare result");
  const auto st = child.wait_for(std::chrono::milliseconds(kChildTimeoutMs));
  if (!got || !st || !st->ok() || !(v > 0)) return std::nullopt;
  return v;
}

}  // namespace

int maybe_run_library_bare(int argc, char** argv) {
  if (argc != 9 || argv[1] != kFlag) return -1;
  const int fd = std::atoi(argv[2]);
  const std::string_view mechanism = argv[3], pattern = argv[4];
  const std::size_t size = std::strtoull(argv[5], nullptr, 10);
  const std::uint64_t count = std::strtoull(argv[6], nullptr, 10);
  const int cpu_a = std::atoi(argv[7]), cpu_b = std::atoi(argv[8]);
  std::optional<double> v;
  if (mechanism == "zmq") v = measure<Zmq>(pattern, size, count, cpu_a, cpu_b);
  if (mechanism == "nng") v = measure<Nng>(pattern, size, count, cpu_a, cpu_b);
  const double out = v.value_or(0);
  sys::write_all(fd, &out, sizeof out, "bare result");
  return v ? 0 : 1;
}

bool has_library_bare(std::string_view mechanism) noexcept { return mechanism == "zmq" || mechanism == "nng"; }

std::optional<double> library_bare_stream(std::string_view mechanism, std::size_t size, int cpu_a, int cpu_b,
                                          std::int64_t cap_ns) {
  return in_fresh_process(mechanism, "stream", size, static_cast<std::uint64_t>(cap_ns), cpu_a, cpu_b);
}

std::optional<double> library_bare_pingpong_p50_ns(std::string_view mechanism, std::size_t size, std::uint64_t rounds,
                                                   int cpu_a, int cpu_b) {
  return in_fresh_process(mechanism, "pingpong", size, rounds, cpu_a, cpu_b);
}

}  // namespace ipcmatrix::bench
