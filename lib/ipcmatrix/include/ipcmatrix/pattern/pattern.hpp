#pragma once
/// @file pattern.hpp
/// The concurrency patterns the matrix measures, as an explicit registry shaped like the
/// transport one. A pattern is data: how many participants it takes, the topology it builds
/// for a count, what its latency figure means and which load dimensions apply to it. Code
/// asks the spec (`spec.records_hops`), never compares names.
///
/// Adding a pattern: one file src/pattern/<name>_pattern.cpp defining
/// `extern const PatternSpec kXPattern`, plus one line in src/pattern/registry.cpp. The
/// pattern registry test walks every entry; the runner, CLI, presets and reports pick it up.

#include <cstdint>
#include <string>
#include <span>
#include <string_view>
#include <vector>

#include "ipcmatrix/model/vocabulary.hpp"
#include "ipcmatrix/pattern/topology.hpp"

namespace ipcmatrix {

/// What one latency sample of the pattern measures.
enum class LatencyKind : std::uint8_t {
  round_trip,  ///< request out, echo back (pingpong)
  one_way,     ///< from the origin's send (or intended send, open loop) to the final receive
};
/// "round trip" / "one-way", as reports print it.
[[nodiscard]] std::string_view to_string(LatencyKind k) noexcept;

/// Whether the pattern's senders can be paced.
enum class LoopKind : std::uint8_t {
  closed,       ///< always closed loop: the next message waits for the previous (pingpong)
  rate_driven,  ///< closed loop by default, open loop at --rate (latency then corrected)
};

/// How many processes one cell of the pattern runs.
struct ParticipantRule {
  int fixed = 0;  ///< > 0: always exactly this many, whatever --procs says
  int min = 2;    ///< otherwise: --procs (or a machine-fitted default), at least this many
};

/// Which of a pattern's cells a use case is decided from, and at which size.
enum class UseCaseCells : std::uint8_t {
  latency_smallest,         ///< cells that measure latency, at the smallest size
  closed_loop_smallest,     ///< closed-loop cells, at the smallest size
  closed_loop_largest_64k,  ///< closed-loop cells, at the largest size of at least 64 KiB
  /// cells at one offered rate every candidate achieved, at the smallest size: the lowest
  /// fixed rate measured (--rate or a --load rate point), else the sporadic point; closed
  /// loop (at saturation) only when neither was measured, and the basis says so
  fixed_rate_smallest,
};

/// A question the report's summary answers from this pattern's cells ("Bulk transfer": the
/// stream configuration with the most msgs/s at a large size).
struct UseCase {
  std::string_view name;   ///< the summary's row: "Bulk transfer"
  UseCaseCells cells;
  Objective objective;
  std::string_view basis;  ///< how the pick was made, for the evidence: "closed loop, most msgs/s"
  int rank = 0;            ///< place in the summary, ascending, across patterns
};

/// Which of the report's charts draw this pattern's cells.
enum class ChartRole : std::uint8_t {
  none,
  latency,     ///< latency against size and the percentile spectrum (the round trip)
  throughput,  ///< throughput and CPU per message against size (closed loop)
};

/// One registered pattern. All fields are constant data; the table lives for the program.
struct PatternSpec {
  std::string_view name;         ///< CLI and results name: "fan-out"
  std::string_view description;  ///< the topology in one line, for help and `list`
  ParticipantRule participants;
  /// Fills participants and channels for `procs` participants (already checked against
  /// `participants`).
  void (*build)(Topology& t, int procs);
  LatencyKind latency = LatencyKind::one_way;
  LoopKind loop = LoopKind::rate_driven;
  bool batches = true;        ///< honours --batch (a round trip is always one message)
  bool records_hops = false;  ///< the final receiver also records the last hop's latency
  /// What the summary decides from this pattern's cells; patterns that list the same use
  /// case (fan-in and fan-in-shared) are decided together, from all their cells.
  std::span<const UseCase> use_cases;
  ChartRole chart = ChartRole::none;
};

/// Every pattern, in report order (pingpong, stream, fan-out, fan-in, fan-in-shared,
/// pipeline, broadcast, broadcast-shared, mesh).
[[nodiscard]] const std::vector<const PatternSpec*>& all_patterns();
/// Their names, in the same order.
[[nodiscard]] std::vector<std::string> pattern_names();
/// By name; nullptr when unknown (reports reading results from another version).
[[nodiscard]] const PatternSpec* pattern_or_null(std::string_view name) noexcept;
/// By name; throws Error naming the valid choices.
[[nodiscard]] const PatternSpec& find_pattern(std::string_view name);
/// The pattern whose cells `spec`'s are compared with: the first registered pattern that lists
/// one of its use cases (by name), else `spec` itself. fan-in-shared's is fan-in and
/// broadcast-shared's is broadcast: the summary decides each use case from both patterns'
/// cells, so the race (runner/race.hpp) runs them in one group.
[[nodiscard]] const PatternSpec& compared_with(const PatternSpec& spec) noexcept;

/// Participants in one cell: `fixed` when the spec sets it; else `procs` when > 0; else 3
/// on machines with <= 4 CPUs and min(8, cpus) otherwise (more participants than CPUs
/// measures the scheduler, not the mechanism).
[[nodiscard]] int participants_for(const PatternSpec& spec, int procs, int cpus) noexcept;

/// The topology of `spec` with `procs` participants (ignored for fixed-size patterns).
/// Throws Error when procs is below the spec's minimum.
[[nodiscard]] Topology make_topology(const PatternSpec& spec, int procs);

}  // namespace ipcmatrix
