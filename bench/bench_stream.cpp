// Streaming throughput of small messages with batching, producer and consumer in two
// processes: the transport's ceiling without the matrix's per-message measurement
// (which adds one CLOCK_MONOTONIC read per message on each side, ~25 ns here).
//
//   bench_stream [--size 64] [--messages 20000000] [--batch 64] [--mechanisms unix,pipe,shm]
//
// Every message carries its sequence number and the consumer checks each one plus an
// XOR of all payload words, so a dropped, duplicated, reordered or corrupted message
// fails the run instead of inflating the number.
#include <CLI/CLI.hpp>
#include <cstring>
#include <fmt/core.h>

#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "ipcmatrix/util/aligned_buffer.hpp"

using namespace ipcmatrix;

namespace {

struct Config {
  std::size_t size = 64;
  std::uint64_t messages = 20'000'000;
  int batch = 64;
  int reps = 3;
  std::vector<std::string> mechanisms{"pipe", "unix", "shm"};
  std::string wait = "spin";
};

std::uint64_t fold(const std::byte* p, std::size_t n) {
  std::uint64_t x = 0;
  for (std::size_t i = 0; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    x ^= w;
  }
  return x;
}

struct Result {
  double msgs_per_s = 0;
  bool ok = false;
};

// The CPUs allowed at start-up: once this process pins itself, allowed_cpus() shrinks.
const std::vector<int>& startup_cpus() {
  static const std::vector<int> cpus = sys::allowed_cpus();
  return cpus;
}

Result stream_once(const Config& c, const TransportSpec& t) {
  ChannelOptions o;
  o.wait = parse_name<Wait>(c.wait).value_or(Wait::spin);
  auto ch = t.create(o);
  const auto rx_spec = ch->spec(Role::receiver);
  const auto tx_spec = ch->spec(Role::sender);
  sys::Fd res_r, res_w;
  sys::make_pipe(res_r, res_w);
  const auto& cpus = startup_cpus();
  auto child = sys::fork_child([&] {
    if (cpus.size() >= 2) sys::pin_to_cpu(cpus[1]);
    for (const int fd : tx_spec.inherited_fds())
      if (fd >= 0) ::close(fd);
    auto in = t.open(rx_spec, Role::receiver);
    AlignedBuffer buf(c.size + 64);  // page-aligned, as the matrix's receivers
    std::uint64_t x = 0;
    for (std::uint64_t i = 0; i < c.messages; ++i) {
      std::size_t len = 0;
      if (in->recv(buf, len) != IoStatus::ok || len != c.size) return 2;
      std::uint64_t seq;
      std::memcpy(&seq, buf.data(), 8);
      if (seq != i) return 3;
      x ^= fold(buf.data(), len);
    }
    const std::int64_t end = sys::monotonic_ns();
    const std::uint64_t out[2] = {static_cast<std::uint64_t>(end), x};
    sys::write_all(res_w.get(), out, sizeof out, "result");
    return 0;
  });
  if (cpus.size() >= 2) sys::pin_to_cpu(cpus[0]);
  auto out = t.open(ch->take(Role::sender), Role::sender);
  ch->close_local_fds();
  res_w.reset();
  std::vector<std::byte> msgs(static_cast<std::size_t>(c.batch) * c.size);
  for (std::size_t k = 0; k < msgs.size(); ++k) msgs[k] = static_cast<std::byte>(k * 131 + 7);
  // Only the first word (the sequence number) changes, so the fold of the rest of each
  // slot is computed once: the producer's own work per message stays tiny.
  std::vector<std::uint64_t> rest(static_cast<std::size_t>(c.batch));
  for (std::size_t k = 0; k < rest.size(); ++k) {
    std::byte* m = msgs.data() + k * c.size;
    std::memset(m, 0, 8);
    rest[k] = fold(m, c.size);
  }
  std::vector<std::span<const std::byte>> views(static_cast<std::size_t>(c.batch));
  std::uint64_t x = 0;
  const std::int64_t start = sys::monotonic_ns();
  for (std::uint64_t i = 0; i < c.messages;) {
    const std::size_t n = std::min<std::uint64_t>(static_cast<std::uint64_t>(c.batch), c.messages - i);
    for (std::size_t k = 0; k < n; ++k) {
      std::byte* m = msgs.data() + k * c.size;
      const std::uint64_t seq = i + k;
      std::memcpy(m, &seq, 8);
      x ^= seq ^ rest[k];
      views[k] = {m, c.size};
    }
    if (out->send_batch({views.data(), n}) != IoStatus::ok) return {};
    i += n;
  }
  out.reset();
  std::uint64_t back[2] = {0, 0};
  const bool got = sys::read_exact(res_r.get(), back, sizeof back, 120'000, "result");
  auto st = child.wait_for(std::chrono::seconds(60));
  if (!got || !st || !st->ok() || back[1] != x) return {};
  return {c.messages / ((static_cast<std::int64_t>(back[0]) - start) / 1e9), true};
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  (void)startup_cpus();
  CLI::App app{"Streaming throughput with batching (transport ceiling, every message verified)"};
  app.add_option("--size", c.size, "message bytes (>= 8)")->check(CLI::Range(std::size_t{8}, std::size_t{1} << 20));
  app.add_option("--messages", c.messages, "messages per run")->check(CLI::PositiveNumber);
  app.add_option("--batch", c.batch, "messages per send_batch")->check(CLI::Range(1, 4096));
  app.add_option("--reps", c.reps, "runs per mechanism (the median is reported)")->check(CLI::Range(1, 50));
  app.add_option("--mechanisms", c.mechanisms, "mechanisms")->delimiter(',');
  app.add_option("--wait", c.wait, "shm wait strategy")->check(CLI::IsMember({"spin", "block", "hybrid"}));
  CLI11_PARSE(app, argc, argv);
  fmt::print("# stream {} B messages, batch {}, {} messages, {} reps, shm wait {}\n", c.size, c.batch, c.messages,
             c.reps, c.wait);
  fmt::print("{:<10} {:>14} {:>12}   runs\n", "mechanism", "median msg/s", "MB/s");
  int rc = 0;
  for (const auto& name : c.mechanisms) {
    std::vector<double> v;
    for (int r = 0; r < c.reps; ++r) {
      const Result res = stream_once(c, find_transport(name));
      if (!res.ok) {
        fmt::print("{:<10} FAILED (lost, reordered or corrupted messages, or a peer error)\n", name);
        rc = 1;
        break;
      }
      v.push_back(res.msgs_per_s);
    }
    if (v.size() != static_cast<std::size_t>(c.reps)) continue;
    std::sort(v.begin(), v.end());
    const double med = v[v.size() / 2];
    std::string runs;
    for (double x : v) runs += fmt::format(" {:.2f}M", x / 1e6);
    fmt::print("{:<10} {:>13.2f}M {:>12.1f}  {}\n", name, med / 1e6, med * c.size / 1e6, runs);
  }
  return rc;
}
