#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "ipcmatrix/stats/histogram.hpp"
#include "ipcmatrix/stats/histogram_json.hpp"

using ipcmatrix::Histogram;

namespace {

// Percentiles in hundredths of a percent so the exact rank is integer arithmetic.
constexpr std::uint64_t kPercentilesX100[] = {0, 5000, 9000, 9900, 9990, 9999, 10000};

// Exact order statistic: sorted[ceil(p/100 * n) - 1], index clamped into [0, n-1].
std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, std::uint64_t p_x100) {
  const std::uint64_t n = sorted.size();
  const std::uint64_t rank = (p_x100 * n + 9999) / 10000;
  const std::uint64_t index = std::clamp<std::uint64_t>(rank, 1, n) - 1;
  return sorted[index];
}

// Every checked percentile lies at or above the exact value and within the documented
// precision (which is tighter than the 1 % the reports promise).
void check_percentiles(std::vector<std::uint64_t> samples) {
  auto h = std::make_unique<Histogram>();
  for (const auto v : samples) h->record(v);
  std::sort(samples.begin(), samples.end());
  REQUIRE(h->count() == samples.size());
  CHECK(h->min() == samples.front());
  CHECK(h->max() == samples.back());
  for (const auto p_x100 : kPercentilesX100) {
    const double p = static_cast<double>(p_x100) / 100.0;
    const std::uint64_t exact = exact_percentile(samples, p_x100);
    const std::uint64_t got = h->value_at_percentile(p);
    INFO("p=" << p << " exact=" << exact << " got=" << got);
    CHECK(std::abs(static_cast<double>(got) - static_cast<double>(exact)) <=
          0.01 * static_cast<double>(exact));
    CHECK(got >= exact);
    CHECK(static_cast<double>(got - exact) <=
          Histogram::kRelativeError * static_cast<double>(exact));
  }
}

std::vector<std::uint64_t> make_samples(int which) {
  constexpr std::size_t kN = 100'000;
  std::mt19937_64 rng(20240601 + which);
  std::vector<std::uint64_t> out;
  out.reserve(kN);
  switch (which) {
    case 0: {  // uniform over a range spanning many power-of-two buckets
      std::uniform_int_distribution<std::uint64_t> d(0, 5'000'000);
      for (std::size_t i = 0; i < kN; ++i) out.push_back(d(rng));
      break;
    }
    case 1: {  // bimodal: a fast path around 2 us and a slow path around 80 us
      std::normal_distribution<double> fast(2'000.0, 150.0);
      std::normal_distribution<double> slow(80'000.0, 5'000.0);
      std::bernoulli_distribution pick_slow(0.1);
      for (std::size_t i = 0; i < kN; ++i) {
        const double v = pick_slow(rng) ? slow(rng) : fast(rng);
        out.push_back(static_cast<std::uint64_t>(std::max(0.0, v)));
      }
      break;
    }
    case 2: {  // long tail: lognormal around 5 us
      std::lognormal_distribution<double> d(std::log(5'000.0), 1.5);
      for (std::size_t i = 0; i < kN; ++i) out.push_back(static_cast<std::uint64_t>(d(rng)));
      break;
    }
    default: {  // heavier tail: Pareto(alpha = 1.2) with scale 1 us, by inverse CDF
      std::uniform_real_distribution<double> u(0.0, 1.0);
      for (std::size_t i = 0; i < kN; ++i) {
        const double v = 1'000.0 / std::pow(1.0 - u(rng), 1.0 / 1.2);
        out.push_back(static_cast<std::uint64_t>(std::min(v, 1e12)));
      }
      break;
    }
  }
  return out;
}

struct HgrmRow {
  double value = 0;
  double percentile = 0;
  std::uint64_t total = 0;
};

}  // namespace

TEST_SUITE("stats") {

TEST_CASE("histogram: percentiles of 100k samples are within 1% of the exact order statistic") {
  SUBCASE("uniform") { check_percentiles(make_samples(0)); }
  SUBCASE("bimodal") { check_percentiles(make_samples(1)); }
  SUBCASE("lognormal long tail") { check_percentiles(make_samples(2)); }
  SUBCASE("pareto long tail") { check_percentiles(make_samples(3)); }
}

TEST_CASE("histogram: every bucket is contiguous and narrower than 1/128 of its lowest value") {
  for (std::size_t i = 0; i < Histogram::kCountsLen; ++i) {
    const std::uint64_t lo = Histogram::lowest_value_at_index(i);
    const std::uint64_t hi = Histogram::highest_value_at_index(i);
    REQUIRE(Histogram::index_of(lo) == i);
    REQUIRE(Histogram::index_of(hi) == i);
    if (i + 1 < Histogram::kCountsLen) REQUIRE(Histogram::lowest_value_at_index(i + 1) == hi + 1);
    if (lo >= Histogram::kExactBelow) {
      REQUIRE(static_cast<double>(hi - lo + 1) <= Histogram::kRelativeError * static_cast<double>(lo));
    }
  }
  CHECK(Histogram::lowest_value_at_index(0) == 0);
  CHECK(Histogram::highest_value_at_index(Histogram::kCountsLen - 1) == Histogram::kMaxValue);
}

TEST_CASE("histogram: an empty histogram reports zeros and resolves nothing") {
  const auto h = std::make_unique<Histogram>();
  CHECK(h->count() == 0);
  CHECK(h->saturated() == 0);
  CHECK(h->min() == 0);
  CHECK(h->max() == 0);
  CHECK(h->mean() == 0.0);
  CHECK(h->stddev() == 0.0);
  CHECK(h->value_at_percentile(0) == 0);
  CHECK(h->value_at_percentile(50) == 0);
  CHECK(h->value_at_percentile(100) == 0);
  CHECK_FALSE(h->resolves(0));
  CHECK_FALSE(h->resolves(50));
  int buckets = 0;
  h->for_each_bucket([&](std::uint64_t, std::uint64_t, std::uint64_t) { ++buckets; });
  CHECK(buckets == 0);
}

TEST_CASE("histogram: a single value is reported exactly by every statistic") {
  const auto h = std::make_unique<Histogram>();
  h->record(123'456);  // inside a bucket of width 1024, so only the max clamp makes it exact
  CHECK(h->count() == 1);
  CHECK(h->min() == 123'456);
  CHECK(h->max() == 123'456);
  CHECK(h->mean() == doctest::Approx(123'456.0));
  CHECK(h->stddev() == 0.0);
  for (const double p : {0.0, 50.0, 99.99, 100.0}) CHECK(h->value_at_percentile(p) == 123'456);
}

TEST_CASE("histogram: value 0 is a valid sample") {
  const auto h = std::make_unique<Histogram>();
  h->record(0);
  h->record(0);
  CHECK(h->count() == 2);
  CHECK(h->min() == 0);
  CHECK(h->max() == 0);
  CHECK(h->value_at_percentile(100) == 0);
  CHECK(h->mean() == 0.0);
}

TEST_CASE("histogram: values above kMaxValue are clamped and counted as saturated") {
  const auto h = std::make_unique<Histogram>();
  h->record(Histogram::kMaxValue);
  CHECK(h->saturated() == 0);
  h->record(Histogram::kMaxValue + 1);
  h->record(std::numeric_limits<std::uint64_t>::max());
  h->record_n(Histogram::kMaxValue + 7, 5);
  CHECK(h->count() == 8);
  CHECK(h->saturated() == 7);
  CHECK(h->max() == Histogram::kMaxValue);
  CHECK(h->min() == Histogram::kMaxValue);
  CHECK(h->value_at_percentile(100) == Histogram::kMaxValue);
  CHECK(h->count_at_index(Histogram::kCountsLen - 1) == 8);
}

TEST_CASE("histogram: values below 256 are stored and reported exactly") {
  const auto h = std::make_unique<Histogram>();
  for (std::uint64_t v = 0; v < Histogram::kExactBelow; ++v) {
    CHECK(Histogram::index_of(v) == v);
    h->record(v);
  }
  // 256 samples 0..255: rank r holds value r - 1.
  for (std::uint64_t r = 1; r <= 256; ++r) {
    const double p = 100.0 * static_cast<double>(r) / 256.0;
    CHECK(h->value_at_percentile(p) == r - 1);
  }
  CHECK(h->mean() == doctest::Approx(127.5));
  CHECK(h->stddev() == doctest::Approx(std::sqrt((256.0 * 256.0 - 1.0) / 12.0)));
}

TEST_CASE("histogram: record_n(v, n) equals n record(v) calls and record_n(v, 0) is a no-op") {
  auto a = std::make_unique<Histogram>();
  auto b = std::make_unique<Histogram>();
  a->record_n(5'000, 3);
  for (int i = 0; i < 3; ++i) b->record(5'000);
  CHECK(*a == *b);
  a->record_n(1, 0);
  CHECK(*a == *b);
  CHECK(a->min() == 5'000);
}

TEST_CASE("histogram: merging per-process recorders equals recording into one") {
  const auto samples = make_samples(2);
  auto all = std::make_unique<Histogram>();
  auto left = std::make_unique<Histogram>();
  auto right = std::make_unique<Histogram>();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    all->record(samples[i]);
    (i % 3 == 0 ? left : right)->record(samples[i]);
  }
  right->record(Histogram::kMaxValue + 10);
  all->record(Histogram::kMaxValue + 10);
  left->merge(*right);
  CHECK(*left == *all);
  CHECK(left->saturated() == 1);

  auto empty = std::make_unique<Histogram>();
  left->merge(*empty);
  CHECK(*left == *all);
  empty->merge(*all);
  CHECK(*empty == *all);
}

TEST_CASE("histogram: reset returns to the empty state") {
  auto h = std::make_unique<Histogram>();
  h->record(42);
  h->record(Histogram::kMaxValue + 1);
  h->reset();
  CHECK(*h == Histogram{});
  CHECK(h->count() == 0);
  CHECK(h->min() == 0);
}

TEST_CASE("histogram: record_corrected fills in samples like HdrHistogram") {
  // HdrHistogram: record value; then missing = value - interval, recorded while
  // missing >= interval, decreasing by interval.
  const auto reference = [](std::uint64_t value, std::uint64_t interval) {
    auto h = std::make_unique<Histogram>();
    h->record(value);
    if (interval == 0 || value <= interval) return h;
    for (std::uint64_t missing = value - interval; missing >= interval; missing -= interval) {
      h->record(missing);
    }
    return h;
  };

  SUBCASE("interval 100, value 1000 records 1000, 900, ..., 100") {
    auto h = std::make_unique<Histogram>();
    h->record_corrected(1'000, 100);
    CHECK(h->count() == 10);
    CHECK(h->min() == 100);
    CHECK(h->max() == 1'000);
    for (std::uint64_t v = 100; v <= 1'000; v += 100) {
      CHECK(h->count_at_index(Histogram::index_of(v)) == 1);
    }
    CHECK(*h == *reference(1'000, 100));
  }
  SUBCASE("a value not a multiple of the interval stops above the interval") {
    auto h = std::make_unique<Histogram>();
    h->record_corrected(1'050, 100);  // 1050, 950, ..., 150
    CHECK(h->count() == 10);
    CHECK(h->min() == 150);
    CHECK(*h == *reference(1'050, 100));
  }
  SUBCASE("values at or below the interval, or interval 0, record a single sample") {
    auto h = std::make_unique<Histogram>();
    h->record_corrected(100, 100);
    h->record_corrected(50, 100);
    h->record_corrected(1'000'000, 0);
    CHECK(h->count() == 3);
  }
  SUBCASE("long stalls across many buckets match sample-by-sample filling") {
    for (const auto& [value, interval] :
         {std::pair<std::uint64_t, std::uint64_t>{1'000'000'000, 1'000},
          {123'456'789, 777},
          {300, 7},
          {65'537, 3}}) {
      auto h = std::make_unique<Histogram>();
      h->record(17);
      h->record_corrected(value, interval);
      auto expected = reference(value, interval);
      expected->record(17);
      CHECK(*h == *expected);
    }
  }
  SUBCASE("filled-in samples above kMaxValue saturate") {
    const std::uint64_t interval = std::uint64_t{1} << 30;
    const std::uint64_t value = Histogram::kMaxValue + 3 * interval + 5;
    auto h = std::make_unique<Histogram>();
    h->record_corrected(value, interval);
    const auto expected = reference(value, interval);
    CHECK(h->saturated() == 4);  // value itself and the three filled-in ones above the limit
    CHECK(*h == *expected);
  }
}

TEST_CASE("histogram: mean and stddev follow the samples within the bucket precision") {
  const auto samples = make_samples(0);
  auto h = std::make_unique<Histogram>();
  double sum = 0.0;
  for (const auto v : samples) {
    h->record(v);
    sum += static_cast<double>(v);
  }
  const double mu = sum / static_cast<double>(samples.size());
  double sq = 0.0;
  for (const auto v : samples) sq += (static_cast<double>(v) - mu) * (static_cast<double>(v) - mu);
  const double sd = std::sqrt(sq / static_cast<double>(samples.size()));
  CHECK(h->mean() == doctest::Approx(mu).epsilon(0.01));
  CHECK(h->stddev() == doctest::Approx(sd).epsilon(0.01));
}

TEST_CASE("histogram: for_each_bucket visits non-empty buckets in increasing order") {
  auto h = std::make_unique<Histogram>();
  for (const auto v : make_samples(1)) h->record(v);
  std::uint64_t total = 0;
  std::uint64_t previous_high = 0;
  bool first = true;
  h->for_each_bucket([&](std::uint64_t lo, std::uint64_t hi, std::uint64_t c) {
    CHECK(c > 0);
    CHECK(lo <= hi);
    if (!first) CHECK(lo > previous_high);
    first = false;
    previous_high = hi;
    total += c;
  });
  CHECK(total == h->count());
}

TEST_CASE("histogram: percentiles outside [0, 100] are clamped") {
  auto h = std::make_unique<Histogram>();
  for (std::uint64_t v = 1; v <= 100; ++v) h->record(v);
  CHECK(h->value_at_percentile(-5) == 1);
  CHECK(h->value_at_percentile(std::nan("")) == 1);
  CHECK(h->value_at_percentile(250) == 100);
  CHECK(h->value_at_percentile(99) == 99);
}

TEST_CASE("histogram: resolves(p) requires count >= 100 / (100 - p)") {
  auto h = std::make_unique<Histogram>();
  h->record(1);
  CHECK(h->resolves(0));
  CHECK_FALSE(h->resolves(50));
  h->record(1);
  CHECK(h->resolves(50));
  h->record_n(1, 97);  // 99 samples
  CHECK(h->resolves(90));
  CHECK_FALSE(h->resolves(99));
  h->record(1);  // 100
  CHECK(h->resolves(99));
  CHECK_FALSE(h->resolves(99.9));
  h->record_n(1, 899);  // 999
  CHECK_FALSE(h->resolves(99.9));
  h->record(1);  // 1000
  CHECK(h->resolves(99.9));
  CHECK_FALSE(h->resolves(99.99));
  h->record_n(1, 8'999);  // 9999
  CHECK_FALSE(h->resolves(99.99));
  h->record(1);
  CHECK(h->resolves(99.99));
  CHECK_FALSE(h->resolves(100));
}

TEST_CASE("histogram: JSON round trip preserves the histogram exactly") {
  SUBCASE("long-tail samples with saturation") {
    auto h = std::make_unique<Histogram>();
    for (const auto v : make_samples(3)) h->record(v);
    h->record(Histogram::kMaxValue + 1);
    const nlohmann::json j = ipcmatrix::to_json(*h);
    CHECK(j.at("sub_bucket_bits") == 7);
    CHECK(j.at("count") == h->count());
    CHECK(j.at("saturated") == 1);
    // Through text, as it travels between processes.
    const auto back = std::make_unique<Histogram>(
        ipcmatrix::histogram_from_json(nlohmann::json::parse(j.dump())));
    CHECK(*back == *h);
  }
  SUBCASE("empty") {
    const auto h = std::make_unique<Histogram>();
    const nlohmann::json j = ipcmatrix::to_json(*h);
    CHECK(j.at("buckets").empty());
    CHECK(ipcmatrix::histogram_from_json(j) == *h);
  }
  SUBCASE("only non-empty buckets are listed") {
    auto h = std::make_unique<Histogram>();
    h->record_n(3, 2);
    h->record(1'000'000);
    const nlohmann::json j = ipcmatrix::to_json(*h);
    CHECK(j.at("buckets") ==
          nlohmann::json::array({{3, 2}, {Histogram::index_of(1'000'000), 1}}));
    CHECK(ipcmatrix::histogram_from_json(j) == *h);
  }
}

TEST_CASE("histogram: malformed JSON is rejected with std::invalid_argument") {
  auto h = std::make_unique<Histogram>();
  h->record(10);
  h->record(5'000);
  const nlohmann::json good = ipcmatrix::to_json(*h);
  REQUIRE(ipcmatrix::histogram_from_json(good) == *h);

  const auto rejects = [&](const char* what, auto mutate) {
    nlohmann::json j = good;
    mutate(j);
    INFO(what);
    CHECK_THROWS_AS((void)ipcmatrix::histogram_from_json(j), std::invalid_argument);
  };
  rejects("not an object", [](nlohmann::json& j) { j = nlohmann::json::array(); });
  rejects("wrong sub_bucket_bits", [](nlohmann::json& j) { j["sub_bucket_bits"] = 8; });
  rejects("wrong max_value", [](nlohmann::json& j) { j["max_value"] = 1000; });
  rejects("missing count", [](nlohmann::json& j) { j.erase("count"); });
  rejects("missing buckets", [](nlohmann::json& j) { j.erase("buckets"); });
  rejects("buckets not an array", [](nlohmann::json& j) { j["buckets"] = 3; });
  rejects("bucket not a pair", [](nlohmann::json& j) { j["buckets"][0] = {1, 2, 3}; });
  rejects("index out of range", [](nlohmann::json& j) {
    j["buckets"][1][0] = Histogram::kCountsLen;
  });
  rejects("negative count", [](nlohmann::json& j) { j["buckets"][0][1] = -1; });
  rejects("fractional count", [](nlohmann::json& j) { j["buckets"][0][1] = 1.5; });
  rejects("negative min", [](nlohmann::json& j) { j["min"] = -10; });
  rejects("count mismatch", [](nlohmann::json& j) { j["count"] = 3; });
  rejects("indexes not increasing", [](nlohmann::json& j) {
    std::swap(j["buckets"][0], j["buckets"][1]);
  });
  rejects("min outside its bucket", [](nlohmann::json& j) { j["min"] = 11; });
  rejects("max outside its bucket", [](nlohmann::json& j) { j["max"] = 9'000; });
  rejects("saturated without top bucket", [](nlohmann::json& j) { j["saturated"] = 1; });

  try {
    nlohmann::json j = good;
    j["sub_bucket_bits"] = 8;
    (void)ipcmatrix::histogram_from_json(j);
    FAIL("expected an exception");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("sub_bucket_bits") != std::string::npos);
  }
}

TEST_CASE("histogram: .hgrm output has HdrHistogram's header, rows and footer") {
  auto h = std::make_unique<Histogram>();
  const auto samples = make_samples(2);
  for (const auto v : samples) h->record(v);
  const std::string text = h->to_hgrm(1000.0);

  std::istringstream in(text);
  std::string line;
  REQUIRE(std::getline(in, line));
  CHECK(line == "       Value     Percentile TotalCount 1/(1-Percentile)");
  REQUIRE(std::getline(in, line));
  CHECK(line.empty());

  std::vector<HgrmRow> rows;
  std::vector<std::string> footer;
  while (std::getline(in, line)) {
    if (line.rfind("#[", 0) == 0) {
      footer.push_back(line);
      continue;
    }
    REQUIRE(footer.empty());  // no rows after the footer
    std::istringstream fields(line);
    HgrmRow row;
    REQUIRE(static_cast<bool>(fields >> row.value >> row.percentile >> row.total));
    rows.push_back(row);
  }
  REQUIRE(rows.size() > 10);
  for (std::size_t i = 1; i < rows.size(); ++i) {
    CHECK(rows[i].value >= rows[i - 1].value);
    CHECK(rows[i].percentile >= rows[i - 1].percentile);
    CHECK(rows[i].total >= rows[i - 1].total);
  }
  CHECK(rows.front().percentile == 0.0);
  CHECK(rows.back().percentile == 1.0);
  CHECK(rows.back().total == h->count());
  CHECK(rows.back().value == doctest::Approx(static_cast<double>(h->max()) / 1000.0).epsilon(1e-4));

  REQUIRE(footer.size() == 3);
  CHECK(footer[0].rfind("#[Mean    = ", 0) == 0);
  CHECK(footer[0].find("StdDeviation   = ") != std::string::npos);
  char max_text[64];
  std::snprintf(max_text, sizeof max_text, "%12.2f", static_cast<double>(h->max()) / 1000.0);
  CHECK(footer[1] == "#[Max     = " + std::string(max_text) + ", Total count    = " +
                         std::string(12 - std::to_string(h->count()).size(), ' ') +
                         std::to_string(h->count()) + "]");
  CHECK(footer[2] == "#[Buckets =           33, SubBuckets     =          256]");
}

TEST_CASE("histogram: .hgrm of an empty histogram is header and footer only") {
  const auto h = std::make_unique<Histogram>();
  const std::string text = h->to_hgrm();
  CHECK(text.rfind("       Value     Percentile TotalCount 1/(1-Percentile)\n\n#[Mean", 0) == 0);
  CHECK(text.find("Total count    =            0]") != std::string::npos);
}

}  // TEST_SUITE
