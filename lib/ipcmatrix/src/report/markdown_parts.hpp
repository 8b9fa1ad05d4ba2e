#pragma once
// Private to report/: the pieces PERFORMANCE_REPORT.md is assembled from (markdown*.cpp),
// whose text helpers (add, esc) the report across machines (fleet.cpp) writes with too.
//   markdown.cpp              the document: its order, title, how-to-read and method
//   markdown_text.cpp         text helpers every section shares (escaping, figures, names)
//   markdown_environment.cpp  the environment table, the machine's floor and the warnings
//   markdown_advice.cpp       the summary and the recommendations: decisions.hpp in prose
//   markdown_tables.cpp       the results, load-curve, serialization and failure tables
// Each section appends to `md` and reads nothing but the RunResult; the contract of the
// whole is markdown_report()'s (report/markdown.hpp).

#include <fmt/format.h>

#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "ipcmatrix/model/name_table.hpp"
#include "ipcmatrix/model/results.hpp"

namespace ipcmatrix::detail::markdown {

/// What a figure that was not resolved or does not apply prints as.
inline constexpr std::string_view kUnresolved = "—";

/// Appends fmt's formatting of args to out.
template <class... Args>
void add(std::string& out, fmt::format_string<Args...> f, Args&&... args) {
  fmt::format_to(std::back_inserter(out), f, std::forward<Args>(args)...);
}

/// Free text made safe for a table cell: one line, Markdown punctuation backslash-escaped.
[[nodiscard]] std::string esc(std::string_view s);
template <Named E>
[[nodiscard]] std::string esc(E e) {
  return esc(to_string(e));
}

/// A latency in ns as format_ns() spells it, or kUnresolved.
[[nodiscard]] std::string ns_or_dash(const std::optional<std::uint64_t>& v);
/// Payload bytes per second as MB/s (10^6 bytes), without the unit.
[[nodiscard]] std::string mb_per_s(double bytes_per_s);
/// "round trip" or "one-way": what the pattern's latency measures.
[[nodiscard]] std::string latency_kind(std::string_view pattern);
/// "mechanism/serializer", escaped.
[[nodiscard]] std::string mech_ser(const CellResult& c);
/// "wait `w`, placement `p`, batch b" and the content mode unless random.
[[nodiscard]] std::string setup(const CellResult& c);

/// The machine's floor of the run (environment.floor.start, see runner/floor.hpp), when recorded.
struct Floor {
  double rtt_ns = 0, ring_msgs_per_s = 0;
  std::string mechanism;  ///< whose cells compare with it (files before it was recorded: shm's)
};
[[nodiscard]] std::optional<Floor> run_floor(const RunResult& r);

// The sections, in the order markdown_report() writes them.
void summary_section(std::string& md, const RunResult& r);
void environment_section(std::string& md, const RunResult& r);
void warnings_section(std::string& md, const RunResult& r);
void recommendations_section(std::string& md, const RunResult& r);
void load_section(std::string& md, const RunResult& r);
void charts_section(std::string& md, const RunResult& r);
void results_section(std::string& md, const RunResult& r);
void serialization_section(std::string& md, const RunResult& r);
void failures_section(std::string& md, const RunResult& r);

}  // namespace ipcmatrix::detail::markdown
