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

std::string num(double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); }

std::string opt_num(const std::optional<std::uint64_t>& v) {
  return v ? fmt::format("{}", *v) : std::string();
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

/// One CSV column: its header and how a cell's value is written. The header and every row
/// come from this one table, so they cannot drift apart.
struct CsvColumn {
  const char* name;
  std::string (*value)(const CellResult&);
};

template <class T>
std::string integer(T v) {
  return fmt::format("{}", v);
}
std::string flag(bool v) { return v ? "true" : "false"; }

constexpr CsvColumn kCsvColumns[] = {
    {"cell_id", [](const CellResult& c) { return cell_id(c); }},
    {"pattern", [](const CellResult& c) { return c.pattern; }},
    {"mechanism", [](const CellResult& c) { return c.mechanism; }},
    {"serializer", [](const CellResult& c) { return c.serializer; }},
    {"wait", [](const CellResult& c) { return std::string(to_string(c.wait)); }},
    {"placement", [](const CellResult& c) { return std::string(to_string(c.placement)); }},
    {"content", [](const CellResult& c) { return std::string(to_string(c.content)); }},
    {"size_bytes", [](const CellResult& c) { return integer(c.size_bytes); }},
    {"procs", [](const CellResult& c) { return integer(c.procs); }},
    {"batch", [](const CellResult& c) { return integer(c.batch); }},
    {"rate", [](const CellResult& c) { return num(c.rate); }},
    {"status", [](const CellResult& c) { return std::string(to_string(c.status)); }},
    {"error", [](const CellResult& c) { return c.error; }},
    {"messages_sent", [](const CellResult& c) { return integer(c.messages_sent); }},
    {"messages_received", [](const CellResult& c) { return integer(c.messages_received); }},
    {"p50_ns", [](const CellResult& c) { return opt_num(c.latency_ns.p50); }},
    {"p90_ns", [](const CellResult& c) { return opt_num(c.latency_ns.p90); }},
    {"p99_ns", [](const CellResult& c) { return opt_num(c.latency_ns.p99); }},
    {"p99_9_ns", [](const CellResult& c) { return opt_num(c.latency_ns.p99_9); }},
    {"p99_99_ns", [](const CellResult& c) { return opt_num(c.latency_ns.p99_99); }},
    {"min_ns", [](const CellResult& c) { return integer(c.latency_ns.min); }},
    {"max_ns", [](const CellResult& c) { return integer(c.latency_ns.max); }},
    {"mean_ns", [](const CellResult& c) { return num(c.latency_ns.mean); }},
    {"stddev_ns", [](const CellResult& c) { return num(c.latency_ns.stddev); }},
    {"msgs_per_s", [](const CellResult& c) { return num(c.throughput.msgs_per_s); }},
    {"payload_bytes_per_s", [](const CellResult& c) { return num(c.throughput.payload_bytes_per_s); }},
    {"wire_bytes_per_s", [](const CellResult& c) { return num(c.throughput.wire_bytes_per_s); }},
    {"cpu_user_s", [](const CellResult& c) { return num(c.cpu.user_s); }},
    {"cpu_sys_s", [](const CellResult& c) { return num(c.cpu.sys_s); }},
    {"cpu_per_msg_ns", [](const CellResult& c) { return num(c.cpu.per_msg_ns); }},
    {"wire_bytes_per_msg", [](const CellResult& c) { return num(c.wire_bytes_per_msg); }},
    {"encode_ns_per_msg", [](const CellResult& c) { return num(c.encode_ns_per_msg); }},
    {"decode_ns_per_msg", [](const CellResult& c) { return num(c.decode_ns_per_msg); }},
    {"idle_cpu_percent",
     [](const CellResult& c) { return c.idle_cpu_percent < 0 ? std::string() : num(c.idle_cpu_percent); }},
    {"duration_s", [](const CellResult& c) { return num(c.duration_s); }},
    {"repetitions", [](const CellResult& c) { return integer(c.repetitions); }},
    {"noisy", [](const CellResult& c) { return flag(c.noisy); }},
    {"warnings", [](const CellResult& c) { return join(c.warnings, "; "); }},
    {"latency_count", [](const CellResult& c) { return integer(c.latency_ns.count); }},
    {"api", [](const CellResult& c) { return std::string(to_string(c.api)); }},
    {"verify", [](const CellResult& c) { return std::string(to_string(c.verify)); }},
    {"latency_sample", [](const CellResult& c) { return integer(c.latency_sample); }},
    {"harness_ceiling_msgs_per_s",
     [](const CellResult& c) { return c.harness_ceiling_msgs_per_s ? num(*c.harness_ceiling_msgs_per_s) : std::string(); }},
    {"harness_bound", [](const CellResult& c) { return flag(c.harness_bound); }},
    {"negative_one_way", [](const CellResult& c) { return integer(c.negative_one_way); }},
};

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
  for (const CellResult& c : r.cells) write_row([&c](const CsvColumn& col) { return col.value(c); });
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
