#include "ipcmatrix/stats/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ipcmatrix {

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  // nth_element is O(n) where a full sort is O(n log n); for even n the lower middle is
  // the largest element of the left partition.
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return lower + (upper - lower) / 2.0;
}

double mean(std::span<const double> v) noexcept {
  if (v.empty()) return 0.0;
  double sum = 0.0;
  for (const double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

double sample_stddev(std::span<const double> v) noexcept {
  // Sample standard deviation is undefined for n = 1.
  if (v.size() < 2) return 0.0;
  // Deviations from the mean rather than a sum of squares, which cancels catastrophically
  // for values like 1e9 +- 1 ns.
  const double mu = mean(v);
  double sum_sq = 0.0;
  for (const double x : v) sum_sq += (x - mu) * (x - mu);
  return std::sqrt(sum_sq / static_cast<double>(v.size() - 1));
}

Spread spread(std::span<const double> v) {
  Spread s;
  if (v.empty()) return s;
  s.n = v.size();
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  s.min = *lo;
  s.max = *hi;
  s.median = median(std::vector<double>(v.begin(), v.end()));
  std::vector<double> dev;
  dev.reserve(v.size());
  for (const double x : v) dev.push_back(std::abs(x - s.median));
  s.mad = median(std::move(dev));
  s.rel_spread = s.median != 0.0 ? (s.max - s.min) / std::abs(s.median) : 0.0;
  return s;
}

bool is_noisy(const Spread& s, double threshold) noexcept {
  return s.n >= 2 && s.rel_spread > threshold;
}

}  // namespace ipcmatrix
