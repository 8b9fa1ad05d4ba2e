#pragma once
/// @file json_file.hpp
/// Reading a JSON file the user handed us (a preset, a results file) without trusting it:
/// a size cap checked before a regular file is read and again as any file is read (a pipe
/// or a growing file cannot pass it either), a nesting-depth cap enforced while parsing (so
/// a file nested 100,000 levels deep is an error, not a stack overflow), and errors that
/// name the file. Control characters in the file never reach a message unescaped
/// (escape_control).

#include <cstddef>
#include <functional>
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

/// A top-level array whose elements read_json_file() hands over one at a time, as each is
/// parsed, instead of keeping them: the tree it returns holds that array empty, so a file of
/// any number of elements is parsed in the memory of one element plus the rest of the file
/// (plus what `each` keeps). Both are capped in bytes of the file, as a parsed tree takes
/// many times its text, and so is any one value (a string is buffered whole before the
/// parser reports it): at most max_element_bytes. `each` gets the element's index and the element (where `build` is
/// false, an empty object or array in place of one: counted, never built). What it throws
/// ends the reading
/// and reaches the caller as it is, a nlohmann exception as a BadInput (an element it
/// cannot use is better kept for later, if the rest of the file decides the error).
struct StreamedArray {
  std::string_view key;
  std::function<void(std::size_t index, nlohmann::json&& element)> each;
  std::size_t max_element_bytes = std::size_t{1} << 20;
  std::size_t max_kept_bytes = std::size_t{32} << 20;
  bool build = true;
};

/// Reads and parses `path` (a regular file or a stream) as it reads it, refusing more than
/// `max_bytes` bytes and nesting deeper than kMaxJsonDepth; the file's text is never held
/// whole. `what` names the kind of file in messages ("preset", "results file"). With
/// allow_comments, // and /* */ comments are accepted. With `streamed`, the elements of that
/// top-level array go to its `each` (a key that appears twice is refused).
/// Throws BadInput naming `what` and `path`.
[[nodiscard]] nlohmann::json read_json_file(const std::string& path, std::size_t max_bytes, std::string_view what,
                                            bool allow_comments = false, const StreamedArray* streamed = nullptr);
/// The same checks on text already in memory; `what` names it in messages.
[[nodiscard]] nlohmann::json parse_json_text(std::string_view text, std::size_t max_bytes, std::string_view what,
                                             bool allow_comments = false);

}  // namespace ipcmatrix
