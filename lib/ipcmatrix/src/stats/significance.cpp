#include "ipcmatrix/stats/significance.hpp"

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <numeric>
#include <vector>

#include "ipcmatrix/stats/statistics.hpp"

namespace ipcmatrix {

namespace {

/// Beyond this many ways of splitting the pooled sample, the normal approximation is used.
constexpr double kMaxExactSplits = 200'000;

double binomial(std::size_t n, std::size_t k) {
  double c = 1;
  for (std::size_t i = 1; i <= k; ++i) c = c * static_cast<double>(n - k + i) / static_cast<double>(i);
  return c;
}

/// Midranks (1-based) of the pooled values: tied values share the mean of their ranks.
std::vector<double> midranks(const std::vector<double>& pooled) {
  std::vector<std::size_t> order(pooled.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return pooled[x] < pooled[y]; });
  std::vector<double> rank(pooled.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && pooled[order[j + 1]] == pooled[order[i]]) ++j;
    const double r = (static_cast<double>(i + j) / 2.0) + 1.0;
    for (std::size_t k = i; k <= j; ++k) rank[order[k]] = r;
    i = j + 1;
  }
  return rank;
}

/// Counts the splits of `ranks` into n_a and the rest whose rank sum lies at least as far
/// from its mean as `observed` does (both tails): the exact two-sided p's numerator.
void count_extreme(const std::vector<double>& ranks, std::size_t from, std::size_t left, double sum, double mean,
                   double observed_dev, double& extreme, double& total) {
  if (left == 0) {
    total += 1;
    if (std::abs(sum - mean) >= observed_dev - 1e-9) extreme += 1;
    return;
  }
  for (std::size_t i = from; i + left <= ranks.size(); ++i)
    count_extreme(ranks, i + 1, left - 1, sum + ranks[i], mean, observed_dev, extreme, total);
}

}  // namespace

bool testable(std::size_t n_a, std::size_t n_b) noexcept {
  if (n_a == 0 || n_b == 0) return false;
  // The most extreme split, in either tail, is the smallest p there is.
  return 2.0 / binomial(n_a + n_b, n_a) <= kSignificanceLevel + 1e-12;
}

namespace {

/// Every repetition of `better` at least `factor` times better than every one of `worse`.
bool apart_by(std::span<const double> better, std::span<const double> worse, bool higher_is_better, double factor) {
  if (better.empty() || worse.empty()) return false;
  const auto positive = [](double v) { return std::isfinite(v) && v > 0; };
  if (!std::all_of(better.begin(), better.end(), positive) || !std::all_of(worse.begin(), worse.end(), positive))
    return false;
  const auto [b_lo, b_hi] = std::minmax_element(better.begin(), better.end());
  const auto [w_lo, w_hi] = std::minmax_element(worse.begin(), worse.end());
  // The better one's worst repetition against the other's best.
  return higher_is_better ? *b_lo >= factor * *w_hi : *w_lo >= factor * *b_hi;
}

}  // namespace

bool far_apart(std::span<const double> better, std::span<const double> worse, bool higher_is_better) {
  return apart_by(better, worse, higher_is_better, kFarApart);
}

bool clearly_apart(std::span<const double> better, std::span<const double> worse, bool higher_is_better) {
  if (better.size() < kClearlyApartMin || worse.size() < kClearlyApartMin) return false;
  return apart_by(better, worse, higher_is_better, kClearlyApart);
}

MannWhitney mann_whitney(std::span<const double> a, std::span<const double> b) {
  MannWhitney r;
  if (a.empty() || b.empty()) return r;
  std::vector<double> pooled(a.begin(), a.end());
  pooled.insert(pooled.end(), b.begin(), b.end());
  const std::vector<double> rank = midranks(pooled);
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  const double rank_sum_a = std::accumulate(rank.begin(), rank.begin() + static_cast<std::ptrdiff_t>(a.size()), 0.0);
  r.u = rank_sum_a - na * (na + 1) / 2;
  const double mean_sum = na * (na + nb + 1) / 2;
  const double dev = std::abs(rank_sum_a - mean_sum);
  if (binomial(a.size() + b.size(), a.size()) <= kMaxExactSplits) {
    double extreme = 0, total = 0;
    count_extreme(rank, 0, a.size(), 0, mean_sum, dev, extreme, total);
    r.p_value = std::min(1.0, extreme / total);
    r.exact = true;
    return r;
  }
  // Normal approximation; the variance shrinks by the tie correction.
  const double n = na + nb;
  double ties = 0;
  std::vector<double> sorted = rank;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    const double t = static_cast<double>(j - i);
    ties += t * t * t - t;
    i = j;
  }
  const double var = na * nb / 12 * ((n + 1) - ties / (n * (n - 1)));
  if (!(var > 0)) return r;
  const double z = std::max(0.0, dev - 0.5) / std::sqrt(var);  // continuity correction
  const boost::math::normal_distribution<double> unit;
  r.p_value = std::min(1.0, 2 * boost::math::cdf(boost::math::complement(unit, z)));
  return r;
}

FigureComparison compare_figures(std::span<const double> a, std::span<const double> b, double threshold) {
  FigureComparison c;
  const double ma = median(std::vector<double>(a.begin(), a.end()));
  const double mb = median(std::vector<double>(b.begin(), b.end()));
  c.ratio = ma != 0 ? mb / ma : 1;
  const bool beyond = std::abs(c.ratio - 1) > threshold;
  if (testable(a.size(), b.size())) {
    c.p_value = mann_whitney(a, b).p_value;
    c.differs = beyond && *c.p_value <= kSignificanceLevel + 1e-12;
  } else {
    c.differs = beyond;
  }
  return c;
}

}  // namespace ipcmatrix
