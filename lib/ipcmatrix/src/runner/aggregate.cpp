#include "aggregate.hpp"

#include <algorithm>
#include <numeric>

#include "ipcmatrix/stats/statistics.hpp"

namespace ipcmatrix::detail {

namespace {

FigureSpread figure_spread(const Spread& s) { return {s.median, s.min, s.max, s.rel_spread, static_cast<int>(s.n)}; }

}  // namespace

CellResult figures(const Cell& c, const RunConfig& cfg, const Repetition& rep) {
  CellResult r;
  Histogram uncorrected, hop;
  std::int64_t first = 0, last = 0;
  double enc = 0, dec = 0;
  std::uint64_t enc_n = 0, dec_n = 0, wire = 0, wire_n = 0;
  for (std::size_t i = 0; i < rep.reports.size(); ++i) {
    const WorkerReport& w = rep.reports[i];
    const RoleReport& role = w.role;
    r.histogram.merge(*role.latency);
    uncorrected.merge(*role.uncorrected);
    hop.merge(*role.hop);
    if (role.first_send_ns && (!first || role.first_send_ns < first)) first = role.first_send_ns;
    last = std::max(last, role.last_recv_ns);
    enc += static_cast<double>(role.encode_ns);
    enc_n += role.encode_samples;
    dec += static_cast<double>(role.decode_ns);
    dec_n += role.decode_samples;
    wire += role.wire_bytes;
    wire_n += role.wire_msgs;
    r.messages_sent += role.measured_sent;
    r.messages_received += role.measured_received;

    ProcessStats ps;
    ps.role = std::string(to_string(rep.topology.participants[i].role));
    ps.index = static_cast<int>(i);
    ps.cpu = w.cpu;
    ps.user_s = w.usage.user_s;
    ps.sys_s = w.usage.sys_s;
    ps.voluntary_ctx = w.usage.voluntary_ctx;
    ps.involuntary_ctx = w.usage.involuntary_ctx;
    ps.max_rss_kb = w.usage.max_rss_kb;
    for (const auto& s : role.sent) ps.sent += s.count;
    for (const auto& s : role.received) ps.received += s.count;
    r.cpu.user_s += ps.user_s;
    r.cpu.sys_s += ps.sys_s;
    r.processes.push_back(ps);
  }
  r.latency_ns = summarize(r.histogram);
  if (cfg.rate > 0 && c.pattern->loop == LoopKind::rate_driven) r.latency_uncorrected_ns = summarize(uncorrected);
  if (c.pattern->records_hops) r.hop_latency_ns = summarize(hop);
  r.duration_s = (last > first && first) ? static_cast<double>(last - first) / 1e9 : 0;
  if (r.duration_s > 0) {
    r.throughput.msgs_per_s = static_cast<double>(r.messages_received) / r.duration_s;
    r.throughput.payload_bytes_per_s = r.throughput.msgs_per_s * static_cast<double>(c.size_bytes);
    r.throughput.wire_bytes_per_s = static_cast<double>(wire) / r.duration_s;
  }
  r.wire_bytes_per_msg = wire_n ? static_cast<double>(wire) / static_cast<double>(wire_n) : 0;
  r.encode_ns_per_msg = enc_n ? enc / static_cast<double>(enc_n) : 0;
  r.decode_ns_per_msg = dec_n ? dec / static_cast<double>(dec_n) : 0;
  if (r.messages_received) {
    r.cpu.per_msg_ns = (r.cpu.user_s + r.cpu.sys_s) * 1e9 / static_cast<double>(r.messages_received);
  }
  return r;
}

CellResult combine_repetitions(std::vector<CellResult> reps) {
  std::vector<double> p50, p99, tput;
  for (const auto& x : reps) {
    p50.push_back(static_cast<double>(x.histogram.value_at_percentile(50)));
    p99.push_back(static_cast<double>(x.histogram.value_at_percentile(99)));
    tput.push_back(x.throughput.msgs_per_s);
  }
  std::vector<std::size_t> order(reps.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return p50[a] < p50[b]; });
  CellResult r = std::move(reps[order[order.size() / 2]]);
  r.repetitions = static_cast<int>(reps.size());
  if (reps.size() > 1) {
    const Spread p50_spread = spread(p50), tput_spread = spread(tput);
    r.p50_spread = figure_spread(p50_spread);
    r.p99_spread = figure_spread(spread(p99));
    r.throughput_spread = figure_spread(tput_spread);
    r.noisy = is_noisy(p50_spread) || is_noisy(tput_spread);
  }
  return r;
}

}  // namespace ipcmatrix::detail
