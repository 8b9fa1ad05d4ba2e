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

namespace {

// Continued fraction for I_x(a, b), modified Lentz's method (Numerical Recipes 6.4 betacf).
// Converges quickly for x < (a + 1) / (a + b + 2); the caller uses the symmetry
// I_x(a, b) = 1 - I_{1-x}(b, a) otherwise.
double beta_continued_fraction(double a, double b, double x) noexcept {
  constexpr int kMaxIterations = 300;
  constexpr double kEpsilon = 1e-15;
  constexpr double kTiny = 1e-300;  // keeps Lentz's denominators away from zero
  const double qab = a + b;
  const double qap = a + 1.0;
  const double qam = a - 1.0;
  double c = 1.0;
  double d = 1.0 - qab * x / qap;
  if (std::abs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= kMaxIterations; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    if (std::abs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    if (std::abs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double del = d * c;
    h *= del;
    if (std::abs(del - 1.0) < kEpsilon) break;
  }
  return h;
}

}  // namespace

double regularized_incomplete_beta(double a, double b, double x) noexcept {
  if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0) || !(x <= 1.0)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (x == 0.0) return 0.0;
  if (x == 1.0) return 1.0;
  // Front factor x^a (1-x)^b / B(a, b), in logs so large a, b do not overflow.
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                           a * std::log(x) + b * std::log1p(-x);
  const double front = std::exp(log_front);
  if (x < (a + 1.0) / (a + b + 2.0)) return front * beta_continued_fraction(a, b, x) / a;
  return 1.0 - front * beta_continued_fraction(b, a, 1.0 - x) / b;
}

double student_t_two_sided_p(double t, double df) noexcept {
  if (!(df > 0.0) || std::isnan(t)) return std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(t)) return 0.0;
  // P(|T| >= |t|) = I_{df/(df+t^2)}(df/2, 1/2).
  return regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
}

double welch_t_test_p(std::span<const double> a, std::span<const double> b) noexcept {
  if (a.size() < 2 || b.size() < 2) return 1.0;
  const double na = static_cast<double>(a.size());
  const double nb = static_cast<double>(b.size());
  const double sa = sample_stddev(a);
  const double sb = sample_stddev(b);
  const double va = sa * sa / na;  // squared standard error of each mean
  const double vb = sb * sb / nb;
  const double diff = mean(a) - mean(b);
  const double se2 = va + vb;
  if (se2 == 0.0) return diff == 0.0 ? 1.0 : 0.0;
  const double t = diff / std::sqrt(se2);
  // Welch-Satterthwaite approximation of the degrees of freedom.
  const double df = se2 * se2 / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
  // Tiny variances can underflow the denominator; t then follows the normal limit.
  if (!std::isfinite(df)) return std::erfc(std::abs(t) / std::sqrt(2.0));
  return std::clamp(student_t_two_sided_p(t, df), 0.0, 1.0);
}

}  // namespace ipcmatrix
