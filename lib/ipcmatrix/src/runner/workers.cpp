#include "workers.hpp"

#include <string>

#include "ipcmatrix/runner/worker.hpp"

namespace ipcmatrix::detail {

Worker spawn_worker(std::size_t participant, std::vector<int> keep) {
  Worker w;
  w.participant = participant;
  sys::Fd child_end;
  sys::make_socketpair(w.ctl, child_end);
  keep.push_back(child_end.get());
  w.child = sys::spawn_self(
      {std::string(kWorkerFlag), std::to_string(child_end.get()), std::to_string(sys::current_pid())}, keep);
  return w;
}

ChannelOptions channel_options(const Cell& c, const RunConfig& cfg, std::size_t channels) {
  ChannelOptions o;
  if (c.wait) o.wait = *c.wait;
  o.capacity_bytes = ring_bytes_for(c, cfg, channels, sys::free_bytes("/dev/shm"));
  o.pipe_bytes = cfg.pipe_bytes;
  o.open_timeout_ms = kReadyTimeoutMs;
  return o;
}

}  // namespace ipcmatrix::detail
