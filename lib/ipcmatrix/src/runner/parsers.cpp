#include "ipcmatrix/runner/parsers.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <system_error>
#include <utility>

#include "ipcmatrix/runner/config.hpp"
#include "ipcmatrix/serialize/serializer.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "ipcmatrix/util/text.hpp"
#include "usage_errors.hpp"

namespace ipcmatrix {
namespace {

constexpr std::string_view kSizeExamples = "(examples: 64, 4K, 64KiB, 1M)";

using detail::check_names;
using detail::quote;
using detail::size_limit_text;

[[noreturn]] void fail(std::string_view flag, std::string_view what) { detail::fail_usage(flag, what); }

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

/// Keeps the first of equal values, in order.
template <class T>
void dedupe(std::vector<T>& v) {
  std::vector<T> out;
  for (auto& s : v) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  }
  v = std::move(out);
}

[[noreturn]] void not_a_size(std::string_view text, std::string_view flag) {
  fail(flag, quote(text) + " is not a size " + std::string(kSizeExamples));
}

}  // namespace

namespace detail {

void fail_usage(std::string_view flag, std::string_view what) {
  std::string msg(flag);
  msg += ": ";
  msg += what;
  throw UsageError(msg);
}

std::string quote(std::string_view text) {
  std::string s = "'";
  s += escape_control(text);
  s += "'";
  return s;
}

// validate() re-checks names even though the parsers already did: a RunConfig can also be
// built in code or by apply_preset on a hand-written file.
void check_names(const std::vector<std::string>& names, const std::vector<std::string>& valid,
                 std::string_view flag) {
  if (names.empty()) fail_usage(flag, "the list is empty (valid: " + join(valid) + ")");
  for (const auto& n : names) {
    if (std::find(valid.begin(), valid.end(), n) == valid.end())
      fail_usage(flag, "unknown " + quote(n) + " (valid: " + join(valid) + ")");
  }
}

std::string size_limit_text() { return "1G (" + std::to_string(kMaxSizeBytes) + " bytes)"; }

}  // namespace detail

std::uint64_t parse_size(std::string_view text, std::string_view flag) {
  const std::string_view t = trim(text);
  std::size_t digits = 0;
  while (digits < t.size() && std::isdigit(static_cast<unsigned char>(t[digits]))) ++digits;
  if (digits == 0) not_a_size(text, flag);

  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + digits, value);
  if (ec == std::errc::result_out_of_range) {
    fail(flag, quote(text) + " is too large (at most " + size_limit_text() + ")");
  }
  if (ec != std::errc{} || ptr != t.data() + digits) not_a_size(text, flag);

  // K, M, G and KiB, MiB, GiB are binary multiples: the sizes people type ("4K", "1M") mean
  // page and buffer sizes, which are powers of two. KB, MB and GB are refused: half the world
  // reads 1MB as 1,000,000 bytes, and a size that means two things cannot be reported honestly.
  const std::string suffix = lower(t.substr(digits));
  std::uint64_t multiplier = 0;
  if (suffix == "kb" || suffix == "mb" || suffix == "gb") {
    const std::string binary = std::string(t.substr(0, digits)) +
                               static_cast<char>(std::toupper(static_cast<unsigned char>(suffix[0])));
    fail(flag, quote(text) + " is ambiguous (decimal or binary?): write " + binary + " or " + binary +
                   "iB for the binary multiple, or the number of bytes");
  }
  if (suffix.empty() || suffix == "b") {
    multiplier = 1;
  } else if (suffix == "k" || suffix == "kib") {
    multiplier = std::uint64_t{1} << 10;
  } else if (suffix == "m" || suffix == "mib") {
    multiplier = std::uint64_t{1} << 20;
  } else if (suffix == "g" || suffix == "gib") {
    multiplier = std::uint64_t{1} << 30;
  } else {
    not_a_size(text, flag);
  }
  if (value == 0) fail(flag, quote(text) + " is not a size: sizes start at 1 byte");
  if (value > kMaxSizeBytes / multiplier) {
    fail(flag, quote(text) + " is too large (at most " + size_limit_text() + ")");
  }
  return value * multiplier;
}

std::uint64_t parse_buffer_size(std::string_view text, std::string_view flag) {
  if (trim(text) == "0") return 0;
  return parse_size(text, flag);
}

std::vector<std::string> split_list(std::string_view text, std::string_view flag) {
  if (trim(text).empty()) fail(flag, "empty list");
  std::vector<std::string> items;
  std::string_view rest = text;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    if (item.empty()) fail(flag, "empty item in " + quote(text));
    items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return items;
}

std::vector<std::uint64_t> parse_size_list(std::string_view text, std::string_view flag) {
  std::vector<std::uint64_t> sizes;
  for (const auto& item : split_list(text, flag)) sizes.push_back(parse_size(item, flag));
  dedupe(sizes);  // "64,64" or "1K,1024" is one size, measured once
  return sizes;
}

std::vector<std::string> parse_choices(std::string_view text, const std::vector<std::string>& valid,
                                       std::string_view flag) {
  return parse_choices(text, valid, flag, valid);
}

std::vector<std::string> parse_choices(std::string_view text, const std::vector<std::string>& valid,
                                       std::string_view flag, const std::vector<std::string>& all) {
  std::vector<std::string> out;
  for (auto& item : split_list(text, flag)) {
    if (item == "all") {
      out.insert(out.end(), all.begin(), all.end());
    } else if (contains(valid, item)) {
      out.push_back(std::move(item));
    } else {
      fail(flag, "unknown " + quote(item) + " (valid: " + join(valid) + ", all)");
    }
  }
  dedupe(out);
  return out;
}

std::vector<std::string> parse_mechanisms(std::string_view text, std::string_view flag) {
  return parse_choices(text, mechanism_names(), flag);
}

std::vector<std::string> parse_serializers(std::string_view text, std::string_view flag) {
  auto names = parse_choices(text, valid_serializer_names(), flag, default_serializer_names());
  for (auto& n : names) {
    // Stored under the name the registry gives what it builds ("zstd" alone is shorthand for
    // "zstd+binary"), so "zstd,zstd+binary" does not measure the same thing twice and results
    // name what actually ran.
    try {
      n = std::string(make_serializer(n)->name());
    } catch (const std::exception&) {
      // Keep the name as given; the runner reports the failure per cell.
    }
  }
  dedupe(names);
  return names;
}

std::uint64_t parse_uint(std::string_view text, std::string_view flag) {
  const std::string_view t = trim(text);
  std::uint64_t value = 0;
  // from_chars alone would accept nothing for "" and stop early at "1.5" or "10x".
  if (t.empty() || !std::isdigit(static_cast<unsigned char>(t.front()))) {
    fail(flag, quote(text) + " is not a non-negative integer");
  }
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (ec == std::errc::result_out_of_range) fail(flag, quote(text) + " is too large");
  if (ec != std::errc{} || ptr != t.data() + t.size()) {
    fail(flag, quote(text) + " is not a non-negative integer");
  }
  return value;
}

int parse_int(std::string_view text, std::string_view flag) {
  const std::string_view t = trim(text);
  int value = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (ec == std::errc::result_out_of_range) fail(flag, quote(text) + " is out of range");
  if (t.empty() || ec != std::errc{} || ptr != t.data() + t.size()) {
    fail(flag, quote(text) + " is not an integer");
  }
  return value;
}

double parse_number(std::string_view text, std::string_view flag) {
  const std::string_view t = trim(text);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ec != std::errc{} || ptr != t.data() + t.size() || !std::isfinite(value)) {
    fail(flag, quote(text) + " is not a number");
  }
  if (value < 0) fail(flag, quote(text) + " is negative");
  return value;
}

double parse_duration(std::string_view text, std::string_view flag) {
  const std::string_view t = trim(text);
  std::size_t unit_at = t.size();
  while (unit_at > 0 && std::isalpha(static_cast<unsigned char>(t[unit_at - 1]))) --unit_at;
  const std::string unit = lower(t.substr(unit_at));
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1;
  } else if (unit == "ms") {
    scale = 1e-3;
  } else if (unit == "us") {
    scale = 1e-6;
  } else if (unit == "ns") {
    scale = 1e-9;
  } else if (unit == "min" || unit == "m") {  // 10m as in --budget 10m
    scale = 60;
  } else if (unit == "h") {
    scale = 3600;
  } else {
    fail(flag, quote(text) + " is not a duration (examples: 10, 10s, 500ms, 2min, 10m)");
  }
  const std::string_view number = t.substr(0, unit_at);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc{} || ptr != number.data() + number.size() ||
      !std::isfinite(value)) {
    fail(flag, quote(text) + " is not a duration (examples: 10, 10s, 500ms, 2min, 10m)");
  }
  if (value < 0) fail(flag, quote(text) + " is negative");
  return value * scale;
}

double parse_rate(std::string_view text, std::string_view flag) {
  const std::string_view t = trim(text);
  double scale = 1;
  std::string_view number = t;
  if (!t.empty() && (t.back() == 'k' || t.back() == 'K')) {
    scale = 1e3;
    number = t.substr(0, t.size() - 1);
  } else if (!t.empty() && t.back() == 'M') {
    scale = 1e6;
    number = t.substr(0, t.size() - 1);
  }
  double value = 0;
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc{} || ptr != number.data() + number.size() || !std::isfinite(value) ||
      !(value > 0)) {
    fail(flag, quote(text) + " is not a rate (msgs/s; examples: 500, 50k, 1.5M)");
  }
  return value * scale;
}

std::vector<LoadPoint> parse_load_list(std::string_view text, std::string_view flag) {
  std::vector<LoadPoint> out;
  for (const auto& item : split_list(text, flag)) {
    LoadPoint p;
    if (lower(item) == "sporadic") {
      p.kind = LoadPoint::Kind::sporadic;
      p.value = kSporadicRate;
    } else if (!item.empty() && item.back() == '%') {
      p.kind = LoadPoint::Kind::fraction;
      p.value = parse_percent(item, flag);
      if (p.value > 1) fail(flag, quote(item) + ": a load above 100% of saturation cannot be offered");
    } else {
      p.value = parse_rate(item, flag);
    }
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

double parse_percent(std::string_view text, std::string_view flag) {
  std::string_view t = trim(text);
  if (!t.empty() && t.back() == '%') t.remove_suffix(1);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ec != std::errc{} || ptr != t.data() + t.size() || !std::isfinite(value) || !(value > 0) ||
      value > 1000) {
    fail(flag, quote(text) + " is not a percentage above 0 (examples: 10%, 5)");
  }
  return value / 100;
}

std::vector<int> parse_int_list(std::string_view text, std::string_view flag) {
  std::vector<int> out;
  for (const auto& item : split_list(text, flag)) out.push_back(parse_int(item, flag));
  dedupe(out);
  return out;
}

}  // namespace ipcmatrix
