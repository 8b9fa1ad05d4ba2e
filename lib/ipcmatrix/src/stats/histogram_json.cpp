#include "ipcmatrix/stats/histogram_json.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace ipcmatrix {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::invalid_argument("histogram json: " + what);
}

// nlohmann stores 5 as unsigned when parsed from text but as signed when built from an int
// in C++, so both are accepted; negatives and floats are rejected explicitly.
std::uint64_t as_u64(const nlohmann::json& v, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) {
    const auto s = v.get<std::int64_t>();
    if (s < 0) fail(what + " must not be negative (got " + std::to_string(s) + ")");
    return static_cast<std::uint64_t>(s);
  }
  fail(what + " must be a non-negative integer");
}

std::uint64_t field_u64(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) fail(std::string("missing field \"") + key + "\"");
  return as_u64(*it, std::string("\"") + key + "\"");
}

}  // namespace

nlohmann::json to_json(const Histogram& h) {
  nlohmann::json buckets = nlohmann::json::array();
  for (std::size_t i = 0; i < Histogram::kCountsLen; ++i) {
    if (const std::uint64_t c = h.count_at_index(i); c != 0) {
      buckets.push_back(nlohmann::json::array({i, c}));
    }
  }
  return nlohmann::json{{"sub_bucket_bits", Histogram::kSubBucketBits},
                        {"max_value", Histogram::kMaxValue},
                        {"count", h.count()},
                        {"min", h.min()},
                        {"max", h.max()},
                        {"saturated", h.saturated()},
                        {"buckets", std::move(buckets)}};
}

Histogram histogram_from_json(const nlohmann::json& j) {
  if (!j.is_object()) fail("expected an object");
  if (const auto bits = field_u64(j, "sub_bucket_bits"); bits != Histogram::kSubBucketBits) {
    fail("unsupported sub_bucket_bits " + std::to_string(bits) + " (this build uses " +
         std::to_string(Histogram::kSubBucketBits) + ")");
  }
  if (const auto max_value = field_u64(j, "max_value"); max_value != Histogram::kMaxValue) {
    fail("unsupported max_value " + std::to_string(max_value) + " (this build uses " +
         std::to_string(Histogram::kMaxValue) + ")");
  }
  const std::uint64_t count = field_u64(j, "count");
  const std::uint64_t min = field_u64(j, "min");
  const std::uint64_t max = field_u64(j, "max");
  const std::uint64_t saturated = field_u64(j, "saturated");

  const auto it = j.find("buckets");
  if (it == j.end()) fail("missing field \"buckets\"");
  if (!it->is_array()) fail("\"buckets\" must be an array of [index, count] pairs");
  std::vector<Histogram::Bucket> buckets;
  buckets.reserve(it->size());
  std::uint64_t sum = 0;
  for (std::size_t k = 0; k < it->size(); ++k) {
    const nlohmann::json& pair = (*it)[k];
    const std::string where = "buckets[" + std::to_string(k) + "]";
    if (!pair.is_array() || pair.size() != 2) fail(where + " must be an [index, count] pair");
    const std::uint64_t index = as_u64(pair[0], where + " index");
    const std::uint64_t c = as_u64(pair[1], where + " count");
    if (index >= Histogram::kCountsLen) {
      fail(where + " index " + std::to_string(index) + " out of range (must be < " +
           std::to_string(Histogram::kCountsLen) + ")");
    }
    if (sum + c < sum) fail("bucket counts overflow 64 bits");
    sum += c;
    buckets.push_back({static_cast<std::size_t>(index), c});
  }
  if (sum != count) {
    fail("\"count\" " + std::to_string(count) + " does not equal the sum of bucket counts " +
         std::to_string(sum));
  }
  try {
    return Histogram::from_buckets(buckets, min, max, saturated);
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
}

}  // namespace ipcmatrix
