#include "aggregate.hpp"

#include <algorithm>
#include <numeric>
#include <string_view>

#include <fmt/format.h>

#include "ipcmatrix/stats/statistics.hpp"

namespace ipcmatrix::detail {

namespace {

/// How a cell's publish/subscribe drops are worded (the warning's kind, and how
/// combine_repetitions() finds it).
constexpr std::string_view kDropWarning = "publish/subscribe dropped messages";

constexpr double kMinWindowMs = 100;
constexpr std::uint64_t kMinWindowMsgs = 100;  // the default --min-messages: a p99 resolved
constexpr std::int64_t kSkewWarnNs = 1000;
constexpr double kTickS = 0.01;  // the kernel's CPU accounting granularity (USER_HZ)

}  // namespace

CellResult figures(const Cell& c, const RunConfig& cfg, const Repetition& rep) {
  CellResult r;
  r.channel = {rep.options.capacity_bytes, rep.options.pipe_bytes, rep.options.queue_messages,
               static_cast<std::uint64_t>(rep.options.io_threads),
               static_cast<std::uint64_t>(rep.options.receivers)};
  Histogram uncorrected, hop;
  std::int64_t first = 0, last = 0, most_negative = 0;
  double enc = 0, dec = 0, phase_s = 0;
  std::uint64_t enc_n = 0, dec_n = 0, wire = 0, wire_n = 0, window_msgs = 0, receivers = 0, fallbacks = 0;
  for (std::size_t i = 0; i < rep.reports.size(); ++i) {
    const WorkerReport& w = rep.reports[i];
    const RoleReport& role = w.role;
    r.histogram.merge(*role.latency);
    uncorrected.merge(*role.uncorrected);
    hop.merge(*role.hop);
    if (role.first_recv_ns && role.last_recv_ns > role.first_recv_ns) {
      if (!first || role.first_recv_ns < first) first = role.first_recv_ns;
      last = std::max(last, role.last_recv_ns);
      window_msgs += role.window_msgs;
      ++receivers;
    }
    enc += static_cast<double>(role.encode_ns);
    enc_n += role.encode_samples;
    dec += static_cast<double>(role.decode_ns);
    dec_n += role.decode_samples;
    wire += role.wire_bytes;
    wire_n += role.wire_msgs;
    fallbacks += role.loan_fallbacks;
    r.messages_sent += role.measured_sent;
    r.messages_received += role.measured_received;
    r.negative_one_way += role.negative_diffs;
    most_negative = std::min(most_negative, role.most_negative_ns);
    r.cpu.pacer_s += static_cast<double>(role.pacer_spin_ns) / 1e9;
    phase_s += w.wall_s;

    ProcessStats ps;
    ps.role = std::string(to_string(rep.topology.participants[i].role));
    ps.index = static_cast<int>(i);
    ps.cpu = w.cpu;
    ps.user_s = w.usage.user_s;
    ps.sys_s = w.usage.sys_s;
    ps.voluntary_ctx = w.usage.voluntary_ctx;
    ps.involuntary_ctx = w.usage.involuntary_ctx;
    ps.max_rss_kb = w.usage.max_rss_kb;
    // A fan-out producer's count stands for each of its out-edges: it published them once.
    if (rep.topology.sends_fan_out(i) && !role.sent.empty()) {
      ps.sent = role.sent.front().count;
    } else {
      for (const auto& s : role.sent) ps.sent += s.count;
    }
    for (const auto& s : role.received) ps.received += s.count;
    r.cpu.user_s += ps.user_s;
    r.cpu.sys_s += ps.sys_s;
    r.processes.push_back(ps);
    if (ps.max_rss_kb > 0) r.peak_rss_kb = std::max(r.peak_rss_kb, ps.max_rss_kb);
  }
  r.messages_dropped = rep.dropped;
  if (rep.dropped > 0) {
    r.warnings.push_back(fmt::format(
        "{}: {} of {} ({:.1f}%) never reached a subscriber that fell behind (counted, not an error: the sender "
        "never waits); the summary picks only loss-free cells",
        kDropWarning, rep.dropped, rep.lossy_sent, 100.0 * static_cast<double>(rep.dropped) / static_cast<double>(rep.lossy_sent)));
  }
  r.latency_ns = summarize(r.histogram);
  if (cfg.rate > 0 && c.pattern->loop == LoopKind::rate_driven) r.latency_uncorrected_ns = summarize(uncorrected);
  if (c.pattern->records_hops) r.hop_latency_ns = summarize(hop);
  // Throughput over the receivers' window, from the first measured receive to the last
  // stamped one: each receiver's first message opens its window rather than ending an
  // interval, so it is not counted.
  r.duration_s = last > first && first ? static_cast<double>(last - first) / 1e9 : 0;
  r.wire_bytes_per_msg = wire_n ? static_cast<double>(wire) / static_cast<double>(wire_n) : 0;
  if (r.duration_s > 0 && window_msgs > receivers) {
    r.throughput.msgs_per_s = static_cast<double>(window_msgs - receivers) / r.duration_s;
    r.throughput.payload_bytes_per_s = r.throughput.msgs_per_s * static_cast<double>(c.size_bytes);
    r.throughput.wire_bytes_per_s = r.throughput.msgs_per_s * r.wire_bytes_per_msg;
  }
  r.encode_ns_per_msg = enc_n ? enc / static_cast<double>(enc_n) : 0;
  r.decode_ns_per_msg = dec_n ? dec / static_cast<double>(dec_n) : 0;
  if (r.messages_received) {
    const double busy_s = std::max(0.0, r.cpu.user_s + r.cpu.sys_s - r.cpu.pacer_s);
    r.cpu.per_msg_ns = busy_s * 1e9 / static_cast<double>(r.messages_received);
  }

  // A closed-loop throughput cell's rate needs kRateMinMessages arrivals; a latency cell's
  // p99 needs kMinWindowMsgs samples.
  const bool throughput = closed_loop_throughput(c, cfg);
  const std::uint64_t min_msgs = throughput ? kRateMinMessages : kMinWindowMsgs;
  if (r.duration_s * 1e3 < kMinWindowMs || (throughput && window_msgs < min_msgs)) {
    r.warnings.push_back(fmt::format("short throughput window: {} messages in {:.1f} ms (under {} messages or "
                                     "{:.0f} ms); its msgs/s is imprecise",
                                     window_msgs, r.duration_s * 1e3, min_msgs, kMinWindowMs));
  } else if (!throughput && window_msgs < min_msgs) {
    // A long enough window of slow messages (the minimum's time cap, pattern/roles.hpp
    // kMinMessagesExtraS, ended it): its rate is fine, its tail is not there to report.
    r.warnings.push_back(fmt::format("few samples: {} in {:.0f} ms (a p99 needs {}), so its p99 is left out",
                                     window_msgs, r.duration_s * 1e3, min_msgs));
  }
  if (most_negative < -kSkewWarnNs) {
    r.warnings.push_back(fmt::format("{} one-way latencies came out negative, down to {} ns: the CPUs' clocks "
                                     "disagree, so one-way figures are off by up to that much (recorded as 0)",
                                     r.negative_one_way, most_negative));
  }
  if (fallbacks > 0) {
    r.warnings.push_back(fmt::format("{} messages were larger than the ring and went by copy, not loan", fallbacks));
  }
  // CPU time over a phase cannot exceed the phase's wall time per process, give or take the
  // kernel's accounting tick.
  const double cpu_s = r.cpu.user_s + r.cpu.sys_s;
  if (cpu_s > phase_s + kTickS * static_cast<double>(rep.reports.size()) * 2) {
    r.warnings.push_back(fmt::format("CPU time {:.3f} s exceeds the processes' measured phases ({:.3f} s)", cpu_s,
                                     phase_s));
  }
  return r;
}

CellResult combine_repetitions(std::vector<CellResult> reps, bool by_throughput) {
  std::vector<double> p50, p99, tput, cpu;
  for (const auto& x : reps) {
    p50.push_back(static_cast<double>(x.histogram.value_at_percentile(50)));
    p99.push_back(static_cast<double>(x.histogram.value_at_percentile(99)));
    tput.push_back(x.throughput.msgs_per_s);
    cpu.push_back(x.cpu.per_msg_ns);
  }
  std::vector<std::size_t> order(reps.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  // The median repetition by the cell's primary figure.
  const std::vector<double>& primary = by_throughput ? tput : p50;
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return primary[a] < primary[b]; });
  // messages_dropped is the worst repetition's, and so is the warning that explains it.
  std::size_t worst = 0;
  for (std::size_t i = 0; i < reps.size(); ++i)
    if (reps[i].messages_dropped > reps[worst].messages_dropped) worst = i;
  const std::uint64_t most_dropped = reps[worst].messages_dropped;
  std::vector<std::string> drop_warnings;
  for (const std::string& w : reps[worst].warnings)
    if (w.starts_with(kDropWarning)) drop_warnings.push_back(w);
  CellResult r = std::move(reps[order[order.size() / 2]]);
  r.messages_dropped = most_dropped;
  std::erase_if(r.warnings, [](const std::string& w) { return w.starts_with(kDropWarning); });
  r.warnings.insert(r.warnings.end(), drop_warnings.begin(), drop_warnings.end());
  r.repetitions = static_cast<int>(reps.size());
  if (reps.size() > 1) {
    r.set_repetition_spreads(std::move(p50), std::move(p99), std::move(tput), std::move(cpu), by_throughput);
  }
  return r;
}

}  // namespace ipcmatrix::detail
