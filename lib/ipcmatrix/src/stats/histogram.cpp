#include "ipcmatrix/stats/histogram.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace ipcmatrix {

namespace {

// Rank (1-based) of the order statistic that percentile p names: ceil(p/100 * n), at least 1.
// p/100 * n is snapped to the nearest integer when within rounding noise, otherwise
// e.g. 99.9 % of 1000 evaluates to 999.0000000000001 and ceil() would skip to rank 1000.
std::uint64_t rank_for_percentile(double p, std::uint64_t n) noexcept {
  const double clamped = p > 0.0 ? std::min(p, 100.0) : 0.0;  // NaN -> 0
  double x = clamped / 100.0 * static_cast<double>(n);
  const double nearest = std::round(x);
  if (std::abs(x - nearest) <= 1e-9 * std::max(1.0, x)) x = nearest;
  const auto rank = static_cast<std::uint64_t>(std::ceil(x));
  return std::clamp<std::uint64_t>(rank, 1, n);
}

}  // namespace

void Histogram::record_corrected(std::uint64_t value, std::uint64_t expected_interval) noexcept {
  record(value);
  if (expected_interval == 0 || value <= expected_interval) return;

  // Filled-in samples are value - k*I for k = 1..K, K = value/I - 1 (the smallest is
  // I + value % I, the last one still >= I). Each pass of the loop below books every one
  // of them that shares the bucket of the current largest, so it runs once per bucket.
  const std::uint64_t interval = expected_interval;
  std::uint64_t remaining = value / interval - 1;
  std::uint64_t next = value - interval;  // largest filled-in sample not yet booked

  if (next > kMaxValue && remaining > 0) {
    // Those above kMaxValue saturate, like recorded samples: k <= (value - kMaxValue - 1)/I.
    const std::uint64_t above = std::min(remaining, (value - kMaxValue - 1) / interval);
    counts_[kCountsLen - 1] += above;
    total_ += above;
    saturated_ += above;
    max_ = kMaxValue;
    remaining -= above;
    next -= above * interval;
  }
  while (remaining > 0) {
    const std::size_t idx = index_of(next);
    const std::uint64_t lowest = lowest_value_at_index(idx);
    const std::uint64_t here = std::min(remaining, (next - lowest) / interval + 1);
    counts_[idx] += here;
    total_ += here;
    remaining -= here;
    if (remaining == 0) {
      min_ = std::min(min_, next - (here - 1) * interval);
    } else {
      next -= here * interval;
    }
  }
}

void Histogram::merge(const Histogram& other) noexcept {
  for (std::size_t i = 0; i < kCountsLen; ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  saturated_ += other.saturated_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void Histogram::reset() noexcept { *this = Histogram{}; }

double Histogram::mean() const noexcept {
  if (total_ == 0) return 0.0;
  // Clamping the midpoint into [min, max] makes single-valued and narrow histograms exact.
  double sum = 0.0;
  for_each_bucket([&](std::uint64_t lo, std::uint64_t hi, std::uint64_t c) {
    const std::uint64_t mid = std::clamp(lo + (hi - lo + 1) / 2, min_, max_);
    sum += static_cast<double>(mid) * static_cast<double>(c);
  });
  return sum / static_cast<double>(total_);
}

double Histogram::stddev() const noexcept {
  if (total_ < 2) return 0.0;
  // Two passes around the mean, not a sum of squares, to avoid cancellation.
  const double mu = mean();
  double sum_sq = 0.0;
  for_each_bucket([&](std::uint64_t lo, std::uint64_t hi, std::uint64_t c) {
    const std::uint64_t mid = std::clamp(lo + (hi - lo + 1) / 2, min_, max_);
    const double d = static_cast<double>(mid) - mu;
    sum_sq += d * d * static_cast<double>(c);
  });
  return std::sqrt(sum_sq / static_cast<double>(total_));
}

std::uint64_t Histogram::value_at_percentile(double p) const noexcept {
  if (total_ == 0) return 0;
  const std::uint64_t rank = rank_for_percentile(p, total_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kCountsLen; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(highest_value_at_index(i), max_);
  }
  return max_;  // unreachable while total_ equals the sum of counts_
}

bool Histogram::resolves(double p) const noexcept {
  if (!(p < 100.0)) return false;  // also rejects NaN
  const double needed = 100.0 / (100.0 - std::max(p, 0.0));
  // The tolerance absorbs 100 - 99.9 != 0.1 in binary so that p99.9 needs exactly 1000.
  return static_cast<double>(total_) >= needed * (1.0 - 1e-9);
}

std::string Histogram::to_hgrm(double value_unit_scale, int ticks_per_half_distance) const {
  // Mirrors HdrHistogram's PercentileIterator and outputPercentileDistribution() (Java),
  // whose column widths and number formats the plotting tools parse.
  const long ticks_half = std::max(ticks_per_half_distance, 1);
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
                "1/(1-Percentile)");
  out += line;

  if (total_ != 0) {
    const double total = static_cast<double>(total_);
    double level = 0.0;  // percentile (0..100) the next row reports
    std::uint64_t seen = 0;
    std::size_t i = 0;
    // Advance to the first non-empty bucket.
    while (counts_[i] == 0) ++i;
    seen = counts_[i];
    for (;;) {
      const double reached = 100.0 * static_cast<double>(seen) / total;
      if (reached >= level) {
        const double value =
            static_cast<double>(std::min(highest_value_at_index(i), max_)) / value_unit_scale;
        if (level < 100.0) {
          std::snprintf(line, sizeof line, "%12.2f %2.12f %10llu %14.2f\n", value, level / 100.0,
                        static_cast<unsigned long long>(seen), 1.0 / (1.0 - level / 100.0));
          out += line;
        }
        if (seen == total_ || level >= 100.0) {
          // HdrHistogram ends with one extra row at exactly 100 % for the last value.
          std::snprintf(line, sizeof line, "%12.2f %2.12f %10llu\n", value, 1.0,
                        static_cast<unsigned long long>(seen));
          out += line;
          break;
        }
        // Fixed-size ticks within each half of the remaining distance to 100 %.
        const double halvings = std::floor(std::log2(100.0 / (100.0 - level)));
        const double ticks = static_cast<double>(ticks_half) * std::exp2(halvings + 1.0);
        level += 100.0 / ticks;
        continue;
      }
      do {
        ++i;
      } while (counts_[i] == 0);
      seen += counts_[i];
    }
  }

  const double scale = value_unit_scale;
  std::snprintf(line, sizeof line, "#[Mean    = %12.2f, StdDeviation   = %12.2f]\n", mean() / scale,
                stddev() / scale);
  out += line;
  std::snprintf(line, sizeof line, "#[Max     = %12.2f, Total count    = %12llu]\n",
                static_cast<double>(max()) / scale, static_cast<unsigned long long>(total_));
  out += line;
  std::snprintf(line, sizeof line, "#[Buckets = %12zu, SubBuckets     = %12zu]\n", kBucketCount,
                kSubBucketCount);
  out += line;
  return out;
}

Histogram Histogram::from_buckets(std::span<const Bucket> buckets, std::uint64_t min,
                                  std::uint64_t max, std::uint64_t saturated) {
  Histogram h;
  std::size_t first = kCountsLen;
  std::size_t last = 0;
  bool have_previous = false;
  std::size_t previous = 0;
  for (const Bucket& b : buckets) {
    if (b.index >= kCountsLen) {
      throw std::invalid_argument("histogram: bucket index " + std::to_string(b.index) +
                                  " out of range (must be < " + std::to_string(kCountsLen) + ")");
    }
    if (have_previous && b.index <= previous) {
      throw std::invalid_argument("histogram: bucket indexes must be strictly increasing (" +
                                  std::to_string(b.index) + " after " + std::to_string(previous) +
                                  ")");
    }
    have_previous = true;
    previous = b.index;
    if (b.count == 0) continue;
    if (h.total_ + b.count < h.total_) {
      throw std::invalid_argument("histogram: total count overflows 64 bits");
    }
    h.counts_[b.index] = b.count;
    h.total_ += b.count;
    first = std::min(first, b.index);
    last = b.index;
  }

  if (h.total_ == 0) {
    if (min != 0 || max != 0 || saturated != 0) {
      throw std::invalid_argument("histogram: empty histogram must have min, max, saturated = 0");
    }
    return h;
  }
  if (min > max) throw std::invalid_argument("histogram: min exceeds max");
  if (min < lowest_value_at_index(first) || min > highest_value_at_index(first)) {
    throw std::invalid_argument("histogram: min " + std::to_string(min) +
                                " is not in the lowest non-empty bucket");
  }
  if (max < lowest_value_at_index(last) || max > highest_value_at_index(last)) {
    throw std::invalid_argument("histogram: max " + std::to_string(max) +
                                " is not in the highest non-empty bucket");
  }
  if (saturated > h.counts_[kCountsLen - 1]) {
    throw std::invalid_argument("histogram: saturated count exceeds the top bucket's count");
  }
  h.min_ = min;
  h.max_ = max;
  h.saturated_ = saturated;
  return h;
}

}  // namespace ipcmatrix
