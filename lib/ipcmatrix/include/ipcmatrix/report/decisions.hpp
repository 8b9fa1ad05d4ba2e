#pragma once
/// @file decisions.hpp
/// Which configuration to pick, decided from a RunResult and nothing else. The Markdown
/// report renders these decisions; it does not make them. Deterministic: ties in a figure
/// are broken by cell_id, so the same results always give the same picks. Thread-safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmatrix/model/results.hpp"

namespace ipcmatrix {

/// Below this ratio two configurations are reported as a tie: with < 1% histogram error
/// and ordinary run-to-run variation, a 5% lead is not a reason to pick one over the other.
/// Above it, a lead still needs the Mann-Whitney test over the repetitions to say so
/// (stats/significance.hpp); with too few repetitions to test it is reported as untested.
inline constexpr double kTieRatio = 1.10;
/// Repetitions each side needs before closeness is called a tie: the fewest that could have
/// shown a significant lead (stats/significance.hpp testable()). With fewer, two figures
/// within kTieRatio are reported as untested: one repetition of each cannot tell a tie from
/// a lead the noise hid.
inline constexpr std::size_t kTieRepetitions = 3;

/// What a cell's latency figures measure.
enum class LatencyMeaning : std::uint8_t {
  round_trip,        ///< a request and its echo, one at a time (pingpong): latency
  open_loop,         ///< paced at an offered rate the producers achieved: latency at that load
  open_loop_missed,  ///< paced, but the producers fell short of the offered rate: not that load
  saturated,         ///< closed loop: senders fill the channel, so latency is queueing delay at
                     ///< saturation (buffer depth / consumer rate), a property of the buffer
};
/// An open-loop cell achieved its offered rate when its producers sent at least this fraction
/// of it, measured over the receive window.
inline constexpr double kRateAchievedFraction = 0.9;
[[nodiscard]] LatencyMeaning latency_meaning(const CellResult& c);
/// true for round_trip and open_loop: the only cells latency advice may come from.
[[nodiscard]] bool measures_latency(const CellResult& c);
/// CPU cores the cell's processes used while measuring (CPU seconds / measured window), the
/// cost at its operating point; nullopt when not measured.
[[nodiscard]] std::optional<double> cores_used(const CellResult& c);

/// The best cell by one figure, and how it compares with the best cell of a different
/// mechanism/serializer (a different wait or placement of the same pair is a tuning detail,
/// not an alternative choice).
struct Pick {
  enum class Margin : std::uint8_t {
    alone,         ///< no other mechanism in the group
    incomparable,  ///< the ratio is not finite or a figure is not positive
    tie,           ///< within kTieRatio over kTieRepetitions or more repetitions each
    untested,      ///< ahead by `ratio`, but too few repetitions to call it a lead or a tie,
                   ///< or beyond kTieRatio with repetitions that overlap (p_value above the level)
    lead,          ///< ahead by `ratio`, beyond kTieRatio and significant (p_value) or clear_gap
  };
  const CellResult* best = nullptr;
  const CellResult* next = nullptr;  ///< the runner-up: the best cell of another mechanism
  /// The cell using the fewest CPU cores whose figure is within kTieRatio of best's (any
  /// mechanism, wait or placement); null when that is best itself. The trade-off made
  /// explicit: e.g. hybrid instead of spin for 5% less throughput and half the CPU.
  const CellResult* cheapest = nullptr;
  double ratio = 0;                  ///< how many times better best is than next (>= 1)
  Margin margin = Margin::alone;
  std::optional<double> p_value;     ///< Mann-Whitney over the repetitions, where testable
  /// Where p_value is set: the wider of best's and next's spreads over their repetitions
  /// ((max - min) / median, the report's ±N%). An open margin with a spread far past
  /// kTieRatio's 10% says the machine, not the repetition count, keeps it open.
  double spread = 0;
  /// A lead decided without a test: clearly_apart() (stats/significance.hpp), too few
  /// repetitions for Mann-Whitney (p_value absent then).
  bool clear_gap = false;
  /// A lead the race decided (runner/race.hpp): next was beaten in its group on a far_apart()
  /// gap with too few repetitions for the other rules, while the machine's floor held still.
  bool race_cut = false;
  int repetitions = 1;               ///< the fewer of best's and next's repetitions
};

/// One group of comparable cells: same pattern, size, participants, load and content. Load
/// points group by their label: "50%" compares each configuration at half its own saturation.
struct RecommendationGroup {
  std::string pattern;
  std::uint64_t size_bytes = 0;
  int procs = 0;
  double rate = 0;         ///< the offered rate; 0 for a load point (see load) or closed loop
  std::optional<LoadPoint> load;  ///< the load point, when the group is one
  ContentMode content = ContentMode::random;
  /// The cell with the lowest p50 among those whose latency is a latency (measures_latency);
  /// absent when every cell of the group ran closed loop.
  std::optional<Pick> lowest_p50;
  bool saturated_only = false;  ///< the group has ok cells, and all of them ran closed loop
  /// The cell with the most msgs/s; closed-loop groups only (open loop, msgs/s is what was offered).
  std::optional<Pick> highest_throughput;
};


/// The best of `cells` by the objective (cells without that figure are left out; the caller
/// decides which cells may compete, e.g. only latency measurements for latency), with the
/// runner-up (the best of another mechanism), the margin and the cheapest cell within
/// kTieRatio. nullopt when no cell has the figure. The pointers are the given ones.
[[nodiscard]] std::optional<Pick> pick_best(std::vector<const CellResult*> cells, Objective objective);

/// How an untested margin is named: "untested" where its cells ran a fixed count of
/// repetitions, "undecided" where the race left them open (its budget or an interruption
/// ended it). Every reporter (summary, recommendations, recommend, fleet) says it alike.
[[nodiscard]] std::string_view open_margin_word(const Pick& p) noexcept;
/// What gives such a pick more repetitions: --repetitions for a fixed count, a larger
/// --budget where the race ended first.
[[nodiscard]] std::string_view more_repetitions_hint(const Pick& p) noexcept;

/// How a lead was decided: "Mann-Whitney p = 0.10 over 3 repetitions", or the gap too wide
/// to need the test ("2x apart or more in every one of 2 repetitions", or the race's cut of
/// a runner-up 3x behind after its one repetition). Every reporter says it alike.
[[nodiscard]] std::string how_decided(const Pick& p);

/// "the time budget (11 min 30 s) ended the race with 617 racing repetitions not run", from
/// environment.race, where the budget ended a race that had run at least one racing
/// repetition; nullopt elsewhere. A planned end of a raced run, as the default budgets are
/// sized to be, so the summary and the console say it as a note; a budget that left no
/// racing repetition at all is the run's warning instead (runner/coordinator.cpp).
[[nodiscard]] std::optional<std::string> race_budget_note(const RunResult& r);

/// The figure of each repetition of c (the figure itself when not recorded): p50 or p99 in
/// ns, msgs/s, or CPU ns per message.
[[nodiscard]] std::vector<double> p50_values(const CellResult& c);
[[nodiscard]] std::vector<double> throughput_values(const CellResult& c);
[[nodiscard]] std::vector<double> p99_values(const CellResult& c);
[[nodiscard]] std::vector<double> cpu_per_msg_values(const CellResult& c);

/// A knee is the highest offered rate whose p99 stays within this multiple of the p99 at the
/// lowest load measured.
inline constexpr double kKneeP99Factor = 2.0;

/// One configuration's latency against offered load (a --load sweep): its closed-loop cell
/// and its load points, ordered by the rate they offered (msgs/s per producer).
struct LoadCurve {
  const CellResult* saturation = nullptr;  ///< the same cell closed loop; null if not in the file
  std::vector<const CellResult*> points;   ///< ok load cells, lowest offered rate first
  /// The highest-rate achieved point whose p99 <= kKneeP99Factor x the lowest-rate achieved
  /// point's p99; null when no point was achieved.
  const CellResult* knee = nullptr;
};

/// Every configuration with load points, in the order of the file (by the identity of the
/// cell without its load).
[[nodiscard]] std::vector<LoadCurve> load_curves(const RunResult& r);

/// One line of the report's summary: a use case the data covers, and what to deploy for it.
struct Decision {
  std::string use_case;  ///< "Latency-critical small messages"
  std::string basis;     ///< where the evidence comes from: "pingpong 64B, lowest p50 round trip"
  Objective objective = Objective::lowest_p50;
  Pick pick;
  std::string serializer;     ///< the serializer every candidate of this decision used
  std::size_t serializers = 1;  ///< how many serializers the use case was decided for
  /// Every cell the pick was made from (best and next among them): what the runner races
  /// first, so that the summary is decided before the rest of the report.
  std::vector<const CellResult*> candidates;
};

/// The summary's decisions: each registered pattern's use cases (PatternSpec::use_cases) and
/// the sporadic-load one, ordered by rank, one per serializer measured for it (in the order
/// the run met them); a use case is left out when the results hold no cell for it. Today's
/// table:
///   - latency-critical small messages: pingpong at the smallest size, lowest p50;
///   - sporadic small messages: the sporadic load point at the smallest size, lowest p99;
///   - bulk transfer: stream at the largest size of 64 KiB or more, closed loop, most msgs/s;
///   - fan-out work distribution, fan-in collection, broadcast, many-to-many (mesh): that
///     pattern at the smallest size, closed loop, most msgs/s;
///   - low CPU budget: stream at the smallest size, closed loop, least CPU per message.
[[nodiscard]] std::vector<Decision> decisions(const RunResult& r);

/// Pattern names in the order the run first met them, which is the order the user wrote.
[[nodiscard]] std::vector<std::string> patterns_in_order(const RunResult& r);

/// Every group of ok cells, per pattern in patterns_in_order(), then by (size, procs, rate,
/// content) ascending. A group's pick is absent when no cell has that figure. The pointers
/// point into r.cells.
[[nodiscard]] std::vector<RecommendationGroup> recommend_per_group(const RunResult& r);

}  // namespace ipcmatrix
