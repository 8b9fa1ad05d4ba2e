#pragma once
/// @file iceoryx_roudi.hpp
/// The iceoryx daemon, RouDi, as ipc-matrix owns it: the one module that starts, watches and
/// stops `iox-roudi`, used by the runner (a run with iceoryx cells) and by the tests.
///
/// Contract:
///   - iceoryx 2.0 uses fixed, machine-wide names: the management segment /dev/shm/iceoryx_mgmt,
///     a data segment /dev/shm/<user>, the daemon's socket /tmp/roudi with /tmp/roudi.lock, and
///     /tmp/iox-unique-roudi.lock; each client process adds a socket /tmp/<runtime name> (and <name>.lock). So one
///     RouDi runs per machine, and ipc-matrix never stops, reuses or cleans up after a RouDi it
///     did not start: foreign_roudi() names the evidence of one (a process named iox-roudi, the
///     segment, the socket), and start() refuses to go on while there is any.
///   - Ownership between ipc-matrix processes is an exclusive flock on kLockPath, a fixed file
///     (so that two runs, or a run and a test, find the same lock). start() tries it once, without
///     waiting: a second run skips its iceoryx cells at once rather than waiting for a first one
///     that may run for hours. The lock file is unlinked, still locked, when its owner lets go
///     (a later locker re-checks that it locked the file that is at the path), so nothing stays
///     in /tmp; only an owner killed by SIGKILL leaves the empty file, which the next run reuses.
///   - start() writes the generated config into a private 0700 directory (mkdtemp), runs
///     `iox-roudi -c <config> -l warning -m on` in a process group of its own with PR_SET_PDEATHSIG
///     SIGTERM (the kernel stops it when its owner dies), and waits, bounded, for "RouDi is ready
///     for clients" in its log. Its start-up time is reported, not counted in any cell.
///   - stop() (and the destructor) sends SIGTERM and waits up to kStopTimeout, then SIGKILL;
///     after a SIGKILL (or a daemon killed from elsewhere) it removes the fixed names above that
///     the daemon left, client sockets of this tool's runtimes (kRuntimePrefix) whose process is
///     gone, the private directory, and the lock. None of those existed before start() (it
///     checked), and no other RouDi could have made them while the lock and the daemon's own lock
///     were held.
///   - abort_owned_roudi() does the same from the interrupt thread on a second Ctrl-C, just before
///     the process _exits.
/// Not thread-safe except abort_owned_roudi(); at most one Roudi per process.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ipcmatrix::iceoryx {

/// The flock that makes one ipc-matrix process at a time the owner of the machine's RouDi.
inline constexpr const char* kLockPath = "/tmp/ipc-matrix-iceoryx.lock";
/// RouDi's socket in iceoryx 2.0 (IOX_UDS_SOCKET_PATH_PREFIX + "roudi"): a client needs it.
inline constexpr const char* kRoudiSocket = "/tmp/roudi";
/// RouDi's management segment.
inline constexpr const char* kMgmtSegment = "/dev/shm/iceoryx_mgmt";
/// The daemon's executable (Debian package `iceoryx`).
inline constexpr const char* kRoudiProgram = "/usr/bin/iox-roudi";
/// Every iceoryx runtime this tool starts is named kRuntimePrefix + "<pid>-<random>"; its
/// socket is /tmp/<that name>.
inline constexpr std::string_view kRuntimePrefix = "iox-ipcm-";
/// Queue depth of every subscriber (SubscriberOptions::queueCapacity): the messages a channel
/// holds before its publisher blocks.
inline constexpr std::uint64_t kQueueDepth = 16;
/// Chunks one channel can hold at once: its queue, the publisher's loan, the one it keeps
/// from its last publish, the subscriber's taken message, and one spare.
inline constexpr std::uint64_t kChunksPerChannel = kQueueDepth + 4;
/// The largest message the mechanism carries (a 1 MiB body through json is 1.4 MiB).
inline constexpr std::size_t kMaxMessageBytes = std::size_t{4} << 20;
/// A pool for one channel is not made larger than this; a cell needing more is not run.
inline constexpr std::uint64_t kMaxPoolBytes = std::uint64_t{512} << 20;
inline constexpr std::chrono::milliseconds kReadyTimeout{30'000};
inline constexpr std::chrono::milliseconds kStopTimeout{10'000};

/// One [[segment.mempool]]: chunks of payload_bytes (RouDi adds its chunk header), count of them.
struct Mempool {
  std::uint64_t payload_bytes = 0;
  std::uint64_t count = 0;
};

/// The mempools RouDi is started with, smallest chunk first.
struct RoudiConfig {
  std::vector<Mempool> pools;
  [[nodiscard]] std::uint64_t bytes() const noexcept;
  /// Makes room for a cell: `channels` channels of messages up to `largest_message_bytes`,
  /// each holding kChunksPerChannel chunks. Every pool gets the count of the busiest cell (a
  /// cell's smaller messages may land in a smaller pool). Pure.
  void add_cell(std::uint64_t largest_message_bytes, std::size_t channels);
  /// The chunk size a message of n bytes is given: n rounded up to 1 KiB.
  [[nodiscard]] static std::uint64_t pool_size_for(std::uint64_t n) noexcept;
};

/// For processes that know nothing of their messages (tests, a bench): pools from 1 KiB to
/// kMaxMessageBytes, for a few channels at once (about 90 MiB).
[[nodiscard]] RoudiConfig default_config();

/// The config as RouDi's TOML ([general] version 1, one [[segment]], its [[segment.mempool]]s).
[[nodiscard]] std::string to_toml(const RoudiConfig& c);

/// Evidence of a RouDi that this process did not start (running, or its names left behind),
/// as a clause: "a process named iox-roudi runs (pid 123)", "/tmp/roudi exists"; empty: none.
[[nodiscard]] std::string foreign_roudi();

/// Whether a /dev/shm path is one of RouDi's segments (iceoryx_mgmt, the one named after the user).
[[nodiscard]] bool is_roudi_segment(const std::string& path);

/// Whether a RouDi is reachable for a client: its socket exists.
[[nodiscard]] bool roudi_reachable() noexcept;

/// A RouDi this process started and owns.
class Roudi {
 public:
  /// Takes the lock and starts RouDi with config, waiting until it is ready. Returns nullptr
  /// and says why in *why when this process cannot own one now (the lock is held, a foreign
  /// RouDi runs, iox-roudi is not installed); throws ipcmatrix::Error when the daemon it
  /// started failed (with the tail of its log).
  [[nodiscard]] static std::unique_ptr<Roudi> start(const RoudiConfig& config, std::string* why,
                                                    std::chrono::milliseconds ready_timeout = kReadyTimeout);
  ~Roudi();
  Roudi(const Roudi&) = delete;
  Roudi& operator=(const Roudi&) = delete;

  /// SIGTERM, SIGKILL after kStopTimeout, then the clean-up in the contract. Idempotent.
  void stop() noexcept;
  [[nodiscard]] int pid() const noexcept;
  /// From spawning the daemon to its "ready" line.
  [[nodiscard]] double startup_ms() const noexcept;
  /// The pools it was started with.
  [[nodiscard]] const RoudiConfig& config() const noexcept;

  struct State;

 private:
  explicit Roudi(std::unique_ptr<State> s) noexcept;
  std::unique_ptr<State> s_;
};

/// From an interrupt handler thread on a second signal: stops the RouDi this process owns (if
/// any) as stop() does, with shorter bounds. Thread-safe against a concurrent stop().
void abort_owned_roudi() noexcept;

}  // namespace ipcmatrix::iceoryx
