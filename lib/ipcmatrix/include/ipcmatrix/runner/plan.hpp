#pragma once
/// @file plan.hpp
/// The matrix as a list of typed cells: a RunConfig expanded over every dimension. A cell
/// holds pointers to registry entries and enums, never names to compare.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmatrix/pattern/pattern.hpp"
#include "ipcmatrix/pattern/roles.hpp"
#include "ipcmatrix/runner/config.hpp"
#include "ipcmatrix/runner/placement.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {

/// One point of the matrix.
struct Cell {
  const PatternSpec* pattern = nullptr;
  const TransportSpec* mechanism = nullptr;
  std::string serializer;              ///< canonical serializer name ("zstd+binary")
  Wait wait = Wait::hybrid;            ///< Wait::kernel: the mechanism cannot spin
  Placement placement = Placement::unpinned;
  std::uint64_t size_bytes = 0;
  int procs = 2;  ///< participants, resolved from the pattern's rule
  int batch = 1;
  Api api = Api::copy;
  /// A load sweep's point: this cell runs open loop at that load (resolved against the same
  /// cell's closed-loop run, planned just before it). Absent: closed loop, or --rate.
  std::optional<LoadPoint> load;

};

/// All cells of a config, in run order (pattern, mechanism, serializer, size, wait,
/// placement, batch). Mechanisms that cannot spin get one cell with Wait::kernel;
/// patterns that do not batch get batch 1 only; a size whose largest message is over the
/// mechanism's message_limit_of() now is not planned (plan_warnings() says so). `cpus` is the usable CPU count. With a load
/// sweep, each cell of a pattern that can run open loop is followed by one cell per load
/// point (round trips cannot be paced: they get none).
/// Throws Error for a name that is not registered (validate() catches those first).
[[nodiscard]] std::vector<Cell> plan_cells(const RunConfig& cfg, int cpus);

/// The planned cells grouped as they must run: each closed-loop cell with the load points
/// planned right after it, which are paced from its saturation (indexes into `cells`, in
/// plan order). The coordinator runs a unit together every round; a shard keeps it whole.
[[nodiscard]] std::vector<std::vector<std::size_t>> plan_units(const std::vector<Cell>& cells);

/// Run-wide notes about the plan, one per cause: which requested api is not applicable to
/// which mechanism, and which sizes a mechanism cannot carry here, why and how to raise its
/// limit (those cells are not planned).
[[nodiscard]] std::vector<std::string> plan_warnings(const RunConfig& cfg);

/// The largest message a cell with this serializer and body size puts on a channel: a
/// stamped envelope and the body, grown by a serializer that is not body-only (json's
/// base64 is 4/3, plus a record's fields). What a mechanism's message limit is held to.
[[nodiscard]] std::uint64_t largest_message_bytes(std::string_view serializer, std::uint64_t size_bytes) noexcept;

/// True for patterns whose producers can be paced (open loop) and measure one way: the ones
/// a load sweep applies to.
[[nodiscard]] bool sweeps_load(const PatternSpec& p) noexcept;

/// True for closed-loop throughput cells: producers run as fast as the channel takes their
/// messages, so msgs/s is the cell's figure and its latency is queueing delay.
[[nodiscard]] bool closed_loop_throughput(const Cell& c, const RunConfig& cfg) noexcept;

/// Measured messages per producer before cell c's time window may end: cfg.min_messages,
/// or for closed-loop throughput cells cfg.rate_min_messages shared by the cell's producers
/// (rounded up: the rate counts all of them); 0 when a count bounds the phase.
[[nodiscard]] std::uint64_t min_messages_for(const Cell& c, const RunConfig& cfg);

/// One message in how many of cell `c` carries a timestamp: every one for round trips and
/// open loop; --latency-sample (kAutoLatencySample when 0) for closed-loop throughput cells.
[[nodiscard]] std::uint64_t latency_sample_for(const Cell& c, const RunConfig& cfg) noexcept;

/// The shm ring capacity for cell `c`: --ring-bytes when given; otherwise the 256 KiB
/// default, or the next power of two holding two of the cell's messages when they are
/// larger, at most ring_max_bytes and at most half of `shm_free_bytes` spread over
/// `channels` rings. For a mechanism whose capabilities do not say sized_per_cell,
/// --ring-bytes as given (0: its own default applies).
[[nodiscard]] std::size_t ring_bytes_for(const Cell& c, const RunConfig& cfg, std::size_t channels,
                                         std::uint64_t shm_free_bytes) noexcept;

/// The default shm ring: large enough to stream 1 MiB messages in 64 KiB chunks, small
/// enough that two rings stay in a core's L2 (a 1 MiB ring made ping-pong 3x slower here).
inline constexpr std::size_t kDefaultRingBytes = std::size_t{256} << 10;

/// Warnings that apply to a cell before it runs: spinners sharing or outnumbering CPUs,
/// load dimensions the pattern ignores.
[[nodiscard]] std::vector<std::string> cell_warnings(const Cell& c, const RunConfig& cfg,
                                                     std::size_t ncpus);

}  // namespace ipcmatrix
