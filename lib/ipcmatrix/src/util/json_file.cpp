#include "ipcmatrix/util/json_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "ipcmatrix/util/text.hpp"

namespace ipcmatrix {

namespace {

std::string mib_text(std::size_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

}  // namespace

nlohmann::json read_json_file(const std::string& path, std::size_t max_bytes, std::string_view what,
                              bool allow_comments) {
  const std::string who = std::string(what) + " '" + escape_control(path) + "'";
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw BadInput("cannot open " + who + ": " + std::strerror(errno));
  // Read at most max_bytes + 1: the cap holds for pipes and growing files too, where a size
  // taken up front would not.
  std::string text;
  char buf[1 << 16];
  while (true) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, f.get());
    text.append(buf, n);
    if (text.size() > max_bytes) {
      throw BadInput(who + " is larger than the " + mib_text(max_bytes) + " this tool reads");
    }
    if (n < sizeof buf) break;
  }
  if (std::ferror(f.get())) throw BadInput("cannot read " + who + ": " + std::strerror(errno));

  return parse_json_text(text, max_bytes, who, allow_comments);
}

nlohmann::json parse_json_text(std::string_view text, std::size_t max_bytes, std::string_view what,
                               bool allow_comments) {
  const std::string who(what);
  if (text.size() > max_bytes) throw BadInput(who + " is larger than the " + mib_text(max_bytes) + " this tool reads");
  // nlohmann's parser is iterative, but the tree it builds (and everything that walks it) is
  // not: the depth cap is enforced by the callback before a deeper level is built.
  const nlohmann::json::parser_callback_t depth_cap = [&who](int depth, nlohmann::json::parse_event_t event,
                                                             nlohmann::json&) {
    if ((event == nlohmann::json::parse_event_t::object_start ||
         event == nlohmann::json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth) {
      throw BadInput(who + " nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text, depth_cap, /*allow_exceptions=*/true, allow_comments);
  } catch (const nlohmann::json::exception& e) {
    throw BadInput(who + " is not valid JSON: " + escape_control(e.what()));
  }
}

}  // namespace ipcmatrix
