// Text helpers every section of the Markdown report shares (markdown_parts.hpp): escaping
// free text for a table cell, and the few spellings of a cell that more than one section
// uses. Numbers themselves are spelled by model/format_units.hpp.
#include "markdown_parts.hpp"

#include <string>
#include <string_view>

#include "ipcmatrix/model/format.hpp"
#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/pattern/pattern.hpp"

namespace ipcmatrix::detail::markdown {

// Free text (errors, warnings, environment values) must not break a table row or turn into
// markup, so newlines become spaces and Markdown punctuation is backslash-escaped.
std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    if (ch == '\n' || ch == '\r' || ch == '\t') {
      out += ' ';
      continue;
    }
    if (std::string_view("\\`*|<>[]").find(ch) != std::string_view::npos) out += '\\';
    out += ch;
  }
  return out;
}

std::string ns_or_dash(const std::optional<std::uint64_t>& v) {
  return v ? format_ns(static_cast<double>(*v)) : std::string(kUnresolved);
}

std::string mb_per_s(double bytes_per_s) { return format_figure(bytes_per_s / 1e6); }

// Results may name a pattern this build does not know (a newer version wrote them): its
// latency is then taken as one-way, the meaning of every pattern but a round trip.
std::string latency_kind(std::string_view pattern) {
  const PatternSpec* spec = pattern_or_null(pattern);
  return std::string(to_string(spec ? spec->latency : LatencyKind::one_way));
}

std::string mech_ser(const CellResult& c) {
  return fmt::format("{}/{}", esc(c.mechanism), esc(c.serializer));
}

std::string setup(const CellResult& c) {
  std::string s = fmt::format("wait `{}`, placement `{}`, batch {}", c.wait, c.placement, c.batch);
  if (c.content != ContentMode::random) s += fmt::format(", content `{}`", c.content);
  return s;
}

}  // namespace ipcmatrix::detail::markdown
