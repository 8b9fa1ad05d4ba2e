#pragma once
/// @file parsers.hpp
/// The parsers that turn the text of a flag or preset value into a RunConfig field: sizes,
/// lists of names, numbers, durations, rates, loads. Each throws UsageError naming the flag
/// and the offending text, so flags and presets (which go through the same parsers) fail
/// with the same words.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmatrix/model/vocabulary.hpp"

namespace ipcmatrix {

/// A bad command-line or preset value. The runner exits 2 with what() before spawning
/// anything. Messages name the flag (or preset key) and the offending text.
class UsageError : public std::runtime_error {
 public:
  using runtime_error::runtime_error;
};

/// Largest message body, ring or pipe size parse_size() accepts: 1 GiB.
inline constexpr std::uint64_t kMaxSizeBytes = std::uint64_t{1} << 30;

/// Parses "10,1k,100k", "10%,50%,90%", "sporadic" or a mix; duplicates dropped. Throws
/// UsageError naming the flag and item.
[[nodiscard]] std::vector<LoadPoint> parse_load_list(std::string_view text, std::string_view flag);

/// Parses a size: "64", "4K", "4k", "4KB", "4KiB", "64KiB", "1M", "1MiB", "1G" (K = 1024,
/// case-insensitive, optional B / iB; a bare "B" means bytes). Surrounding spaces are ignored.
/// Throws UsageError naming flag and text for "", "0", "-5", "abc", "99T", "1.5K", overflow and
/// anything above kMaxSizeBytes: "--sizes: '99T' is not a size (examples: 64, 4K, 64KiB, 1M)".
[[nodiscard]] std::uint64_t parse_size(std::string_view text, std::string_view flag = "--sizes");

/// parse_size() that also accepts "0": the mechanism's default for --ring-bytes and
/// --pipe-bytes, none for --loan-from.
[[nodiscard]] std::uint64_t parse_buffer_size(std::string_view text, std::string_view flag);

/// A comma list of sizes ("64,4K,1M"). Empty items ("64,,1M") throw UsageError naming the list.
[[nodiscard]] std::vector<std::uint64_t> parse_size_list(std::string_view text,
                                                         std::string_view flag = "--sizes");

/// Splits a comma list and trims spaces around items. Throws UsageError naming flag and the
/// whole text when the list or any item is empty.
[[nodiscard]] std::vector<std::string> split_list(std::string_view text, std::string_view flag);

/// Parses a comma list of names, each one of `valid` or "all" (which expands to `valid`).
/// Duplicates are dropped (first one kept). Throws UsageError listing the valid choices.
[[nodiscard]] std::vector<std::string> parse_choices(std::string_view text,
                                                     const std::vector<std::string>& valid,
                                                     std::string_view flag);
/// As above, but "all" expands to `all` (e.g. the default serializers, a subset of `valid`).
[[nodiscard]] std::vector<std::string> parse_choices(std::string_view text,
                                                     const std::vector<std::string>& valid,
                                                     std::string_view flag,
                                                     const std::vector<std::string>& all);

/// --mechanisms: registered names or "all".
[[nodiscard]] std::vector<std::string> parse_mechanisms(std::string_view text,
                                                        std::string_view flag = "--mechanisms");
/// --serializers: valid_serializer_names() or "all" (= default_serializer_names()).
[[nodiscard]] std::vector<std::string> parse_serializers(std::string_view text,
                                                         std::string_view flag = "--serializers");

/// A non-negative decimal integer ("20000"). Throws UsageError naming flag and text.
[[nodiscard]] std::uint64_t parse_uint(std::string_view text, std::string_view flag);
/// A decimal integer that fits int (may be negative; ranges are validate()'s job).
[[nodiscard]] int parse_int(std::string_view text, std::string_view flag);
/// A finite non-negative number ("2.5", "1e6").
[[nodiscard]] double parse_number(std::string_view text, std::string_view flag);
/// A duration in seconds: "10", "10s", "1.5s", "500ms", "250us", "800ns", "2min". Non-negative.
[[nodiscard]] double parse_duration(std::string_view text, std::string_view flag);
/// A message rate in msgs/s: "500", "50k", "1.5M" (k and M are decimal here: rates are
/// counts per second, not buffer sizes). Positive.
[[nodiscard]] double parse_rate(std::string_view text, std::string_view flag);
/// A relative threshold: "10%" or "10" (percent) -> 0.10. Above 0, at most 1000%.
[[nodiscard]] double parse_percent(std::string_view text, std::string_view flag);
/// A comma list of ints ("1,8,64").
[[nodiscard]] std::vector<int> parse_int_list(std::string_view text, std::string_view flag);

}  // namespace ipcmatrix
