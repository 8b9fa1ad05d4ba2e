#pragma once
/// @file floor.hpp
/// The machine's own floor, measured in every run (at its start and at its end) between the
/// CPUs the cells use: what two processes can do with nothing of this tool in between.
///   - one cache line bounced between two processes: the lowest round trip there is;
///   - a bare two-process SPSC ring (the shm ring, spin, batches of 64, 64 B messages,
///     each message's sequence number checked): the highest streaming rate there is.
/// A virtual machine's floor moves with where the hypervisor places its vCPUs (here it went
/// from ~95 M to ~5.5 M msgs/s between two quarter-hours), so figures are only comparable
/// against the floor of the same run.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {

/// One cache line bounced between two processes, the round-trip floor (measure_floor and
/// bench_pingpong): the initiator stores an odd value, the echo answers with the next even
/// one, stop() ends the echo. acquire/release: the same orders as the ring's counters.
struct alignas(kCacheLine) FloorLine {
  static constexpr std::uint64_t kStop = ~std::uint64_t{0};
  std::atomic<std::uint64_t> v{0};

  /// The echo's side; returns once the initiator calls stop().
  void echo() noexcept {
    for (std::uint64_t expect = 1;; expect += 2) {
      std::uint64_t got;
      while ((got = v.load(std::memory_order_acquire)) != expect) {
        if (got == kStop) return;
        sys::cpu_relax();
      }
      v.store(expect + 1, std::memory_order_release);
    }
  }
  /// Round trip number i (0, 1, 2, ...) from the initiator's side.
  void round_trip(std::uint64_t i) noexcept {
    const std::uint64_t odd = 2 * i + 1;
    v.store(odd, std::memory_order_release);
    while (v.load(std::memory_order_acquire) != odd + 1) sys::cpu_relax();
  }
  void stop() noexcept { v.store(kStop, std::memory_order_release); }
};

/// A bare receiver's throughput window, as bare_stream() measures it: two clock reads a
/// batch, not one a message, the window running from the first message to the last batch
/// boundary. Not thread-safe.
class StreamWindow {
 public:
  explicit StreamWindow(std::size_t batch) noexcept : batch_(batch), until_boundary_(batch) {}
  /// Counts one message, received now.
  void count() noexcept {
    if (n_ == 0) first_ = sys::now_ns();
    ++n_;
    if (--until_boundary_ == 0) {  // a count down, not n % batch: no division per message
      until_boundary_ = batch_;
      last_ = sys::now_ns();
      window_n_ = n_ - 1;
    }
  }
  /// Messages counted so far (the next one's sequence number).
  [[nodiscard]] std::uint64_t messages() const noexcept { return n_; }
  /// msgs/s over the window; 0 before a second batch boundary.
  [[nodiscard]] double msgs_per_s() const noexcept {
    return last_ > first_ && window_n_ > 0
               ? static_cast<double>(window_n_) * 1e9 / static_cast<double>(last_ - first_)
               : 0;
  }

 private:
  std::size_t batch_, until_boundary_;
  std::uint64_t n_ = 0, window_n_ = 0;
  std::int64_t first_ = 0, last_ = 0;
};

/// The mechanism whose bare ring is the machine's floor: the shared-memory ring, the
/// fastest path two processes have (a cache line's worth of traffic per message).
inline constexpr std::string_view kFloorMechanism = "shm";

struct MachineFloor {
  double cacheline_rtt_ns = 0;   ///< median round trip of one cache line, ns
  double ring_msgs_per_s = 0;    ///< bare ring, 64 B messages, batches of 64
  /// The mechanism whose bare transport the ring figure is (kFloorMechanism): the report
  /// sets that mechanism's cells against the floor.
  std::string ring_mechanism;
  int cpu_a = -1, cpu_b = -1;    ///< where the two processes ran (-1: unpinned)
};

/// The most bytes of distinct messages a bare stream's sender cycles through: a matrix
/// sender's pool of 1 MiB messages is read from memory, not a cache, and so are these (every
/// bare loop's sender, bench/ included, holds to it).
inline constexpr std::size_t kBareSourceBytes = std::size_t{16} << 20;

/// A bare transport between two child processes pinned to cpu_a (sender) and cpu_b, with
/// nothing of the harness: `size`-byte messages in batches of `batch` (fewer when `batch`
/// distinct messages would exceed 16 MiB, the size of a matrix sender's pool of 1 MiB
/// messages), each carrying its sequence number in its first 8 bytes, which the receiver
/// checks. Runs up to `cap_ns`.
/// msgs/s over the receiver's window; nullopt when a child failed or the order broke.
[[nodiscard]] std::optional<double> bare_stream(const TransportSpec& t, const ChannelOptions& o, std::size_t size,
                                                std::size_t batch, int cpu_a, int cpu_b, std::int64_t cap_ns);

/// Median round trip of a bare transport between two child processes (64 B..any `size`,
/// one message out, one back), over `rounds` after a tenth as many of warm-up.
[[nodiscard]] std::optional<double> bare_pingpong_p50_ns(const TransportSpec& t, const ChannelOptions& o,
                                                         std::size_t size, std::uint64_t rounds, int cpu_a,
                                                         int cpu_b);

/// Measures both figures in two child processes pinned to the first two of `cpus` (none
/// known: unpinned), in about 0.15 s. nullopt when a child failed, and at once with
/// a single CPU (too_few_cpus_for_floor()). The calling process is not pinned or otherwise
/// changed.
[[nodiscard]] std::optional<MachineFloor> measure_floor(const std::vector<int>& cpus);

/// Whether `cpus` (the run's allowed CPUs) are too few for a floor: both figures are two
/// processes spinning on one cache line, which on one CPU take turns by the scheduler's
/// time slice. A run under `taskset -c 0` spent 20 s in each floor (the start's, each
/// round's, the end's) waiting for them to time out, for a run of 0.2 s of cells.
[[nodiscard]] inline bool too_few_cpus_for_floor(const std::vector<int>& cpus) noexcept { return cpus.size() == 1; }

/// How far a floor may move and the machine still be in the mode of `from`: its cache-line
/// round trip by kSameModeRtt of `from`'s, its bare ring by a factor of kSameModeRing either
/// way. Within one mode of this VM the ring's rate moves +-30% between samples minutes apart
/// (37-63 M msgs/s over three headline runs' first passes) and the round trip +-12% (418-527
/// ns: a start at 421 ns and a sample at 527 ns are 25% apart), so "both within 25%" turned
/// the race's one-repetition cut off in every one of those runs. A change of mode moves the
/// round trip far more (71 ns at 143 M msgs/s, against 480 ns at 60 M).
inline constexpr double kSameModeRtt = 0.35;
inline constexpr double kSameModeRing = 2.0;
/// Whether `to` was measured with the machine in the mode `from` was (the limits above).
[[nodiscard]] bool same_mode(const MachineFloor& from, const MachineFloor& to) noexcept;

/// How far the floor moved from `from` to `to`: the larger relative change of its two figures.
[[nodiscard]] double floor_moved(const MachineFloor& from, const MachineFloor& to) noexcept;

/// The run's one warning for the rounds after the first whose floor found the machine in
/// another mode than `start`'s: `moved` their floors (not empty), of `rounds` such rounds,
/// with the range each figure moved to (a headline run had seven such rounds, a line each).
[[nodiscard]] std::string another_mode_warning(const MachineFloor& start, const std::vector<MachineFloor>& moved,
                                               std::size_t rounds);

/// A floor a run measured: when it ended (monotonic ns), and which of the run's modes it found
/// the machine in (Modes), or -1 where it could not be measured.
struct FloorMark {
  std::int64_t at_ns = 0;
  int mode = -1;
};
/// The modes a run has met, each by the first floor measured in it: a floor is in mode k when
/// same_mode(first floor of k, it); a floor in none of them opens the next.
class Modes {
 public:
  /// The mode `f` was measured in, opening a new one if it is in none so far.
  int of(const MachineFloor& f);

 private:
  std::vector<MachineFloor> first_;
};
/// The mode a repetition that ended at `end_ns` ran in, by the floors `marks` (in time order,
/// none taken during a repetition): the mode of the last floor before it when the first floor
/// after it found the same one, else -1 (it may have changed between them; or no floor after
/// it yet: not known; or none before). A far gap between two repetitions of one mode is
/// theirs, not the machine's: one floor in another mode (a 52 ns round trip among 440-480 ns
/// ones, three minutes into a headline run) marks the repetitions next to it, not the run, and
/// a run that starts in one mode and goes on in another still compares within each.
[[nodiscard]] int mode_of_repetition(const std::vector<FloorMark>& marks, std::int64_t end_ns) noexcept;

}  // namespace ipcmatrix
