#pragma once
// Who has opened a shared-memory channel, who has closed it, and whether the peer is
// still alive. Lives inside shared memory, so it is plain data with lock-free atomics.

#include <atomic>
#include <cstdint>
#include <type_traits>
#include <unistd.h>

#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix::detail {

struct alignas(kCacheLine) LivenessBlock {
  std::atomic<std::int32_t> pid[2];     // indexed by Role; 0 until that side opens
  std::atomic<std::uint32_t> closed[2]; // 1 once that side closed cleanly
  std::atomic<std::uint32_t> opened;    // number of sides that have opened
};
static_assert(std::atomic<std::int32_t>::is_always_lock_free);
static_assert(std::is_trivially_destructible_v<LivenessBlock>);

/// Process-local view of a LivenessBlock for one role.
class PeerWatch {
 public:
  PeerWatch(LivenessBlock* b, Role self) noexcept : b_(b), self_(static_cast<int>(self)) {}

  /// Records this side as open. Returns true when this was the second side to open: the
  /// caller then unlinks the channel's names (both ends hold mappings; nothing can leak).
  bool mark_open() noexcept {
    b_->pid[self_].store(::getpid(), std::memory_order_release);
    // acq_rel: the second opener sees the first's pid store.
    return b_->opened.fetch_add(1, std::memory_order_acq_rel) + 1 == 2;
  }
  void mark_closed() noexcept { b_->closed[self_].store(1, std::memory_order_release); }

  /// Cheap: one load of a line that is written once.
  [[nodiscard]] bool peer_closed() const noexcept {
    return b_->closed[1 - self_].load(std::memory_order_acquire) != 0;
  }
  /// Closed, or exited without closing (SIGKILL). Costs a syscall: call every few ms.
  [[nodiscard]] bool peer_gone() noexcept {
    if (peer_closed()) return true;
    if (!watch_.watching()) {
      const int pid = b_->pid[1 - self_].load(std::memory_order_acquire);
      if (pid == 0) return false;  // not opened yet: the coordinator's watchdog bounds this
      if (pid == ::getpid()) return false;  // both ends in one process (tests, threads)
      watch_.watch(pid);
    }
    return watch_.exited();
  }

 private:
  LivenessBlock* b_;
  int self_;
  sys::ProcessWatch watch_;
};

}  // namespace ipcmatrix::detail
