#pragma once
/// @file format_units.hpp
/// The one spelling of a figure for a reader: durations, rates, sizes, plain numbers and
/// ratios, as the console table, the Markdown report, `recommend`, `compare` and messages
/// print them. A value and its unit are separated by a space ("61.2 us", "450 k msgs/s");
/// sizes keep the token spelling that --size accepts and cell ids use ("4KiB"). Pure
/// functions of their input (no locale); thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

namespace ipcmatrix {

/// Nanoseconds with an auto-scaled unit and 3 significant digits: "850 ns", "12.3 us",
/// "4.56 ms", "1.20 s". A whole number of nanoseconds prints exactly ("850 ns", not
/// "850.00 ns"); rounding picks the unit, so 999.7e3 is "1.00 ms". Negative or non-finite
/// input gives "-".
[[nodiscard]] std::string format_ns(double ns);

/// A per-second rate with an SI prefix and 3 significant digits: "950", "450 k", "12.3 M",
/// "1.20 G". The prefix is separated like a unit, so appending one reads right:
/// format_rate(r) + " msgs/s" is "450 k msgs/s" or "950 msgs/s". Negative or non-finite
/// input gives "-".
[[nodiscard]] std::string format_rate(double per_s);

/// "64B", "4KiB", "1MiB", "2GiB": the largest binary unit that divides bytes exactly, else
/// plain bytes ("1000B", "1536B"). No space: this is the token --size parses back and
/// cell_id() embeds, so a figure's size reads the way it was asked for.
[[nodiscard]] std::string format_size(std::uint64_t bytes);

/// Bytes for a reader: format_size() while that is short (at most 4 digits: "32KiB",
/// "1536B"), else one decimal of the largest binary unit ("15.6GiB", not "16342724KiB").
[[nodiscard]] std::string format_bytes(std::uint64_t bytes);

/// A figure whose unit is in its column header (MB/s, wire B/msg): whole numbers stay whole
/// ("64"), others get one decimal below 100 ("12.3") and none from there ("1235").
/// Negative or non-finite input gives "-".
[[nodiscard]] std::string format_figure(double v);

/// A number as printf's "%g" writes it ("0.5", "1e+06", "3600"): for messages, help text
/// and the labels that name a setting ("2.5M", "50%").
[[nodiscard]] std::string format_number(double v);

/// How many times one figure is another, to 3 significant digits: "1.50x", "13.1x",
/// "150x". Negative or non-finite input gives "-".
[[nodiscard]] std::string format_ratio(double ratio);

/// A run's wall-clock length: format_ns() below two minutes ("850 ms", "12.3 s"), then
/// "3 min 05 s" and "2 h 03 min". Negative or non-finite input gives "-".
[[nodiscard]] std::string format_elapsed_s(double s);

/// A count and its noun, singular for one: "1 repetition", "3 repetitions", "0 cells". The
/// plural adds an "s", which every noun the reports count takes.
[[nodiscard]] std::string format_count(std::uint64_t n, std::string_view noun);

}  // namespace ipcmatrix
