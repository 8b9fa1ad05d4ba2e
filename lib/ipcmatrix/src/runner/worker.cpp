#include "ipcmatrix/runner/worker.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/pattern/roles.hpp"
#include "ipcmatrix/runner/control.hpp"
#include "ipcmatrix/stats/histogram_json.hpp"
#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {

namespace {

constexpr std::int64_t kTaskTimeoutMs = 60'000;
constexpr std::int64_t kStartTimeoutMs = 600'000;

RoleKind role_from(const std::string& s) {
  for (auto r : {RoleKind::initiator, RoleKind::echo, RoleKind::producer, RoleKind::consumer,
                 RoleKind::forwarder, RoleKind::peer})
    if (to_string(r) == s) return r;
  throw Error("worker", s, "unknown role");
}

nlohmann::json counts_json(const std::vector<ChannelCount>& v) {
  auto a = nlohmann::json::array();
  for (const auto& c : v) a.push_back({{"count", c.count}, {"sum", c.sum}, {"in_order", c.in_order}});
  return a;
}

nlohmann::json usage_delta(const sys::Usage& a, const sys::Usage& b) {
  return {{"user_s", b.user_s - a.user_s},
          {"sys_s", b.sys_s - a.sys_s},
          {"voluntary_ctx", b.voluntary_ctx - a.voluntary_ctx},
          {"involuntary_ctx", b.involuntary_ctx - a.involuntary_ctx},
          {"max_rss_kb", b.max_rss_kb}};
}

int run(int fd) {
  auto task = recv_record(fd, kTaskTimeoutMs);
  if (!task) return 64;
  const auto& t = *task;
  const int cpu = t.value("cpu", -1);
  if (cpu >= 0) sys::pin_to_cpu(cpu);
  if (t.contains("clock")) {
    const auto& c = t.at("clock");
    sys::ClockCalibration cal;
    cal.tsc = c.at("tsc").get<bool>();
    cal.tsc0 = c.at("tsc0").get<std::uint64_t>();
    cal.mono0 = c.at("mono0").get<std::int64_t>();
    cal.mult = c.at("mult").get<std::uint64_t>();
    sys::use_clock(cal);
  }
  (void)sys::clock_read_cost_ns();  // measured now, not inside the first timed message
  std::vector<std::unique_ptr<Transport>> outs, ins;
  // Sending ends first: they never wait for the peer, receiving ends may (sockets accept).
  for (const auto& s : t.at("outs")) {
    const ChannelSpec spec = channel_spec_from_text(s.get<std::string>());
    outs.push_back(find_transport(spec.mechanism).open(spec, Role::sender));
  }
  for (const auto& s : t.at("ins")) {
    const ChannelSpec spec = channel_spec_from_text(s.get<std::string>());
    ins.push_back(find_transport(spec.mechanism).open(spec, Role::receiver));
  }
  send_record(fd, {{"type", "ready"}, {"pid", ::getpid()}});
  auto go = recv_record(fd, kStartTimeoutMs);
  if (!go || go->value("type", "") != "start") return 65;

  const std::string role = t.at("role").get<std::string>();
  const sys::Usage u0 = sys::self_usage();
  const std::int64_t t0 = sys::monotonic_ns();
  if (role == "idle") {
    // Idle cost probe: wait for a message that never comes until the coordinator closes.
    std::vector<std::byte> buf(64);
    std::size_t len = 0;
    const IoStatus s = ins.at(0)->recv(buf, len);
    const std::int64_t t1 = sys::monotonic_ns();
    const sys::Usage u1 = sys::self_usage();
    send_record(fd, {{"type", "report"},
                     {"status", std::string(to_string(s))},
                     {"wall_s", (t1 - t0) / 1e9},
                     {"usage", usage_delta(u0, u1)},
                     {"cpu", sys::current_cpu()}});
    return 0;
  }

  RoleParams p;
  p.role = role_from(role);
  p.distribution = t.at("distribution").get<std::string>() == "all" ? Distribution::all : Distribution::round_robin;
  p.index = t.at("index").get<int>();
  p.size_bytes = t.at("size_bytes").get<std::uint64_t>();
  p.serializer = t.at("serializer").get<std::string>();
  p.zstd_level = t.at("zstd_level").get<int>();
  p.content = parse_content_mode(t.at("content").get<std::string>()).value_or(ContentMode::records);
  p.seed = t.at("seed").get<std::uint64_t>();
  p.messages = t.at("messages").get<std::uint64_t>();
  p.warmup = t.at("warmup").get<std::uint64_t>();
  p.duration_s = t.at("duration_s").get<double>();
  p.rate = t.at("rate").get<double>();
  p.batch = t.at("batch").get<int>();
  p.record_hops = t.at("record_hops").get<bool>();

  RoleReport r = run_role(p, outs, ins);
  ins.clear();
  const sys::Usage u1 = sys::self_usage();
  send_record(fd, {{"type", "report"},
                   {"error", r.error},
                   {"sent", counts_json(r.sent)},
                   {"received", counts_json(r.received)},
                   {"latency", to_json(*r.latency)},
                   {"uncorrected", to_json(*r.uncorrected)},
                   {"hop", to_json(*r.hop)},
                   {"encode_ns", r.encode_ns},
                   {"encode_samples", r.encode_samples},
                   {"decode_ns", r.decode_ns},
                   {"decode_samples", r.decode_samples},
                   {"wire_bytes", r.wire_bytes},
                   {"wire_msgs", r.wire_msgs},
                   {"measured_sent", r.measured_sent},
                   {"measured_received", r.measured_received},
                   {"first_send_ns", r.first_send_ns},
                   {"last_recv_ns", r.last_recv_ns},
                   {"usage", usage_delta(u0, u1)},
                   {"cpu", cpu}});
  return 0;
}

}  // namespace

int maybe_run_worker(int argc, char** argv) {
  if (argc < 4 || std::string_view(argv[1]) != kWorkerFlag) return -1;
  const int fd = std::atoi(argv[2]);
  sys::die_with_parent(std::atoi(argv[3]));
  sys::ignore_sigpipe();
  sys::set_cloexec(fd, true);
  try {
    return run(fd);
  } catch (const std::exception& e) {
    try {
      send_record(fd, {{"type", "error"}, {"error", e.what()}});
    } catch (...) {
    }
    std::fprintf(stderr, "ipc-matrix worker %d: %s\n", ::getpid(), e.what());
    return 1;
  }
}

}  // namespace ipcmatrix
