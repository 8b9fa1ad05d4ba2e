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

}  // namespace ipcmatrix
