#pragma once
/// @file vocabulary.hpp
/// The portable vocabulary of a cell: every dimension that describes one, as an enum with
/// one name table (name_table.hpp). The runner plans and records cells in these types, the
/// worker protocol carries them, results files and deployment configs spell them with the
/// same names, and the report reads them back; strings exist only at those edges (CLI, JSON).
/// Registry dimensions (pattern, mechanism, serializer) are names of their registries.
///
/// Adding a value: one enumerator and one table row. Adding a dimension: one enum and table
/// here, one field in RunConfig/Cell/CellResult, one settings row.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ipcmatrix/model/name_table.hpp"

namespace ipcmatrix {

/// How an endpoint waits for its peer. spin, block, hybrid and eventfd are choices a
/// shared-memory endpoint is given (--wait); `kernel` is what mechanisms that cannot spin
/// always do (a pipe, a socket, a queue sleep in the kernel), and is what their cells and
/// deployments record. Values are stored in the shm ring header: append, never reorder.
enum class Wait : std::uint8_t {
  spin,    ///< poll with a pause instruction: lowest latency, burns a core while idle
  block,   ///< sleep in the kernel (futex): no idle cost, pays a wake-up per message
  hybrid,  ///< spin for ChannelOptions::spin_ns, then block (the default)
  kernel,  ///< the mechanism's own blocking call; no choice to make
  /// spin for spin_ns like hybrid, then sleep on an eventfd that epoll/Asio can poll
  /// (Transport::poll_fd), so an event loop can wait on the ring with its other fds
  eventfd,
};
inline constexpr NameTable<Wait, 5> kWaitNames{{{{Wait::spin, "spin"},
                                                 {Wait::block, "block"},
                                                 {Wait::hybrid, "hybrid"},
                                                 {Wait::kernel, "kernel"},
                                                 {Wait::eventfd, "eventfd"}}}};
constexpr const auto& names_of(Wait) noexcept { return kWaitNames; }
/// True for the waits an endpoint can be asked for (spin, block, hybrid, eventfd): what --wait takes.
[[nodiscard]] constexpr bool is_chosen_wait(Wait w) noexcept { return w != Wait::kernel; }

/// CPU placement of a cell's participants.
enum class Placement : std::uint8_t {
  unpinned,    ///< the scheduler decides
  same_core,   ///< every participant pinned to the first allowed CPU
  cross_core,  ///< participant i pinned to allowed CPU i (mod the CPU count)
};
inline constexpr NameTable<Placement, 3> kPlacementNames{
    {{{Placement::unpinned, "unpinned"}, {Placement::same_core, "same-core"}, {Placement::cross_core, "cross-core"}}}};
constexpr const auto& names_of(Placement) noexcept { return kPlacementNames; }

/// How the role loops use the transport.
enum class Api : std::uint8_t {
  copy,  ///< send_gather()/recv(): the transport copies in and out of the caller's memory
  loan,  ///< loan()/commit() and peek()/release(): messages written and read in place
};
inline constexpr NameTable<Api, 2> kApiNames{{{{Api::copy, "copy"}, {Api::loan, "loan"}}}};
constexpr const auto& names_of(Api) noexcept { return kApiNames; }

/// How much of each message's content a receiver checks (counts and order always).
enum class Verify : std::uint8_t { full, sampled, off };
inline constexpr NameTable<Verify, 3> kVerifyNames{
    {{{Verify::full, "full"}, {Verify::sampled, "sampled"}, {Verify::off, "off"}}}};
constexpr const auto& names_of(Verify) noexcept { return kVerifyNames; }

/// How compressible a generated message body is.
enum class ContentMode : std::uint8_t {
  random,   ///< incompressible bytes
  text,     ///< English-like words and spaces (zstd ratio roughly 3-4x)
  records,  ///< repetitive CSV-like lines with numbers (zstd ratio well above text)
};
inline constexpr NameTable<ContentMode, 3> kContentModeNames{
    {{{ContentMode::random, "random"}, {ContentMode::text, "text"}, {ContentMode::records, "records"}}}};
constexpr const auto& names_of(ContentMode) noexcept { return kContentModeNames; }

/// The outcome of a cell.
enum class CellStatus : std::uint8_t { ok, error };
inline constexpr NameTable<CellStatus, 2> kCellStatusNames{{{{CellStatus::ok, "ok"}, {CellStatus::error, "error"}}}};
constexpr const auto& names_of(CellStatus) noexcept { return kCellStatusNames; }

/// How a cell's repetitions ended (runner/race.hpp): racing gives further repetitions only
/// to cells whose place in their group is still open, and records why each one stopped.
enum class RaceOutcome : std::uint8_t {
  fixed,      ///< no race: it ran the repetitions asked (--race 0, and files without it)
  alone,      ///< the only ok cell of its group: nothing to decide
  leading,    ///< its group's best, every other cell beaten or tied with it
  tied,       ///< within the tie threshold of its group's best, over 3 or more repetitions each
  beaten,     ///< behind its group's best beyond the tie threshold, significantly: stopped early
  undecided,  ///< still open when the repetition cap or the time budget ended the race
};
inline constexpr NameTable<RaceOutcome, 6> kRaceOutcomeNames{{{{RaceOutcome::fixed, "fixed"},
                                                               {RaceOutcome::alone, "alone"},
                                                               {RaceOutcome::leading, "leading"},
                                                               {RaceOutcome::tied, "tied"},
                                                               {RaceOutcome::beaten, "beaten"},
                                                               {RaceOutcome::undecided, "undecided"}}}};
constexpr const auto& names_of(RaceOutcome) noexcept { return kRaceOutcomeNames; }

/// What a recommendation ranks by.
enum class Objective : std::uint8_t { lowest_p50, lowest_p99, highest_throughput, lowest_cpu_per_msg };
inline constexpr NameTable<Objective, 4> kObjectiveNames{{{{Objective::lowest_p50, "lowest p50"},
                                                           {Objective::lowest_p99, "lowest p99"},
                                                           {Objective::highest_throughput, "highest throughput"},
                                                           {Objective::lowest_cpu_per_msg, "lowest CPU per message"}}}};
constexpr const auto& names_of(Objective) noexcept { return kObjectiveNames; }

/// One point of a load sweep (--load): an open-loop rate offered to each producer of a cell,
/// run after the same cell closed loop (its saturation). Written everywhere as its label.
struct LoadPoint {
  enum class Kind : std::uint8_t {
    rate,      ///< value msgs/s per producer
    fraction,  ///< value x the cell's own closed-loop send rate per producer (0.5 = "50%")
    sporadic,  ///< kSporadicRate: gaps long past any spin window, where wake-ups show
  };
  Kind kind = Kind::rate;
  double value = 0;
  /// "50k", "50%", "sporadic": how it is written, and what results and reports call it.
  [[nodiscard]] std::string label() const;
  /// The label as a file-name part: "50pct", "10k", "sporadic".
  [[nodiscard]] std::string id_part() const;
  bool operator==(const LoadPoint&) const = default;
};
/// The sporadic point: 200 msgs/s, 5 ms between messages (100 times the hybrid spin window,
/// so every message finds its receiver asleep), for kSporadicWindowS: about 110 samples,
/// enough to resolve a p99, after kSporadicWarmup messages. A few messages a second would
/// show the same wake-ups but need a minute per cell for a p99.
inline constexpr double kSporadicRate = 200;
inline constexpr double kSporadicWindowS = 0.55;
inline constexpr std::uint64_t kSporadicWarmup = 5;

/// The inverse of LoadPoint::label() ("sporadic", "50%", "10k", "1.5M", "250"); nullopt for
/// anything else. Lenient forms a user may type are runner/config's parse_load_list().
[[nodiscard]] std::optional<LoadPoint> parse_load_label(std::string_view label) noexcept;

void to_json(nlohmann::json& j, const LoadPoint& p);
/// @throws std::invalid_argument for a string that is not a load label.
void from_json(const nlohmann::json& j, LoadPoint& p);

}  // namespace ipcmatrix
