#include "ipcmatrix/util/json_file.hpp"

#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <istream>
#include <memory>
#include <optional>
#include <streambuf>
#include <utility>

#include <fmt/format.h>

#include "ipcmatrix/util/text.hpp"

namespace ipcmatrix {

namespace {

std::string mib_text(std::size_t bytes) {
  return bytes >= (std::size_t{1} << 20) ? std::to_string(bytes >> 20) + " MiB" : std::to_string(bytes >> 10) + " KiB";
}

/// nlohmann's parser is iterative, but the tree it builds (and everything that walks it) is
/// not: the depth cap is enforced by the callback before a deeper level is built.
void refuse_too_deep(const std::string& who, int depth, nlohmann::json::parse_event_t event) {
  using E = nlohmann::json::parse_event_t;
  if ((event == E::object_start || event == E::array_start) && depth >= kMaxJsonDepth) {
    throw BadInput(who + " nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
}

/// A file read 64 KiB at a time for the parser, refusing its byte max_bytes + 1: the cap
/// holds for pipes and growing files too, where a size taken up front would not. Errors are
/// thrown from underflow(), which nlohmann's stream input calls directly (sbumpc), so they
/// reach the caller as they are.
class CappedFile final : public std::streambuf {
 public:
  CappedFile(std::FILE* f, std::size_t max_bytes, const std::string& who) : f_(f), max_(max_bytes), who_(who) {}

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    // The parser buffers a token whole (a string of any length) before any event reports
    // it: a stretch without events is capped here, where the bytes come in.
    if (read_ - mark_ > max_gap_) {
      throw BadInput(who_ + " holds one value (or blank) longer than the " + mib_text(max_gap_) + " this tool reads");
    }
    const std::size_t n = std::fread(buf_.data(), 1, buf_.size(), f_);
    if (n == 0) {
      if (std::ferror(f_)) throw BadInput("cannot read " + who_ + ": " + std::strerror(errno));
      return traits_type::eof();
    }
    read_ += n;
    if (read_ > max_) throw BadInput(who_ + " is larger than the " + mib_text(max_) + " this tool reads");
    setg(buf_.data(), buf_.data(), buf_.data() + n);
    return traits_type::to_int_type(*gptr());
  }

 public:
  /// Bytes the parser has taken so far.
  [[nodiscard]] std::size_t consumed() const noexcept { return read_ - static_cast<std::size_t>(egptr() - gptr()); }
  /// The parser reported an event here; at most `max_gap` bytes may come before the next.
  void mark(std::size_t max_gap) noexcept {
    mark_ = consumed();
    max_gap_ = max_gap;
  }

 private:
  std::FILE* f_;
  std::size_t max_, read_ = 0, mark_ = 0, max_gap_ = static_cast<std::size_t>(-1);
  const std::string& who_;
  std::array<char, std::size_t{1} << 16> buf_{};
};

}  // namespace

nlohmann::json read_json_file(const std::string& path, std::size_t max_bytes, std::string_view what,
                              bool allow_comments, const StreamedArray* streamed) {
  const std::string who = std::string(what) + " '" + escape_control(path) + "'";
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw BadInput("cannot open " + who + ": " + std::strerror(errno));
  // A regular file's size is refused before any of it is read (CappedFile holds the cap
  // for everything else, and for a file that grows meanwhile).
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > max_bytes)
    throw BadInput(who + " is larger than the " + mib_text(max_bytes) + " this tool reads");
  CappedFile in(f.get(), max_bytes, who);
  std::istream stream(&in);
  // Depths as the parser counts them: the top-level object is 0, its keys and values 1, the
  // elements of a top-level array 2. What the parser holds is bounded by bytes read: the
  // element being built (max_element_bytes) and the tree kept outside the streamed array
  // (max_kept_bytes), each checked at every event, so before it can grow much further.
  std::string key;  // the top-level key being parsed
  bool in_streamed = false, seen_streamed = false;
  std::size_t index = 0, streamed_from = 0, streamed_bytes = 0;
  std::optional<std::size_t> element_from;
  using E = nlohmann::json::parse_event_t;
  const auto hand_over = [&](nlohmann::json&& element) {
    try {
      streamed->each(index++, std::move(element));
    } catch (const nlohmann::json::exception& e) {  // not the parser's: not "not valid JSON"
      throw BadInput(who + ": " + escape_control(e.what()));
    }
  };
  const nlohmann::json::parser_callback_t callback = [&](int depth, E event, nlohmann::json& parsed) {
    refuse_too_deep(who, depth, event);
    if (streamed == nullptr) return true;
    in.mark(streamed->max_element_bytes);
    const std::size_t at = in.consumed();
    if (element_from && at - *element_from > streamed->max_element_bytes) {
      throw BadInput(fmt::format("{}: element {} of \"{}\" is larger than the {} this tool reads", who, index,
                                 escape_control(streamed->key), mib_text(streamed->max_element_bytes)));
    }
    if (!in_streamed && at - streamed_bytes > streamed->max_kept_bytes) {
      throw BadInput(fmt::format("{} holds more than {} outside \"{}\", more than this tool reads", who,
                                 mib_text(streamed->max_kept_bytes), escape_control(streamed->key)));
    }
    if (depth == 1 && event == E::key) {
      key = parsed.get<std::string>();
      if (key == streamed->key && std::exchange(seen_streamed, true)) {
        throw BadInput(who + " has \"" + escape_control(key) + "\" twice");
      }
    } else if (depth == 1 && event == E::array_start) {
      in_streamed = key == streamed->key;
      streamed_from = at;
    } else if (depth == 1 && event == E::array_end && in_streamed) {
      in_streamed = false;
      streamed_bytes += at - streamed_from;
    } else if (depth == 2 && in_streamed) {
      if (event == E::object_start || event == E::array_start) {
        if (!streamed->build) {
          hand_over(event == E::object_start ? nlohmann::json::object() : nlohmann::json::array());
          return false;  // not built at all: the parser only reads past it
        }
        element_from = at;
      } else if (event == E::object_end || event == E::array_end || event == E::value) {
        element_from.reset();
        hand_over(std::move(parsed));
        return false;  // not kept: the array stays empty
      }
    }
    return true;
  };
  try {
    return nlohmann::json::parse(stream, callback, /*allow_exceptions=*/true, allow_comments);
  } catch (const nlohmann::json::exception& e) {
    throw BadInput(who + " is not valid JSON: " + escape_control(e.what()));
  }
}

nlohmann::json parse_json_text(std::string_view text, std::size_t max_bytes, std::string_view what,
                               bool allow_comments) {
  const std::string who(what);
  if (text.size() > max_bytes) throw BadInput(who + " is larger than the " + mib_text(max_bytes) + " this tool reads");
  const nlohmann::json::parser_callback_t depth_cap = [&who](int depth, nlohmann::json::parse_event_t event,
                                                             nlohmann::json&) {
    refuse_too_deep(who, depth, event);
    return true;
  };
  try {
    return nlohmann::json::parse(text, depth_cap, /*allow_exceptions=*/true, allow_comments);
  } catch (const nlohmann::json::exception& e) {
    throw BadInput(who + " is not valid JSON: " + escape_control(e.what()));
  }
}

}  // namespace ipcmatrix
