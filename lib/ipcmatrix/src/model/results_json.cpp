// results.json: reading and writing the results model (model/results.hpp) through one field
// table per struct.
#include <fmt/format.h>

#include <cmath>
#include <concepts>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "ipcmatrix/model/results.hpp"
#include "ipcmatrix/stats/histogram_json.hpp"
#include "ipcmatrix/util/json_file.hpp"
#include "ipcmatrix/util/output_file.hpp"
#include "ipcmatrix/util/text.hpp"
#include "object_reader.hpp"

namespace ipcmatrix {

using detail::fail;
using detail::ObjectReader;

namespace {

// ---------------------------------------------------------------------------------------------
// The field tables: the one place a result field is named. to_json() and from_json() walk
// them with a writer and a reader; the CSV (report/writers.cpp) is a projection of the JSON.
// A new field is one line here (plus its member, the schema and, if wanted, a CSV column).

/// How one field is spelled and read.
struct Key {
  const char* name;
  bool required = false;          ///< reading fails without it
  bool null_when_absent = false;  ///< an absent optional is written as null (else omitted)
};

template <class S, class T>
concept Is = std::same_as<std::remove_const_t<S>, T>;

template <class S, class V>
requires Is<S, LatencySummary>
void fields(S& s, V& v) {
  v(Key{"count"}, s.count);
  v(Key{"mean"}, s.mean);
  v(Key{"stddev"}, s.stddev);
  // Unresolved percentiles are written as null, never left out (see results.hpp).
  v(Key{"p50", false, true}, s.p50);
  v(Key{"p90", false, true}, s.p90);
  v(Key{"p99", false, true}, s.p99);
  v(Key{"p99_9", false, true}, s.p99_9);
  v(Key{"p99_99", false, true}, s.p99_99);
  v(Key{"min"}, s.min);
  v(Key{"max"}, s.max);
}

template <class S, class V>
requires Is<S, Throughput>
void fields(S& s, V& v) {
  v(Key{"msgs_per_s"}, s.msgs_per_s);
  v(Key{"payload_bytes_per_s"}, s.payload_bytes_per_s);
  v(Key{"wire_bytes_per_s"}, s.wire_bytes_per_s);
}

template <class S, class V>
requires Is<S, CpuCost>
void fields(S& s, V& v) {
  v(Key{"user_s"}, s.user_s);
  v(Key{"sys_s"}, s.sys_s);
  v(Key{"per_msg_ns"}, s.per_msg_ns);
  v(Key{"pacer_s"}, s.pacer_s);
}

template <class S, class V>
requires Is<S, CellResult::Channel>
void fields(S& s, V& v) {
  v(Key{"capacity_bytes"}, s.capacity_bytes);
  v(Key{"pipe_bytes"}, s.pipe_bytes);
  v(Key{"queue_messages"}, s.queue_messages);
  v(Key{"io_threads"}, s.io_threads);
  v(Key{"receivers"}, s.receivers);
}

template <class S, class V>
requires Is<S, FigureSpread>
void fields(S& s, V& v) {
  v(Key{"median"}, s.median);
  v(Key{"min"}, s.min);
  v(Key{"max"}, s.max);
  v(Key{"rel_spread"}, s.rel_spread);
  v(Key{"n"}, s.n);
  v(Key{"values"}, s.values);
}

template <class S, class V>
requires Is<S, ProcessStats>
void fields(S& s, V& v) {
  v(Key{"role", true}, s.role);
  v(Key{"index"}, s.index);
  v(Key{"cpu"}, s.cpu);
  v(Key{"user_s"}, s.user_s);
  v(Key{"sys_s"}, s.sys_s);
  v(Key{"voluntary_ctx"}, s.voluntary_ctx);
  v(Key{"involuntary_ctx"}, s.involuntary_ctx);
  v(Key{"max_rss_kb"}, s.max_rss_kb);
  v(Key{"sent"}, s.sent);
  v(Key{"received"}, s.received);
}

template <class S, class V>
requires Is<S, CellResult>
void fields(S& c, V& v) {
  // identity
  v(Key{"pattern", true}, c.pattern);
  v(Key{"mechanism", true}, c.mechanism);
  v(Key{"serializer", true}, c.serializer);
  v(Key{"wait", true}, c.wait);
  v(Key{"placement", true}, c.placement);
  v(Key{"content"}, c.content);
  v(Key{"size_bytes", true}, c.size_bytes);
  v(Key{"procs", true}, c.procs);
  v(Key{"batch"}, c.batch);
  v(Key{"rate"}, c.rate);
  v(Key{"load"}, c.load);
  v(Key{"api"}, c.api);
  v(Key{"channel"}, c.channel);
  // how it was measured
  v(Key{"verify"}, c.verify);
  v(Key{"latency_sample"}, c.latency_sample);
  // outcome
  v(Key{"status", true}, c.status);
  v(Key{"error"}, c.error);
  v(Key{"warnings"}, c.warnings);
  // figures
  v(Key{"messages_sent"}, c.messages_sent);
  v(Key{"messages_received"}, c.messages_received);
  v(Key{"messages_dropped"}, c.messages_dropped);
  v(Key{"latency_ns"}, c.latency_ns);
  v(Key{"latency_uncorrected_ns"}, c.latency_uncorrected_ns);
  v(Key{"hop_latency_ns"}, c.hop_latency_ns);
  v(Key{"throughput"}, c.throughput);
  v(Key{"cpu"}, c.cpu);
  v(Key{"wire_bytes_per_msg"}, c.wire_bytes_per_msg);
  v(Key{"encode_ns_per_msg"}, c.encode_ns_per_msg);
  v(Key{"decode_ns_per_msg"}, c.decode_ns_per_msg);
  v(Key{"idle_cpu_percent"}, c.idle_cpu_percent);
  v(Key{"duration_s"}, c.duration_s);
  v(Key{"negative_one_way"}, c.negative_one_way);
  v(Key{"harness_ceiling_msgs_per_s"}, c.harness_ceiling_msgs_per_s);
  v(Key{"bare_msgs_per_s"}, c.bare_msgs_per_s);
  v(Key{"harness_bound"}, c.harness_bound);
  v(Key{"processes"}, c.processes);
  v(Key{"peak_rss_kb"}, c.peak_rss_kb);
  v(Key{"repetitions"}, c.repetitions);
  v(Key{"p50_spread"}, c.p50_spread);
  v(Key{"p99_spread"}, c.p99_spread);
  v(Key{"throughput_spread"}, c.throughput_spread);
  v(Key{"cpu_per_msg_spread"}, c.cpu_per_msg_spread);
  v(Key{"noisy"}, c.noisy);
  v(Key{"race"}, c.race);
  v(Key{"histogram"}, c.histogram);
}

/// The types with a field table above.
template <class S>
concept Tabled = Is<S, LatencySummary> || Is<S, Throughput> || Is<S, CpuCost> || Is<S, CellResult::Channel> ||
    Is<S, FigureSpread> || Is<S, ProcessStats> || Is<S, CellResult>;

/// Writes the fields of one object. nlohmann's object keeps keys sorted, so the table's
/// order does not show in the file.
class FieldWriter {
 public:
  template <class T>
  requires std::is_arithmetic_v<T>
  void operator()(Key k, T x) { j_[k.name] = x; }
  template <Named E>
  void operator()(Key k, E e) {
    j_[k.name] = to_string(e);
  }
  void operator()(Key k, const std::string& s) { j_[k.name] = s; }
  void operator()(Key k, const std::vector<std::string>& v) { j_[k.name] = v; }
  void operator()(Key k, const std::vector<double>& v) { j_[k.name] = v; }
  void operator()(Key k, const Histogram& h) { j_[k.name] = to_json(h); }
  /// A load point as its label; "" when the cell was not one.
  void operator()(Key k, const std::optional<LoadPoint>& p) { j_[k.name] = p ? p->label() : std::string(); }
  template <class T>
  void operator()(Key k, const std::optional<T>& o) {
    if (o) {
      (*this)(k, *o);
    } else if (k.null_when_absent) {
      j_[k.name] = nullptr;
    }
  }
  template <Tabled S>
  void operator()(Key k, const S& s) {
    j_[k.name] = write(s);
  }
  template <Tabled S>
  void operator()(Key k, const std::vector<S>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const S& s : v) a.push_back(write(s));
    j_[k.name] = std::move(a);
  }

  template <Tabled S>
  static nlohmann::json write(const S& s) {
    FieldWriter w;
    fields(s, w);
    return std::move(w.j_);
  }

 private:
  nlohmann::json j_ = nlohmann::json::object();
};

/// Reads the fields of one object; every error names the field's full path.
class FieldReader {
 public:
  explicit FieldReader(const ObjectReader& r) : r_(r) {}

  void operator()(Key k, std::string& s) const { r_.str(k.name, s, k.required); }
  template <Named E>
  void operator()(Key k, E& e) const {
    r_.name(k.name, e, k.required);
  }
  void operator()(Key k, std::uint64_t& x) const { r_.u64(k.name, x, k.required); }
  void operator()(Key k, std::int64_t& x) const { r_.i64(k.name, x); }
  void operator()(Key k, int& x) const { r_.i32(k.name, x, k.required); }
  void operator()(Key k, double& x) const { r_.f64(k.name, x); }
  void operator()(Key k, bool& x) const { r_.boolean(k.name, x); }
  void operator()(Key k, std::optional<std::uint64_t>& o) const { r_.opt_u64(k.name, o); }
  void operator()(Key k, std::optional<double>& o) const {
    if (r_.find(k.name) == nullptr) return;
    double x = 0;
    r_.f64(k.name, x);
    o = x;
  }
  void operator()(Key k, std::optional<LoadPoint>& p) const {
    std::string label;
    r_.str(k.name, label);
    if (label.empty()) return;
    p = parse_load_label(label);
    if (!p) fail(r_.path(k.name), "not a load point (10k, 50%, sporadic): \"" + label + "\"");
  }
  void operator()(Key k, std::vector<std::string>& v) const { r_.strings(k.name, v); }
  void operator()(Key k, std::vector<double>& out) const {
    const nlohmann::json* v = r_.find(k.name);
    if (v == nullptr) return;
    if (!v->is_array()) fail(r_.path(k.name), "expected an array of numbers");
    for (std::size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_number()) fail(fmt::format("{}[{}]", r_.path(k.name), i), "expected a number");
      out.push_back((*v)[i].get<double>());
    }
  }
  void operator()(Key k, Histogram& h) const {
    const nlohmann::json* v = r_.find(k.name);
    if (v == nullptr) return;
    try {
      h = histogram_from_json(*v);
    } catch (const std::invalid_argument& e) {
      fail(r_.path(k.name), e.what());
    }
  }
  template <Tabled S>
  void operator()(Key k, S& s) const {
    const nlohmann::json* v = k.required ? &r_.need(k.name) : r_.find(k.name);
    if (v != nullptr) s = read<S>(*v, r_.path(k.name));
  }
  template <Tabled S>
  void operator()(Key k, std::optional<S>& o) const {
    if (const nlohmann::json* v = r_.find(k.name)) o = read<S>(*v, r_.path(k.name));
  }
  template <Tabled S>
  void operator()(Key k, std::vector<S>& out) const {
    const nlohmann::json* v = r_.find(k.name);
    if (v == nullptr) return;
    if (!v->is_array()) fail(r_.path(k.name), "expected an array");
    for (std::size_t i = 0; i < v->size(); ++i) {
      out.push_back(read<S>((*v)[i], fmt::format("{}[{}]", r_.path(k.name), i)));
    }
  }

  template <Tabled S>
  static S read(const nlohmann::json& j, const std::string& where) {
    const ObjectReader r(j, where);
    const FieldReader reader(r);
    S s;
    fields(s, reader);
    return s;
  }

 private:
  const ObjectReader& r_;
};
}  // namespace

nlohmann::json to_json(const LatencySummary& s) { return FieldWriter::write(s); }

nlohmann::json to_json(const CellResult& c) { return FieldWriter::write(c); }

namespace {

/// Everything of r's JSON form but the cells ("cells" is an empty array).
nlohmann::json header_json(const RunResult& r) {
  nlohmann::json j = {{"schema_version", r.schema_version},
                      {"tool_version", r.tool_version},
                      {"started_at", r.started_at},
                      {"elapsed_s", r.elapsed_s},
                      {"environment", r.environment.is_null() ? nlohmann::json::object() : r.environment},
                      {"config", r.config.is_null() ? nlohmann::json::object() : r.config},
                      {"warnings", r.warnings},
                      {"complete", r.complete},
                      {"cells", nlohmann::json::array()}};
  if (!r.interrupted_by.empty()) j["interrupted_by"] = r.interrupted_by;
  return j;
}

}  // namespace

nlohmann::json to_json(const RunResult& r) {
  nlohmann::json j = header_json(r);
  nlohmann::json& cells = j["cells"];
  for (const CellResult& c : r.cells) cells.push_back(to_json(c));
  return j;
}

TextPieces results_text(const RunResult& r) {
  // to_json(r).dump(2) byte for byte (where the text is valid UTF-8), built a cell at a time. nlohmann orders an
  // object's keys, and "cells" sorts first, so the header's text opens with its empty array, which the cells are put
  // into, each indented two levels. Invalid UTF-8 (say, in an error text) is replaced, never thrown on: that would stop
  // a stream (--json -, a FIFO) halfway through the document.
  constexpr auto kReplace = nlohmann::json::error_handler_t::replace;
  std::string header = header_json(r).dump(2, ' ', false, kReplace) + "\n";
  static constexpr std::string_view kOpen = "{\n  \"cells\": [";
  if (!header.starts_with(kOpen) || header.compare(kOpen.size(), 1, "]") != 0)
    throw std::logic_error("results_text: \"cells\" is not the first key of the results");
  struct State {
    std::string header, piece;
    std::size_t next = 0;  // 0: the opening; 1 + i: cell i; then the rest of the header; then done
  };
  auto st = std::make_shared<State>(State{std::move(header), {}, 0});
  return [&r, st]() -> std::string_view {
    State& s = *st;
    const std::size_t n = r.cells.size(), step = s.next++;
    if (step == 0) return std::string_view(s.header).substr(0, kOpen.size());
    if (step <= n) {
      const std::string cell = to_json(r.cells[step - 1]).dump(2, ' ', false, kReplace);
      s.piece = step == 1 ? "\n    " : ",\n    ";
      for (const char ch : cell) {
        s.piece += ch;
        if (ch == '\n') s.piece += "    ";  // JSON text has no raw newline inside a string
      }
      if (step == n) s.piece += "\n  ";
      return s.piece;
    }
    if (step == n + 1) return std::string_view(s.header).substr(kOpen.size());
    return {};
  };
}

RunResult run_result_from_json(const nlohmann::json& j) {
  const ObjectReader r(j, "");
  RunResult out;
  // The version is checked before anything else: a newer file may have changed any field,
  // and "unsupported version" is a more useful message than the first mismatch it causes.
  r.i32("schema_version", out.schema_version, true);
  if (out.schema_version > kResultsSchemaVersion || out.schema_version < 1) {
    fail("schema_version",
         fmt::format("unsupported version {} (this build reads 1..{})", out.schema_version, kResultsSchemaVersion));
  }
  r.str("tool_version", out.tool_version);
  r.str("started_at", out.started_at);
  r.f64("elapsed_s", out.elapsed_s);
  for (const auto& [key, member] : {std::pair{"environment", &out.environment}, std::pair{"config", &out.config}}) {
    if (const nlohmann::json* v = r.find(key)) {
      if (!v->is_object()) fail(key, "expected an object");
      *member = *v;
    }
  }
  r.strings("warnings", out.warnings);
  r.boolean("complete", out.complete);  // files from before it existed were complete
  r.str("interrupted_by", out.interrupted_by);
  const nlohmann::json& cells = r.need("cells");
  if (!cells.is_array()) fail("cells", "expected an array");
  out.cells.reserve(cells.size());
  for (std::size_t i = 0; i < cells.size(); ++i) {
    out.cells.push_back(FieldReader::read<CellResult>(cells[i], fmt::format("cells[{}]", i)));
  }
  return out;
}

RunResult load_results(const std::string& path) {
  const auto too_many = [&](std::size_t i) {
    if (i >= kMaxResultsCells) {
      throw BadInput(fmt::format("results file '{}' has more than the {} cells this tool reads", escape_control(path),
                                 kMaxResultsCells));
    }
  };
  // A regular file is read twice: first to count its cells (and check its size, syntax and
  // depth) building none of them, so that they go into a vector of the right size. Grown
  // cell by cell, a vector holds twice its cells while it doubles: a 70 MiB file of 33,000
  // cells peaked at 2.3 GiB instead of 1.1. A stream is read once.
  std::size_t count = 0;
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    StreamedArray counting{"cells", [&](std::size_t i, nlohmann::json&& c) {
                             too_many(i);
                             if (c.is_object()) ++count;  // what can be a cell
                           }};
    counting.max_element_bytes = kMaxCellBytes;
    counting.max_kept_bytes = kMaxResultsHeaderBytes;
    counting.build = false;
    (void)read_json_file(path, kMaxResultsBytes, "results file", false, &counting);
  }
  // The cells are converted as the parser hands them over, so neither the file's text nor
  // its whole tree is ever in memory. "cells" comes first in the file, so a cell's error is
  // kept until the header has been checked: an unsupported schema_version is the message.
  std::vector<CellResult> cells;
  cells.reserve(count);
  std::string cell_error;
  StreamedArray streamed{"cells", [&](std::size_t i, nlohmann::json&& c) {
                           too_many(i);
                           if (!cell_error.empty()) return;
                           try {
                             cells.push_back(FieldReader::read<CellResult>(c, fmt::format("cells[{}]", i)));
                           } catch (const std::exception& e) {
                             cell_error = e.what();
                           }
                         }};
  streamed.max_element_bytes = kMaxCellBytes;
  streamed.max_kept_bytes = kMaxResultsHeaderBytes;
  const nlohmann::json j = read_json_file(path, kMaxResultsBytes, "results file", false, &streamed);
  try {
    RunResult r = run_result_from_json(j);  // the header, and "cells" is an array
    if (!cell_error.empty()) throw std::invalid_argument(cell_error);
    r.cells = std::move(cells);
    return r;
  } catch (const std::exception& e) {
    throw BadInput("results file '" + escape_control(path) + "': " + escape_control(e.what()));
  }
}

void save_results(const RunResult& r, const std::string& path, bool follow_symlink) {
  write_output_file(path, results_text(r), follow_symlink);
}

}  // namespace ipcmatrix
