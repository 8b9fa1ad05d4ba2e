#include "launch.hpp"

#include <algorithm>
#include <memory>
#include <string>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/runner/worker.hpp"
#include "zygote.hpp"

namespace ipcmatrix::detail {

namespace {
std::unique_ptr<Zygote> g_zygote;
}  // namespace

ZygoteScope::ZygoteScope() {
  if (!g_zygote) g_zygote = Zygote::start();
}
ZygoteScope::~ZygoteScope() { g_zygote.reset(); }
bool ZygoteScope::active() noexcept { return g_zygote && g_zygote->alive(); }

Worker spawn_worker(std::size_t participant, std::vector<int> keep) {
  Worker w = std::move(spawn_workers({std::move(keep)}).front());
  w.participant = participant;
  return w;
}

std::vector<Worker> spawn_workers(const std::vector<std::vector<int>>& keeps) {
  std::vector<Worker> out(keeps.size());
  std::vector<sys::Fd> child_ends(keeps.size());
  for (std::size_t p = 0; p < keeps.size(); ++p) {
    out[p].participant = p;
    sys::make_socketpair(out[p].ctl, child_ends[p]);
  }
  // Participants [begin, end) go in one request while their fds, control sockets included,
  // fit in it; one too large alone, or any once the zygote is gone, is exec'd.
  std::size_t begin = 0;
  while (begin < keeps.size()) {
    std::vector<std::vector<int>> batch;
    std::size_t fds = 0, end = begin;
    for (; end < keeps.size() && batch.size() < kZygoteMaxWorkers; ++end) {
      const std::size_t need = keeps[end].size() + 1;
      if (fds + need > kZygoteMaxFds) break;
      std::vector<int> w{child_ends[end].get()};  // fds[0]: the control socket
      w.insert(w.end(), keeps[end].begin(), keeps[end].end());
      batch.push_back(std::move(w));
      fds += need;
    }
    if (!batch.empty() && ZygoteScope::active()) {
      try {
        std::vector<sys::Child> children = g_zygote->spawn(batch);
        for (std::size_t k = 0; k < children.size(); ++k) out[begin + k].child = std::move(children[k]);
        begin = end;
        continue;
      } catch (const Error&) {
        // A zygote that failed once serves no more (alive() is false); these are exec'd.
        if (g_zygote->alive()) throw;
        // Its intermediate may still have forked some of them, unknown to us: new control
        // sockets, so that those read EOF and exit before any task, and only the exec'd
        // ones take theirs.
        for (std::size_t p = begin; p < end; ++p) sys::make_socketpair(out[p].ctl, child_ends[p]);
      }
    }
    // Exec'd, one at a time: the first of the batch (or the one too large for any).
    std::vector<int> keep = keeps[begin];
    keep.push_back(child_ends[begin].get());
    out[begin].child = sys::spawn_self(
        {std::string(kWorkerFlag), std::to_string(child_ends[begin].get()), std::to_string(sys::current_pid())}, keep);
    ++begin;
  }
  return out;
}

ChannelOptions channel_options(const Cell& c, const RunConfig& cfg, std::size_t channels) {
  ChannelOptions o;
  o.wait = c.wait;
  // Only the knob the mechanism honours is set, so the options are what the cell records
  // (CellResult::channel) and a deployment of it gives back.
  const BufferKnob knob = c.mechanism->caps.buffer;
  if (knob == BufferKnob::capacity_bytes) o.capacity_bytes = ring_bytes_for(c, cfg, channels, sys::free_bytes("/dev/shm"));
  if (knob == BufferKnob::pipe_bytes) o.pipe_bytes = cfg.pipe_bytes;
  if (knob == BufferKnob::queue_messages) o.queue_messages = cfg.queue_messages;
  if (c.mechanism->caps.io_threads) o.io_threads = cfg.io_threads;
  if (c.mechanism->fit) c.mechanism->fit(o, channels);
  o.open_timeout_ms = kReadyTimeoutMs;
  return o;
}

RoleParams role_params(const Cell& c, const RunConfig& cfg, const Topology& topo, std::size_t p,
                       std::uint64_t seed) {
  const Participant& part = topo.participants[p];
  RoleParams params;
  params.role = part.role;
  params.distribution = topo.distribution;
  params.index = static_cast<int>(p);
  params.origins = topo.origins(p);
  for (const int ch : part.outs) params.out_lanes.push_back(topo.channels[static_cast<std::size_t>(ch)].lane);
  params.shared_in = topo.receives_shared(p);
  params.shared_out = topo.sends_fan_out(p);
  params.lossy = std::any_of(part.ins.begin(), part.ins.end(),
                             [&](int ch) { return topo.is_fan_out(topo.channels[static_cast<std::size_t>(ch)].endpoint); });
  params.size_bytes = c.size_bytes;
  params.serializer = c.serializer;
  params.zstd_level = cfg.zstd_level;
  params.content = cfg.content;
  params.seed = seed;
  params.messages = cfg.messages;
  params.warmup = cfg.warmup;
  params.duration_s = cfg.duration_s;
  params.min_messages = min_messages_for(c, cfg);
  // A latency cell's minimum (a p99's 100 samples) gives way to time; a throughput cell's 20
  // for its rate do not (20 of the slowest, 1 MiB zstd+json, take 1.4 s).
  if (!closed_loop_throughput(c, cfg) && cfg.duration_s > 0) params.minimum_max_s = min_messages_max_s(cfg.duration_s);
  params.rate = cfg.rate;
  params.batch = c.batch;
  params.record_hops = c.pattern->records_hops && part.role == RoleKind::consumer;
  params.api = c.api;
  params.verify = cfg.verify;
  params.latency_sample = latency_sample_for(c, cfg);
  return params;
}

}  // namespace ipcmatrix::detail
