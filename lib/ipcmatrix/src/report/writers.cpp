#include "ipcmatrix/report/writers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/util/output_file.hpp"
#include "ipcmatrix/util/text.hpp"

namespace ipcmatrix {

namespace {

constexpr std::size_t kTableErrorChars = 60;

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (const char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
  return out;
}

// At most n code points of s on one line: control characters become spaces and a UTF-8
// sequence is never cut in half, so the console never receives a broken character.
std::string one_line_prefix(std::string_view s, std::size_t n) {
  std::string out;
  std::size_t points = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto ch = static_cast<unsigned char>(s[i]);
    const bool continuation = (ch & 0xC0) == 0x80;
    if (!continuation) {
      if (points == n) {
        out += "...";
        break;
      }
      ++points;
    }
    out += ch < 0x20 ? ' ' : static_cast<char>(ch);
  }
  return out;
}

std::string latency_cell(const std::optional<std::uint64_t>& v) {
  return v ? format_ns(static_cast<double>(*v)) : std::string("-");
}

/// One CSV column: its header and where its value sits in the cell's JSON form. The CSV is
/// a projection of results.json (whose fields model/results_json.cpp names once), so a
/// column cannot disagree with the file; the header and every row come from this table.
struct CsvColumn {
  const char* name;
  const char* path;                  ///< JSON pointer into the cell; "" = the cell's id
  bool negative_is_unknown = false;  ///< a negative value (-1: not measured) is left empty
};

constexpr CsvColumn kCsvColumns[] = {
    {"cell_id", ""},
    {"pattern", "/pattern"},
    {"mechanism", "/mechanism"},
    {"serializer", "/serializer"},
    {"wait", "/wait"},
    {"placement", "/placement"},
    {"content", "/content"},
    {"size_bytes", "/size_bytes"},
    {"procs", "/procs"},
    {"batch", "/batch"},
    {"rate", "/rate"},
    {"status", "/status"},
    {"error", "/error"},
    {"messages_sent", "/messages_sent"},
    {"messages_received", "/messages_received"},
    {"messages_dropped", "/messages_dropped"},
    {"p50_ns", "/latency_ns/p50"},
    {"p90_ns", "/latency_ns/p90"},
    {"p99_ns", "/latency_ns/p99"},
    {"p99_9_ns", "/latency_ns/p99_9"},
    {"p99_99_ns", "/latency_ns/p99_99"},
    {"min_ns", "/latency_ns/min"},
    {"max_ns", "/latency_ns/max"},
    {"mean_ns", "/latency_ns/mean"},
    {"stddev_ns", "/latency_ns/stddev"},
    {"msgs_per_s", "/throughput/msgs_per_s"},
    {"payload_bytes_per_s", "/throughput/payload_bytes_per_s"},
    {"wire_bytes_per_s", "/throughput/wire_bytes_per_s"},
    {"cpu_user_s", "/cpu/user_s"},
    {"cpu_sys_s", "/cpu/sys_s"},
    {"cpu_per_msg_ns", "/cpu/per_msg_ns"},
    {"wire_bytes_per_msg", "/wire_bytes_per_msg"},
    {"encode_ns_per_msg", "/encode_ns_per_msg"},
    {"decode_ns_per_msg", "/decode_ns_per_msg"},
    {"idle_cpu_percent", "/idle_cpu_percent", true},
    {"duration_s", "/duration_s"},
    {"repetitions", "/repetitions"},
    {"noisy", "/noisy"},
    {"warnings", "/warnings"},
    {"latency_count", "/latency_ns/count"},
    {"api", "/api"},
    {"verify", "/verify"},
    {"latency_sample", "/latency_sample"},
    {"harness_ceiling_msgs_per_s", "/harness_ceiling_msgs_per_s"},
    {"harness_bound", "/harness_bound"},
    {"negative_one_way", "/negative_one_way"},
    {"bare_msgs_per_s", "/bare_msgs_per_s"},
    {"peak_rss_kb", "/peak_rss_kb", true},
};

/// The text of one JSON value in a CSV field: numbers as they are (non-finite and absent
/// ones empty), booleans as true/false, a list of strings joined by "; ".
std::string csv_text(const nlohmann::json* v, bool negative_is_unknown) {
  if (v == nullptr || v->is_null()) return {};
  if (v->is_string()) return v->get<std::string>();
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  if (v->is_number_float()) {
    const double d = v->get<double>();
    return !std::isfinite(d) || (negative_is_unknown && d < 0) ? std::string() : fmt::format("{}", d);
  }
  if (v->is_number_unsigned()) return fmt::format("{}", v->get<std::uint64_t>());
  if (v->is_number_integer()) {
    const std::int64_t i = v->get<std::int64_t>();
    return negative_is_unknown && i < 0 ? std::string() : fmt::format("{}", i);
  }
  if (v->is_array()) {
    std::vector<std::string> items;
    for (const auto& item : *v) items.push_back(csv_text(&item, false));
    return join(items, "; ");
  }
  return v->dump();
}

}  // namespace

void write_csv(std::ostream& out, const RunResult& r) {
  const auto write_row = [&out](const auto& field_of) {
    std::string line;
    for (const CsvColumn& col : kCsvColumns) {
      if (&col != kCsvColumns) line += ',';
      line += csv_field(field_of(col));
    }
    line += '\n';
    out << line;
  };
  write_row([](const CsvColumn& col) { return std::string(col.name); });
  for (const CellResult& c : r.cells) {
    const nlohmann::json j = to_json(c);
    write_row([&](const CsvColumn& col) {
      if (*col.path == '\0') return cell_id(c);
      const nlohmann::json::json_pointer at(col.path);
      return csv_text(j.contains(at) ? &j.at(at) : nullptr, col.negative_is_unknown);
    });
  }
}

void write_hgrm_files(const RunResult& r, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create directory '" + dir + "': " + ec.message());
  for (const CellResult& c : r.cells) {
    if (!c.ok() || c.histogram.count() == 0) continue;
    const std::string path = (std::filesystem::path(dir) / (cell_id(c) + ".hgrm")).string();
    write_output_file(path, c.histogram.to_hgrm(1000.0));
  }
}

void print_table(std::ostream& out, const RunResult& r) {
  static constexpr std::size_t kIdentityCols = 4;
  const std::vector<std::string> header = {"pattern", "mechanism", "serializer", "size",
                                           "p50",     "p99",       "p99.9",      "msgs/s",
                                           "MB/s",    "CPU/msg",   "note"};
  // Text columns read best left-aligned, figures right-aligned so their units line up.
  const std::vector<bool> right = {false, false, false, true, true, true,
                                   true,  true,  true,  true, false};
  std::vector<std::vector<std::string>> rows;
  rows.reserve(r.cells.size());
  for (const CellResult& c : r.cells) {
    std::vector<std::string> row = {c.pattern, c.mechanism, c.serializer,
                                    format_size(c.size_bytes)};
    if (!c.ok()) {
      row.push_back("ERROR: " + one_line_prefix(c.error, kTableErrorChars));
    } else {
      std::string note;
      if (c.noisy) note = "noisy";
      if (!c.warnings.empty()) {
        note += fmt::format("{}{} warning{}", note.empty() ? "" : ", ", c.warnings.size(),
                            c.warnings.size() == 1 ? "" : "s");
      }
      row.insert(row.end(), {latency_cell(c.latency_ns.p50), latency_cell(c.latency_ns.p99),
                             latency_cell(c.latency_ns.p99_9), format_rate(c.throughput.msgs_per_s),
                             format_figure(c.throughput.payload_bytes_per_s / 1e6),
                             format_ns(c.cpu.per_msg_ns), note});
    }
    rows.push_back(std::move(row));
  }
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    // An error row's message spans the figure columns, so it must not widen them.
    const std::size_t n = row.size() == header.size() ? row.size() : kIdentityCols;
    for (std::size_t i = 0; i < n; ++i) width[i] = std::max(width[i], row[i].size());
  }
  const auto line = [&](const std::vector<std::string>& row) {
    std::string s;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i != 0) s += "  ";
      const bool spans = row.size() != header.size() && i == row.size() - 1;
      if (spans) {
        s += row[i];
      } else if (right[i]) {
        s += fmt::format("{:>{}}", row[i], width[i]);
      } else {
        s += fmt::format("{:<{}}", row[i], width[i]);
      }
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << '\n';
  };
  line(header);
  for (const auto& row : rows) line(row);
}

}  // namespace ipcmatrix
