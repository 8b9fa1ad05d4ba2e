#pragma once
/// @file histogram_json.hpp
/// Histogram <-> JSON, the form in which per-process recorders reach the parent and reports.

#include <nlohmann/json.hpp>

#include "ipcmatrix/stats/histogram.hpp"

namespace ipcmatrix {

/// Compact JSON form, listing only non-empty buckets by flat index (see Histogram::index_of):
/// {"sub_bucket_bits":7,"max_value":1099511627775,"count":N,"min":..,"max":..,
///  "saturated":..,"buckets":[[index,count],...]} with indexes strictly increasing.
/// min and max are exact; values are nanoseconds. Allocates; not for the timed path.
[[nodiscard]] nlohmann::json to_json(const Histogram& h);

/// Parses the form written by to_json(). Validates layout and consistency: sub_bucket_bits
/// and max_value must match this build's Histogram, every number must be a non-negative
/// integer, bucket indexes in range and strictly increasing, "count" equal to the sum of
/// bucket counts, min/max inside the first/last non-empty bucket.
/// @throws std::invalid_argument with a message naming the offending field.
[[nodiscard]] Histogram histogram_from_json(const nlohmann::json& j);

}  // namespace ipcmatrix
