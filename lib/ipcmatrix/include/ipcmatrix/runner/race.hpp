#pragma once
/// @file race.hpp
/// Racing: which cells still need repetitions. After the first pass, the coordinator gives
/// further rounds only to the cells whose place in their group is still open, the decision
/// procedure of racing (and successive halving): a cell within reach of its group's best
/// keeps running until its lead or gap is significant or a tie is established, a cell
/// clearly beaten stops early with the figures it has. The verdicts use the report's own
/// rules (report/decisions.hpp kTieRatio, stats/significance.hpp), so what the race calls
/// decided is what the summary calls a lead or a tie. Pure functions; thread-safe.
///
/// The rules, per group, against the cell with the best median (ties by index):
/// - ahead of a cell beyond kTieRatio with Mann-Whitney p <= kSignificanceLevel (3 and 3
///   repetitions at least), or clearly_apart() (2x with no overlap, 2 repetitions each),
///   or, where every repetition of both cells ran in one mode of the machine (RaceEntry::
///   mode), far_apart() (3x in one repetition each: the first pass's cut of successive
///   halving): that cell is beaten;
/// - within kTieRatio over kTieRepetitions or more repetitions each: tied;
/// - otherwise the cell is open, and so is the best while any cell is open against it.

#include <cstddef>
#include <string>
#include <vector>

#include "ipcmatrix/model/vocabulary.hpp"
#include "ipcmatrix/report/decisions.hpp"

namespace ipcmatrix {

/// One cell as the race sees it.
struct RaceEntry {
  std::string group;              ///< cells race only against their own group
  bool higher_is_better = false;  ///< msgs/s: true; a latency: false
  std::vector<double> values;     ///< its figure per repetition so far; none: it takes no part
  /// Beaten in an earlier verdict: it stays beaten, as racing drops a cell for good (a
  /// far_apart() cut made while the machine was steady is not undone by a later floor that
  /// moved, when the cell can no longer run again).
  bool beaten_before = false;
  /// The mode of the machine every repetition of it ran in (runner/floor.hpp
  /// mode_of_repetition()), or -1 (not one, or not known): a far_apart() gap between two
  /// entries of one mode is theirs, not a change of mode's.
  int mode = -1;
};

struct RaceVerdict {
  RaceOutcome outcome = RaceOutcome::undecided;
  bool open = false;  ///< needs more repetitions (outcome undecided until then)
};

/// The summary's groups race in waves, a few groups at a time, each wave's rounds until its
/// groups are decided or at the cap before the next wave starts: a budget that ends the race
/// then leaves whole groups undecided, not every group a repetition short of its decision
/// (a tie or a Mann-Whitney lead needs 3 repetitions a side, so a budget that ends the
/// second round of one race over every group decides almost nothing). A wave holds groups
/// whose open cells' next round costs at least kWaveS together, so that the floor each
/// round takes stays a small part of it, and every contender of a group still runs in the
/// same rounds, interleaved.
inline constexpr double kWaveS = 30.0;
/// Breadth before depth: the waves race each group to this many repetitions a cell at most
/// (fewer when --race says so); once every wave is through, the summary's groups still open
/// race on to --race, before any group outside the summary. A gap the repetitions overlap at
/// 5 a side then gets more where it matters, without a costly early wave taking the budget
/// of a later wave's rows (which a cap of --race in every wave would).
inline constexpr std::size_t kWaveRepetitions = 5;

/// The wave of each group (0 first): groups taken cheapest first by `cost` (seconds one more
/// round of its open cells takes; ties by `name`), a wave closed once it holds `wave_s` of
/// cost. Sizes of cost and name must match.
[[nodiscard]] std::vector<std::size_t> racing_waves(const std::vector<double>& cost,
                                                    const std::vector<std::string>& name, double wave_s = kWaveS);

/// The verdict on each entry, in the same order. An entry without values, or with a value
/// that is not positive and finite, is undecided and not open (it cannot be compared).
[[nodiscard]] std::vector<RaceVerdict> judge_race(const std::vector<RaceEntry>& entries);

}  // namespace ipcmatrix
