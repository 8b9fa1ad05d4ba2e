#pragma once
// Private to runner/: launching a cell's worker processes (the coordinator's side; worker.hpp
// is the process's own) and the channel options they open with, shared by the repetition
// runner and the idle probe.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ipcmatrix/runner/plan.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"

namespace ipcmatrix::detail {

/// How long a worker may take to open its channels and say ready.
inline constexpr std::int64_t kReadyTimeoutMs = 60'000;

/// A spawned participant and the coordinator's end of its control socket.
struct Worker {
  sys::Child child;
  sys::Fd ctl;
  std::size_t participant = 0;
};

/// A worker for `participant`: forked by the run's zygote while a ZygoteScope lives
/// (runner/zygote.hpp), else this binary re-executed. Either way the fds in `keep` (channel
/// ends the worker inherits) are open in it at the same numbers. Throws Error.
[[nodiscard]] Worker spawn_worker(std::size_t participant, std::vector<int> keep);

/// A worker for each participant p with the fds keeps[p], as spawn_worker(), but forked
/// by the zygote as few requests as fit its limits (one for every pattern's usual
/// participants); workers[p] is participant p's. Throws Error (the workers it spawned are killed
/// and reaped then).
[[nodiscard]] std::vector<Worker> spawn_workers(const std::vector<std::vector<int>>& keeps);

/// The run's zygote, from construction to destruction: made once per run before its first
/// cell, since its process and socket must predate every repetition's leak check. Without
/// one (a unit test's repetition, or a zygote that could not start or died) workers are
/// exec'd. One at a time per process; not thread-safe (the coordinator's thread spawns).
class ZygoteScope {
 public:
  ZygoteScope();
  ~ZygoteScope();
  ZygoteScope(const ZygoteScope&) = delete;
  ZygoteScope& operator=(const ZygoteScope&) = delete;
  /// Whether workers are being forked by a zygote now.
  [[nodiscard]] static bool active() noexcept;
};

/// What the mechanism of cell `c` is created with: its wait strategy (hybrid spins for
/// kDefaultSpinNs), the ring size for a cell of `channels` channels (ring_bytes_for()), the
/// pipe size of the config, and the open timeout.
[[nodiscard]] ChannelOptions channel_options(const Cell& c, const RunConfig& cfg, std::size_t channels);

/// The role loop parameters of participant p of cell c: its role and origins in `topo`, the
/// cell's dimensions and the config's limits, message seed `seed`.
[[nodiscard]] RoleParams role_params(const Cell& c, const RunConfig& cfg, const Topology& topo, std::size_t p,
                                     std::uint64_t seed);

}  // namespace ipcmatrix::detail
