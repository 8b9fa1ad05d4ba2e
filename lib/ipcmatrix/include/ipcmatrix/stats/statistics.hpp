#pragma once
/// @file statistics.hpp
/// Pure summary statistics over repeated measurements of one figure (e.g. the p50 of each
/// repetition of a matrix cell). All functions are thread-safe (no shared state) and
/// noexcept except where they take a vector by value.

#include <cstddef>
#include <span>
#include <vector>

namespace ipcmatrix {

/// Summary of repeated measurements of one figure, in the figure's own unit.
struct Spread {
  double median = 0;      ///< median of the repetitions
  double min = 0;         ///< smallest repetition
  double max = 0;         ///< largest repetition
  double mad = 0;         ///< median absolute deviation from the median (unscaled)
  double rel_spread = 0;  ///< (max - min) / median; 0 when median is 0
  std::size_t n = 0;      ///< number of repetitions
};

/// Median; 0 for an empty input. For even n it is the mean of the two middle values.
/// Takes a copy because it partially reorders it.
[[nodiscard]] double median(std::vector<double> v);

/// Arithmetic mean; 0 for an empty input.
[[nodiscard]] double mean(std::span<const double> v) noexcept;

/// Sample standard deviation (divisor n - 1); 0 when n < 2, where it is undefined.
[[nodiscard]] double sample_stddev(std::span<const double> v) noexcept;

/// Median, extremes, MAD and relative spread of v. All zero (n = 0) for an empty input.
[[nodiscard]] Spread spread(std::span<const double> v);

/// True when the repetitions disagree by more than `threshold` of their median:
/// rel_spread > threshold with n >= 2 (a single repetition is never called noisy).
[[nodiscard]] bool is_noisy(const Spread& s, double threshold = 0.10) noexcept;

/// Regularized incomplete beta function I_x(a, b) for a, b > 0 and x in [0, 1], by Lentz's
/// continued fraction (absolute error ~1e-14). Returns NaN for arguments outside the domain.
[[nodiscard]] double regularized_incomplete_beta(double a, double b, double x) noexcept;

/// Two-sided tail probability P(|T| >= |t|) of Student's t distribution with df > 0 degrees
/// of freedom (df need not be an integer). NaN when df <= 0 or t is NaN.
[[nodiscard]] double student_t_two_sided_p(double t, double df) noexcept;

/// Two-sided p-value of Welch's unequal-variance t-test for "a and b have the same mean",
/// using the Welch-Satterthwaite degrees of freedom and an exact Student-t CDF.
/// 1.0 when either side has n < 2. When both sides have zero variance the test degenerates:
/// 1.0 if the means are equal, 0.0 otherwise.
[[nodiscard]] double welch_t_test_p(std::span<const double> a, std::span<const double> b) noexcept;

}  // namespace ipcmatrix
