#include "ipcmatrix/model/format_units.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <span>
#include <string_view>

namespace ipcmatrix {

namespace {

// The decimals that give v (below 1000) three significant digits. Rounding is checked before
// choosing, so 9.996 prints "10.0", not "10.00".
int three_digit_decimals(double v) { return v < 9.995 ? 2 : (v < 99.95 ? 1 : 0); }

// Three significant digits with the largest unit that keeps the mantissa below 1000.
// Rounding is checked before choosing the unit so 999.96 becomes "1.00 k", not "1000".
std::string scaled(double v, std::span<const std::string_view> units) {
  if (!std::isfinite(v) || v < 0) return "-";
  std::size_t u = 0;
  while (v >= 999.5 && u + 1 < units.size()) {
    v /= 1000.0;
    ++u;
  }
  const std::string_view sep = units[u].empty() ? "" : " ";
  // Whole numbers in the base unit (histogram nanoseconds, small counts) are exact;
  // printing "850.00 ns" would suggest precision the other way round.
  if (u == 0 && std::floor(v) == v) return fmt::format("{:.0f}{}{}", v, sep, units[0]);
  return fmt::format("{:.{}f}{}{}", v, three_digit_decimals(v), sep, units[u]);
}

}  // namespace

std::string format_ns(double ns) {
  static constexpr std::array<std::string_view, 4> kUnits = {"ns", "us", "ms", "s"};
  return scaled(ns, kUnits);
}

std::string format_rate(double per_s) {
  static constexpr std::array<std::string_view, 5> kUnits = {"", "k", "M", "G", "T"};
  return scaled(per_s, kUnits);
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<std::string_view, 5> kUnits = {"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t unit = 0;
  while (bytes != 0 && bytes % 1024 == 0 && unit + 1 < kUnits.size()) {
    bytes /= 1024;
    ++unit;
  }
  return fmt::format("{}{}", bytes, kUnits[unit]);
}

std::string format_bytes(std::uint64_t bytes) {
  // Exact binary units only while they stay short: "3973424KiB" is exact but unreadable.
  std::string exact = format_size(bytes);
  const std::size_t digits = exact.find_first_not_of("0123456789");
  if (bytes < 1024 || digits <= 4) return exact;
  static constexpr std::array<std::string_view, 4> kUnits = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  std::size_t u = 0;
  while (v >= 1024.0 && u + 1 < kUnits.size()) {
    v /= 1024.0;
    ++u;
  }
  return fmt::format("{:.1f}{}", v, kUnits[u]);
}

std::string format_figure(double v) {
  if (!std::isfinite(v) || v < 0) return "-";
  if (std::floor(v) == v || v >= 99.95) return fmt::format("{:.0f}", v);
  return fmt::format("{:.1f}", v);
}

std::string format_number(double v) {
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%g", v);
  return buf.data();
}

std::string format_ratio(double ratio) {
  if (!std::isfinite(ratio) || ratio < 0) return "-";
  return fmt::format("{:.{}f}x", ratio, three_digit_decimals(ratio));
}

std::string format_elapsed_s(double s) {
  if (!std::isfinite(s) || s < 0) return "-";
  if (s == 0) return "0 s";  // format_ns would say "0 ns" of a run that recorded no length
  if (s < 120) return format_ns(s * 1e9);
  const long long total = std::llround(s);
  if (total < 3600) return fmt::format("{} min {:02} s", total / 60, total % 60);
  return fmt::format("{} h {:02} min", total / 3600, (total % 3600) / 60);
}

std::string format_count(std::uint64_t n, std::string_view noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

}  // namespace ipcmatrix
