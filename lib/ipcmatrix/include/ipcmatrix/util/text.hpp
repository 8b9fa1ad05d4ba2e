#pragma once
/// @file text.hpp
/// The few string helpers every module needs (config parsing, reports, environment
/// capture), defined once. Numbers are spelled by model/format_units.hpp. Pure functions: no locale, no allocation beyond the result,
/// thread-safe.

#include <string>
#include <string_view>
#include <vector>

namespace ipcmatrix {

/// s without leading and trailing ASCII whitespace (a view into s).
[[nodiscard]] std::string_view trim(std::string_view s) noexcept;

/// s with ASCII letters lowered.
[[nodiscard]] std::string lower(std::string_view s);

/// "a, b, c": items joined by sep, for messages, help text and report cells.
[[nodiscard]] std::string join(const std::vector<std::string>& items, std::string_view sep = ", ");

/// s with every control character (below 0x20, 0x7f, and the C1 range U+0080..U+009F)
/// written as \xNN, so text taken
/// from a file or a name cannot move the cursor, recolour or clear a terminal when echoed.
/// Other UTF-8 passes unchanged.
[[nodiscard]] std::string escape_control(std::string_view s);

}  // namespace ipcmatrix
