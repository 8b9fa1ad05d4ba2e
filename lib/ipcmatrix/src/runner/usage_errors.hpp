#pragma once
// Private to runner/: the wording of usage errors, shared by config.cpp (parsers, presets)
// and settings.cpp (the settings table's checks), so every message has the same shape:
// "<flag>: <what>", values in single quotes.

#include <string>
#include <string_view>
#include <vector>

namespace ipcmatrix::detail {

/// Throws UsageError("<flag>: <what>").
[[noreturn]] void fail_usage(std::string_view flag, std::string_view what);
/// "'text'".
[[nodiscard]] std::string quote(std::string_view text);
/// Throws UsageError when `names` is empty or holds a name outside `valid`, listing `valid`.
void check_names(const std::vector<std::string>& names, const std::vector<std::string>& valid,
                 std::string_view flag);
/// "1G (1073741824 bytes)": the size limit as errors state it.
[[nodiscard]] std::string size_limit_text();

}  // namespace ipcmatrix::detail
