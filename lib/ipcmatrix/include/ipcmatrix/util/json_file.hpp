#pragma once
/// @file json_file.hpp
/// Reading a JSON file the user handed us (a preset, a results file) without trusting it:
/// a size cap checked before anything is read into memory, a nesting-depth cap enforced
/// while parsing (so a file nested 100,000 levels deep is an error, not a stack overflow),
/// and errors that name the file. Control characters in the file never reach a message
/// unescaped (escape_control).

#include <cstddef>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace ipcmatrix {

/// Input the user gave us is unusable (unreadable, too large, malformed, wrong shape).
/// The tool exits 2 on it, as on any bad input.
class BadInput : public std::runtime_error {
 public:
  using runtime_error::runtime_error;
};

/// The deepest nesting of arrays and objects accepted in any input file: results files nest
/// about 6 levels, presets 2.
inline constexpr int kMaxJsonDepth = 64;

/// Reads and parses `path` (a regular file or a stream), refusing more than `max_bytes` bytes
/// and nesting deeper than kMaxJsonDepth. `what` names the kind of file in messages
/// ("preset", "results file"). With allow_comments, // and /* */ comments are accepted.
/// Throws BadInput naming `what` and `path`.
[[nodiscard]] nlohmann::json read_json_file(const std::string& path, std::size_t max_bytes, std::string_view what,
                                            bool allow_comments = false);
/// The same checks on text already in memory; `what` names it in messages.
[[nodiscard]] nlohmann::json parse_json_text(std::string_view text, std::size_t max_bytes, std::string_view what,
                                             bool allow_comments = false);

}  // namespace ipcmatrix
