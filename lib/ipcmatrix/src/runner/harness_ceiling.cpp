#include "harness_ceiling.hpp"

#include <algorithm>
#include <thread>

#include "aggregate.hpp"
#include "launch.hpp"
#include "ipcmatrix/sys/affinity.hpp"

namespace ipcmatrix::detail {

std::optional<double> harness_ceiling(const Cell& c, const RunConfig& cfg) {
  Repetition rep;
  rep.topology = make_topology(*c.pattern, c.procs);
  const Topology& topo = rep.topology;

  // The ring of the shm mechanism, both ends in this process: memory copies and two
  // atomics, nothing of a kernel object. Spinning only while every thread has a CPU, and
  // then each participant pinned to a CPU of its own: left to the scheduler, two spinning
  // threads were often put on one CPU and measured a ceiling of 0.4 M msgs/s where the
  // cell itself moved 20 M (and was then wrongly called harness-bound).
  const std::vector<int> cpus = sys::allowed_cpus();
  std::size_t threads = 0;
  bool one_thread_each = true;
  for (const auto& p : topo.participants) {
    threads += p.threads();
    one_thread_each = one_thread_each && p.threads() == 1;
  }
  const bool spin = threads <= cpus.size();
  const bool pin = spin && one_thread_each;
  ChannelOptions opts;
  opts.wait = spin ? Wait::spin : Wait::hybrid;
  Cell in_memory = c;
  in_memory.mechanism = &find_transport("shm");
  opts.capacity_bytes = ring_bytes_for(in_memory, cfg, topo.channels.size(), sys::free_bytes("/dev/shm"));
  std::vector<LocalPair> pairs;
  for (std::size_t i = 0; i < topo.channels.size(); ++i) pairs.push_back(open_local_pair(*in_memory.mechanism, opts));

  RunConfig limits = cfg;
  limits.messages = cfg.messages == 0 ? kCeilingMessages : std::min(cfg.messages, kCeilingMessages);
  limits.duration_s = kCeilingDurationS;
  limits.warmup = std::min<std::uint64_t>(cfg.warmup, 1000);

  rep.reports.resize(topo.participants.size());
  std::vector<std::thread> workers;
  for (std::size_t p = 0; p < topo.participants.size(); ++p) {
    const Participant& part = topo.participants[p];
    RoleParams params = role_params(c, limits, topo, p, cfg.seed);
    params.rate = 0;
    // The ceiling's rings are one per edge, never shared (an SPSC ring has one sender).
    params.out_lanes.clear();
    params.shared_in = false;
    std::vector<std::unique_ptr<Transport>> outs, ins;
    for (const int ch : part.outs) outs.push_back(std::move(pairs[static_cast<std::size_t>(ch)].sender));
    for (const int ch : part.ins) ins.push_back(std::move(pairs[static_cast<std::size_t>(ch)].receiver));
    const int cpu = pin ? cpus[p % cpus.size()] : -1;
    workers.emplace_back([&rep, p, cpu, params = std::move(params), outs = std::move(outs), ins = std::move(ins)]() mutable {
      try {
        if (cpu >= 0) sys::pin_to_cpu(cpu);  // this thread only (sched_setaffinity of tid 0)
      } catch (const std::exception&) {
        // Left unpinned: the ceiling may then come out low, never the run fail.
      }
      rep.reports[p].role = run_role(params, outs, ins);
    });
  }
  for (auto& w : workers) w.join();
  for (const auto& r : rep.reports)
    if (!r.role.error.empty()) return std::nullopt;
  const CellResult f = figures(c, limits, rep);
  if (!(f.throughput.msgs_per_s > 0)) return std::nullopt;
  return f.throughput.msgs_per_s;
}

}  // namespace ipcmatrix::detail
