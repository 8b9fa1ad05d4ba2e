#pragma once
/// @file histogram.hpp
/// Fixed-size log-linear latency histogram (HdrHistogram layout) for nanosecond samples.

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>

namespace ipcmatrix {

/// Log-linear histogram of non-negative integer values (nanoseconds), HdrHistogram-style.
///
/// Layout and precision: identical to an HdrHistogram with lowest discernible value 1,
/// highest trackable value kMaxValue and 2 significant figures. Values 0..255 each have
/// their own bucket (exact). Above that, every power-of-two range [2^k, 2^(k+1)) is split
/// into 2^kSubBucketBits = 128 equal-width buckets, so a bucket's width is at most 1/128 of
/// its lowest value. Any value reported back (percentiles, bucket bounds) is the bucket's
/// highest equivalent value, which is >= the true sample and exceeds it by less than
/// kRelativeError (1/128 ~= 0.78 %) of the sample.
///
/// Memory: kCountsLen 64-bit counters (~34 KiB) in a flat std::array, so the object never
/// allocates, is trivially copyable and can live in shared memory. Large: prefer the heap
/// or static storage over many stack copies.
///
/// Values above kMaxValue are clamped to kMaxValue and also counted in saturated().
/// Counters wrap silently after 2^64 samples (not reachable in practice).
///
/// @note Not thread-safe: use one recorder per thread/process and merge() them in the parent.
class Histogram {
 public:
  /// log2 of the number of linear sub-buckets per power of two above the exact range.
  static constexpr unsigned kSubBucketBits = 7;
  /// Largest value tracked exactly to the stated precision: 2^40 - 1 ns, about 18 minutes.
  static constexpr std::uint64_t kMaxValue = (std::uint64_t{1} << 40) - 1;
  /// Relative precision guarantee: |reported - true| / true < 1/128 for any true >= 1;
  /// values below 256 are exact.
  static constexpr double kRelativeError = 1.0 / (std::uint64_t{1} << kSubBucketBits);
  /// Buckets per power of two in HdrHistogram terms (its "SubBuckets"): 256, because the
  /// first bucket covers 0..255 at width 1 and the others reuse its upper half.
  static constexpr std::size_t kSubBucketCount = std::size_t{1} << (kSubBucketBits + 1);
  /// Values below this are stored exactly.
  static constexpr std::uint64_t kExactBelow = kSubBucketCount;
  /// Power-of-two buckets needed to cover kMaxValue (HdrHistogram's "Buckets"): 33.
  static constexpr std::size_t kBucketCount =
      std::bit_width(kMaxValue) - (kSubBucketBits + 1) + 1;
  /// Number of counters (flat bucket indexes 0..kCountsLen-1): 4352.
  static constexpr std::size_t kCountsLen = (kBucketCount + 1) << kSubBucketBits;

  /// One non-empty bucket as used by (de)serialisation: flat index and sample count.
  struct Bucket {
    std::size_t index = 0;
    std::uint64_t count = 0;
    bool operator==(const Bucket&) const = default;
  };

  /// Empty histogram. Does not allocate.
  Histogram() noexcept = default;

  /// Records one sample. O(1), allocation-free; values > kMaxValue are clamped and counted
  /// in saturated().
  void record(std::uint64_t value) noexcept { record_n(value, 1); }

  /// Records n identical samples (n == 0 is a no-op). Same cost and clamping as record().
  void record_n(std::uint64_t value, std::uint64_t n) noexcept {
    // Clamping with min/compare keeps the hot path branch-free apart from the n == 0 guard,
    // which protects min/max from a sample that was never recorded.
    if (n == 0) return;
    const std::uint64_t v = std::min(value, kMaxValue);
    saturated_ += static_cast<std::uint64_t>(value > kMaxValue) * n;
    counts_[index_of(v)] += n;
    total_ += n;
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
  }

  /// Coordinated-omission correction, same rule as HdrHistogram's
  /// hdr_record_corrected_value(): records `value`, then, if expected_interval > 0 and
  /// value > expected_interval, also value - k * expected_interval for k = 1, 2, ... while
  /// that is >= expected_interval (value 1000, interval 100 records 1000, 900, ..., 100:
  /// 10 samples). The filled-in samples are added per bucket in closed form, so the cost is
  /// bounded by the number of buckets touched, not by value / expected_interval.
  /// Unlike HdrHistogram (which rejects them), values above kMaxValue are clamped and
  /// counted in saturated(), including filled-in ones.
  void record_corrected(std::uint64_t value, std::uint64_t expected_interval) noexcept;

  /// Adds all samples of `other` (same fixed layout, so nothing is ever dropped).
  void merge(const Histogram& other) noexcept;

  /// Back to the empty state.
  void reset() noexcept;

  /// Number of samples recorded (including saturated ones).
  [[nodiscard]] std::uint64_t count() const noexcept { return total_; }
  /// Samples that exceeded kMaxValue (they are counted at kMaxValue).
  [[nodiscard]] std::uint64_t saturated() const noexcept { return saturated_; }
  /// Exact smallest sample (after clamping); 0 when empty.
  [[nodiscard]] std::uint64_t min() const noexcept { return total_ == 0 ? 0 : min_; }
  /// Exact largest sample (after clamping); 0 when empty.
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  /// Mean computed from bucket midpoints (HdrHistogram's median equivalent value, clamped
  /// into [min(), max()]), so it carries the same < 1/128 relative error as the buckets.
  /// 0 when empty.
  [[nodiscard]] double mean() const noexcept;
  /// Population standard deviation from the same bucket midpoints as mean(); 0 when
  /// count() < 2.
  [[nodiscard]] double stddev() const noexcept;

  /// Value at percentile p in [0, 100] (NaN and values outside are clamped into range):
  /// the bucket holding the sample of rank ceil(p/100 * count()) (rank at least 1), that is
  /// the smallest bucket value v with at least p % of samples <= v, reported as the
  /// bucket's highest equivalent value clamped to max(). Thus p == 100 returns max() exactly
  /// and every result is within kRelativeError above the exact order statistic.
  /// Empty histogram -> 0.
  [[nodiscard]] std::uint64_t value_at_percentile(double p) const noexcept;

  /// True when count() is large enough to resolve percentile p honestly, i.e. at least one
  /// sample is expected to lie above it: count() >= 100 / (100 - p). So p50 needs 2 samples,
  /// p99 needs 100, p99.9 needs 1000, p99.99 needs 10000. p <= 0 needs one sample; p >= 100
  /// is never resolved by this rule (use max(), which is exact).
  [[nodiscard]] bool resolves(double p) const noexcept;

  /// HdrHistogram percentile-distribution text (.hgrm), as written by HdrHistogram's
  /// outputPercentileDistribution() and read by hdr-plot / HistogramLogAnalyzer:
  /// the "Value Percentile TotalCount 1/(1-Percentile)" header, one row per percentile tick
  /// (ticks_per_half_distance rows per halving of the distance to 100 %), a final row at
  /// percentile 1.0, then the #[Mean ...], #[Max ...], #[Buckets ...] footer. Values are
  /// divided by value_unit_scale (1000.0 prints microseconds from nanoseconds) and printed
  /// with 2 decimals (the histogram's significant figures). Row values are bucket highest
  /// equivalent values clamped to max(), as in value_at_percentile().
  /// Allocates; not for the timed path. ticks_per_half_distance < 1 is treated as 1.
  [[nodiscard]] std::string to_hgrm(double value_unit_scale = 1.0,
                                    int ticks_per_half_distance = 5) const;

  /// Calls f(lowest_value, highest_equivalent_value, count) for each non-empty bucket in
  /// increasing value order. A template so the callback inlines; f must not modify *this.
  template <class F>
  void for_each_bucket(F&& f) const {
    for (std::size_t i = 0; i < kCountsLen; ++i) {
      if (counts_[i] != 0) f(lowest_value_at_index(i), highest_value_at_index(i), counts_[i]);
    }
  }

  /// Flat counter index holding `value`. Precondition: value <= kMaxValue.
  [[nodiscard]] static constexpr std::size_t index_of(std::uint64_t value) noexcept {
    // HdrHistogram's get_bucket_index/get_sub_bucket_index folded into one expression:
    // OR-ing in the exact-range mask makes every value below 256 land in bucket 0.
    const unsigned bucket =
        static_cast<unsigned>(std::bit_width(value | (kSubBucketCount - 1))) - (kSubBucketBits + 1);
    const std::uint64_t sub = value >> bucket;
    return (static_cast<std::size_t>(bucket) << kSubBucketBits) + static_cast<std::size_t>(sub);
  }
  /// Lowest value stored at `index`. Precondition: index < kCountsLen.
  [[nodiscard]] static constexpr std::uint64_t lowest_value_at_index(std::size_t index) noexcept {
    const std::size_t half = std::size_t{1} << kSubBucketBits;
    if (index < kSubBucketCount) return index;
    const unsigned bucket = static_cast<unsigned>(index >> kSubBucketBits) - 1;
    return static_cast<std::uint64_t>((index & (half - 1)) + half) << bucket;
  }
  /// Number of distinct values sharing the counter at `index` (1 in the exact range).
  [[nodiscard]] static constexpr std::uint64_t bucket_width_at_index(std::size_t index) noexcept {
    if (index < kSubBucketCount) return 1;
    return std::uint64_t{1} << ((index >> kSubBucketBits) - 1);
  }
  /// Highest value stored at `index` (HdrHistogram's highest equivalent value).
  [[nodiscard]] static constexpr std::uint64_t highest_value_at_index(std::size_t index) noexcept {
    return lowest_value_at_index(index) + bucket_width_at_index(index) - 1;
  }
  /// Samples in the counter at `index`; 0 when index >= kCountsLen.
  [[nodiscard]] std::uint64_t count_at_index(std::size_t index) const noexcept {
    return index < kCountsLen ? counts_[index] : 0;
  }

  /// Rebuilds a histogram from its serialised parts (see histogram_json.hpp).
  /// `buckets` must have strictly increasing indexes < kCountsLen; zero counts are skipped.
  /// min/max must fall inside the first/last non-empty bucket and saturated must not
  /// exceed the top bucket's count; an empty bucket list requires min == max == saturated
  /// == 0. @throws std::invalid_argument naming the first inconsistency.
  [[nodiscard]] static Histogram from_buckets(std::span<const Bucket> buckets,
                                              std::uint64_t min, std::uint64_t max,
                                              std::uint64_t saturated);

  /// Same samples, same extremes, same saturation.
  bool operator==(const Histogram&) const = default;

 private:
  std::array<std::uint64_t, kCountsLen> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t saturated_ = 0;
  // Starts at the maximum so the first record() needs no "empty" branch; min() hides it.
  std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t max_ = 0;
};

static_assert(Histogram::kBucketCount == 33);
static_assert(Histogram::kCountsLen == 4352);
static_assert(Histogram::index_of(Histogram::kMaxValue) == Histogram::kCountsLen - 1);
static_assert(Histogram::highest_value_at_index(Histogram::kCountsLen - 1) == Histogram::kMaxValue);
static_assert(Histogram::index_of(255) == 255 && Histogram::index_of(256) == 256);

}  // namespace ipcmatrix
