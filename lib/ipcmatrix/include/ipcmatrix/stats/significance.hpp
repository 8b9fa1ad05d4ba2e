#pragma once
/// @file significance.hpp
/// Whether two configurations really differ, judged over their repetitions: the
/// Mann-Whitney U test (rank-based, so one outlying repetition cannot decide it, and no
/// normality assumed) together with a minimum relative difference. Used by the report's
/// recommendations, `compare` and `recommend` alike, so all three call the same things ties.
/// Pure functions; thread-safe.
///
/// Small samples get the exact permutation distribution of U (ties handled by midranks);
/// larger ones the normal approximation with tie correction, from Boost.Math.
/// The level is 0.10 two-sided: with 3 repetitions a side, the smallest p there is is
/// exactly 0.10, reached only when every repetition of one beats every repetition of the
/// other. Fewer repetitions cannot reach it at all, and are reported as untested.

#include <optional>
#include <span>

namespace ipcmatrix {

/// Two-sided significance level.
inline constexpr double kSignificanceLevel = 0.10;

struct MannWhitney {
  double u = 0;        ///< U of the first sample (pairs where a's value is the larger, ties 1/2)
  double p_value = 1;  ///< two-sided
  bool exact = false;  ///< from the permutation distribution, not the normal approximation
};

/// Mann-Whitney U of samples a and b; p_value 1 when either is empty.
[[nodiscard]] MannWhitney mann_whitney(std::span<const double> a, std::span<const double> b);

/// true when samples of these sizes can reach kSignificanceLevel at all (3 and 3 can;
/// 2 and anything below 5, or 1 and anything below 19, cannot).
[[nodiscard]] bool testable(std::size_t n_a, std::size_t n_b) noexcept;

/// A gap this wide needs no test: with kClearlyApartMin repetitions or more each, every
/// repetition of the better one at least kClearlyApart times better than every repetition
/// of the other. This VM's modes move a figure by up to ~17x, but a mode hits a round and the
/// rounds are interleaved: one configuration caught twice in another mode while its rival
/// never was is the risk this rule accepts, so 2 repetitions a side can settle a 2x gap
/// where Mann-Whitney needs 3 and 3.
inline constexpr double kClearlyApart = 2.0;
inline constexpr std::size_t kClearlyApartMin = 2;
/// true when `better` is clearly ahead of `worse` (see kClearlyApart); higher_is_better
/// says which direction is better. False for fewer than kClearlyApartMin values either side
/// or any value that is not positive.
[[nodiscard]] bool clearly_apart(std::span<const double> better, std::span<const double> worse,
                                 bool higher_is_better);

/// Racing's first cut (runner/race.hpp): one repetition a side settles a gap this wide,
/// where the run's floor held still while they ran (the caller knows; the rule alone does
/// not). A mode of this VM moves a figure by up to ~17x, but it moves the floor with it.
inline constexpr double kFarApart = 3.0;
/// true when every repetition of `better` (one at least) is kFarApart times better than
/// every one of `worse`; false for an empty side or any value that is not positive.
[[nodiscard]] bool far_apart(std::span<const double> better, std::span<const double> worse,
                             bool higher_is_better);

/// Two figures compared: a baseline `a` and a candidate `b`, each over its repetitions.
struct FigureComparison {
  double ratio = 1;               ///< median(b) / median(a); 1 when a's median is 0
  std::optional<double> p_value;  ///< absent when the sizes are not testable()
  /// |ratio - 1| exceeds the threshold and, where testable, p_value <= kSignificanceLevel.
  /// Untestable samples differ by the threshold alone (the caller says so).
  bool differs = false;
};

/// Compares a with b. threshold: the smallest relative change that counts (0.10 = 10%).
[[nodiscard]] FigureComparison compare_figures(std::span<const double> a, std::span<const double> b,
                                               double threshold);

}  // namespace ipcmatrix
