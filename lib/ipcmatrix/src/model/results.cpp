#include "ipcmatrix/model/results.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/stats/histogram_json.hpp"
#include "ipcmatrix/util/json_file.hpp"
#include "ipcmatrix/util/output_file.hpp"
#include "ipcmatrix/util/text.hpp"

namespace ipcmatrix {

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw std::invalid_argument("results json: " + where + ": " + what);
}

std::string join_path(const std::string& where, const char* key) {
  return where.empty() ? std::string(key) : where + "." + key;
}

// Reads the fields of one JSON object, remembering where it sits in the document so every
// error names the full path of the offending field ("cells[2].latency_ns.p99").
class ObjectReader {
 public:
  ObjectReader(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) fail(where_.empty() ? "document" : where_, "expected an object");
  }

  // Null counts as absent so that writers may emit null for "not applicable".
  [[nodiscard]] const nlohmann::json* find(const char* key) const {
    const auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  [[nodiscard]] const nlohmann::json& need(const char* key) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) fail(path(key), "missing");
    return *v;
  }
  [[nodiscard]] std::string path(const char* key) const { return join_path(where_, key); }

  void str(const char* key, std::string& out, bool required = false) const {
    const nlohmann::json* v = required ? &need(key) : find(key);
    if (v == nullptr) return;
    if (!v->is_string()) fail(path(key), "expected a string");
    out = v->get<std::string>();
  }
  /// A value of a named enum (model/vocabulary.hpp), by its name. An empty name counts as
  /// absent: older writers left unset text fields empty.
  template <Named E>
  void name(const char* key, E& out, bool required = false) const {
    const nlohmann::json* v = find(key);
    if (v != nullptr && v->is_string() && v->get_ref<const std::string&>().empty()) v = nullptr;
    if (v == nullptr) {
      if (required) fail(path(key), "missing");
      return;
    }
    if (!v->is_string()) fail(path(key), "expected a string");
    const auto parsed = parse_name<E>(v->get_ref<const std::string&>());
    if (!parsed) fail(path(key), "must be one of " + names_text<E>() + " (got \"" + v->get<std::string>() + "\")");
    out = *parsed;
  }
  void u64(const char* key, std::uint64_t& out, bool required = false) const {
    const nlohmann::json* v = required ? &need(key) : find(key);
    if (v != nullptr) out = as_u64(*v, path(key));
  }
  void i64(const char* key, std::int64_t& out) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return;
    if (v->is_number_unsigned()) {
      if (v->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        fail(path(key), "out of range");
      }
      out = v->get<std::int64_t>();
    } else if (v->is_number_integer()) {
      out = v->get<std::int64_t>();
    } else {
      fail(path(key), "expected an integer");
    }
  }
  void i32(const char* key, int& out, bool required = false) const {
    const nlohmann::json* v = required ? &need(key) : find(key);
    if (v == nullptr) return;
    std::int64_t x = 0;
    i64(key, x);
    if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max()) {
      fail(path(key), "out of range");
    }
    out = static_cast<int>(x);
  }
  void f64(const char* key, double& out) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_number()) fail(path(key), "expected a number");
    out = v->get<double>();
  }
  void boolean(const char* key, bool& out) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) fail(path(key), "expected true or false");
    out = v->get<bool>();
  }
  void opt_u64(const char* key, std::optional<std::uint64_t>& out) const {
    const nlohmann::json* v = find(key);
    out = v == nullptr ? std::nullopt : std::optional<std::uint64_t>(as_u64(*v, path(key)));
  }
  void strings(const char* key, std::vector<std::string>& out) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_array()) fail(path(key), "expected an array of strings");
    out.clear();
    for (std::size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) fail(fmt::format("{}[{}]", path(key), i), "expected a string");
      out.push_back((*v)[i].get<std::string>());
    }
  }

 private:
  // nlohmann keeps a parsed 5 unsigned but a C++-built 5 signed; both are fine.
  static std::uint64_t as_u64(const nlohmann::json& v, const std::string& where) {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_integer()) {
      if (v.get<std::int64_t>() < 0) fail(where, "must not be negative");
      return v.get<std::uint64_t>();
    }
    fail(where, "expected a non-negative integer");
  }

  const nlohmann::json& j_;
  std::string where_;
};

LatencySummary latency_from_json(const nlohmann::json& j, const std::string& where) {
  const ObjectReader r(j, where);
  LatencySummary s;
  r.u64("count", s.count);
  r.f64("mean", s.mean);
  r.f64("stddev", s.stddev);
  r.opt_u64("p50", s.p50);
  r.opt_u64("p90", s.p90);
  r.opt_u64("p99", s.p99);
  r.opt_u64("p99_9", s.p99_9);
  r.opt_u64("p99_99", s.p99_99);
  r.u64("min", s.min);
  r.u64("max", s.max);
  return s;
}

std::optional<LatencySummary> opt_latency(const ObjectReader& r, const char* key) {
  const nlohmann::json* v = r.find(key);
  if (v == nullptr) return std::nullopt;
  return latency_from_json(*v, r.path(key));
}

nlohmann::json to_json(const FigureSpread& s) {
  return {{"median", s.median},         {"min", s.min}, {"max", s.max},
          {"rel_spread", s.rel_spread}, {"n", s.n},     {"values", s.values}};
}

std::optional<FigureSpread> opt_spread(const ObjectReader& parent, const char* key) {
  const nlohmann::json* v = parent.find(key);
  if (v == nullptr) return std::nullopt;
  const ObjectReader r(*v, parent.path(key));
  FigureSpread s;
  r.f64("median", s.median);
  r.f64("min", s.min);
  r.f64("max", s.max);
  r.f64("rel_spread", s.rel_spread);
  r.i32("n", s.n);
  if (const nlohmann::json* v = r.find("values")) {
    if (!v->is_array()) fail(r.path("values"), "expected an array of numbers");
    for (std::size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_number()) fail(r.path("values") + "[" + std::to_string(i) + "]", "expected a number");
      s.values.push_back((*v)[i].get<double>());
    }
  }
  return s;
}

nlohmann::json to_json(const ProcessStats& p) {
  return {{"role", p.role},
          {"index", p.index},
          {"cpu", p.cpu},
          {"user_s", p.user_s},
          {"sys_s", p.sys_s},
          {"voluntary_ctx", p.voluntary_ctx},
          {"involuntary_ctx", p.involuntary_ctx},
          {"max_rss_kb", p.max_rss_kb},
          {"sent", p.sent},
          {"received", p.received}};
}

ProcessStats process_from_json(const nlohmann::json& j, const std::string& where) {
  const ObjectReader r(j, where);
  ProcessStats p;
  r.str("role", p.role, true);
  r.i32("index", p.index);
  r.i32("cpu", p.cpu);
  r.f64("user_s", p.user_s);
  r.f64("sys_s", p.sys_s);
  r.i64("voluntary_ctx", p.voluntary_ctx);
  r.i64("involuntary_ctx", p.involuntary_ctx);
  r.i64("max_rss_kb", p.max_rss_kb);
  r.u64("sent", p.sent);
  r.u64("received", p.received);
  return p;
}

nlohmann::json to_json(const CellResult& c) {
  nlohmann::json processes = nlohmann::json::array();
  for (const ProcessStats& p : c.processes) processes.push_back(to_json(p));
  nlohmann::json j{
      {"pattern", c.pattern},
      {"mechanism", c.mechanism},
      {"serializer", c.serializer},
      {"wait", c.wait},
      {"placement", c.placement},
      {"content", c.content},
      {"size_bytes", c.size_bytes},
      {"procs", c.procs},
      {"batch", c.batch},
      {"rate", c.rate},
      {"load", c.load ? c.load->label() : std::string()},
      {"api", c.api},
      {"channel", {{"capacity_bytes", c.channel.capacity_bytes}, {"pipe_bytes", c.channel.pipe_bytes}}},
      {"verify", c.verify},
      {"latency_sample", c.latency_sample},
      {"status", c.status},
      {"error", c.error},
      {"warnings", c.warnings},
      {"messages_sent", c.messages_sent},
      {"messages_received", c.messages_received},
      {"latency_ns", to_json(c.latency_ns)},
      {"throughput",
       {{"msgs_per_s", c.throughput.msgs_per_s},
        {"payload_bytes_per_s", c.throughput.payload_bytes_per_s},
        {"wire_bytes_per_s", c.throughput.wire_bytes_per_s}}},
      {"cpu",
       {{"user_s", c.cpu.user_s},
        {"sys_s", c.cpu.sys_s},
        {"per_msg_ns", c.cpu.per_msg_ns},
        {"pacer_s", c.cpu.pacer_s}}},
      {"wire_bytes_per_msg", c.wire_bytes_per_msg},
      {"encode_ns_per_msg", c.encode_ns_per_msg},
      {"decode_ns_per_msg", c.decode_ns_per_msg},
      {"idle_cpu_percent", c.idle_cpu_percent},
      {"duration_s", c.duration_s},
      {"negative_one_way", c.negative_one_way},
      {"harness_bound", c.harness_bound},
      {"processes", std::move(processes)},
      {"repetitions", c.repetitions},
      {"noisy", c.noisy},
      {"histogram", to_json(c.histogram)},
  };
  if (c.latency_uncorrected_ns) j["latency_uncorrected_ns"] = to_json(*c.latency_uncorrected_ns);
  if (c.hop_latency_ns) j["hop_latency_ns"] = to_json(*c.hop_latency_ns);
  if (c.p50_spread) j["p50_spread"] = to_json(*c.p50_spread);
  if (c.p99_spread) j["p99_spread"] = to_json(*c.p99_spread);
  if (c.throughput_spread) j["throughput_spread"] = to_json(*c.throughput_spread);
  if (c.cpu_per_msg_spread) j["cpu_per_msg_spread"] = to_json(*c.cpu_per_msg_spread);
  if (c.harness_ceiling_msgs_per_s) j["harness_ceiling_msgs_per_s"] = *c.harness_ceiling_msgs_per_s;
  return j;
}

CellResult cell_from_json(const nlohmann::json& j, const std::string& where) {
  const ObjectReader r(j, where);
  CellResult c;
  r.str("pattern", c.pattern, true);
  r.str("mechanism", c.mechanism, true);
  r.str("serializer", c.serializer, true);
  r.name("wait", c.wait, true);
  r.name("placement", c.placement, true);
  r.name("content", c.content);
  r.u64("size_bytes", c.size_bytes, true);
  r.i32("procs", c.procs, true);
  r.i32("batch", c.batch);
  r.f64("rate", c.rate);
  std::string load;
  r.str("load", load);
  if (!load.empty()) {
    c.load = parse_load_label(load);
    if (!c.load) fail(r.path("load"), "not a load point (10k, 50%, sporadic): \"" + load + "\"");
  }
  r.name("api", c.api);
  if (const nlohmann::json* v = r.find("channel")) {
    const ObjectReader ch(*v, r.path("channel"));
    ch.u64("capacity_bytes", c.channel.capacity_bytes);
    ch.u64("pipe_bytes", c.channel.pipe_bytes);
  }
  r.name("verify", c.verify);
  r.u64("latency_sample", c.latency_sample);
  r.name("status", c.status, true);
  r.str("error", c.error);
  r.strings("warnings", c.warnings);
  r.u64("messages_sent", c.messages_sent);
  r.u64("messages_received", c.messages_received);
  if (const nlohmann::json* v = r.find("latency_ns")) {
    c.latency_ns = latency_from_json(*v, r.path("latency_ns"));
  }
  c.latency_uncorrected_ns = opt_latency(r, "latency_uncorrected_ns");
  c.hop_latency_ns = opt_latency(r, "hop_latency_ns");
  if (const nlohmann::json* v = r.find("throughput")) {
    const ObjectReader t(*v, r.path("throughput"));
    t.f64("msgs_per_s", c.throughput.msgs_per_s);
    t.f64("payload_bytes_per_s", c.throughput.payload_bytes_per_s);
    t.f64("wire_bytes_per_s", c.throughput.wire_bytes_per_s);
  }
  if (const nlohmann::json* v = r.find("cpu")) {
    const ObjectReader t(*v, r.path("cpu"));
    t.f64("user_s", c.cpu.user_s);
    t.f64("sys_s", c.cpu.sys_s);
    t.f64("per_msg_ns", c.cpu.per_msg_ns);
    t.f64("pacer_s", c.cpu.pacer_s);
  }
  r.f64("wire_bytes_per_msg", c.wire_bytes_per_msg);
  r.f64("encode_ns_per_msg", c.encode_ns_per_msg);
  r.f64("decode_ns_per_msg", c.decode_ns_per_msg);
  r.f64("idle_cpu_percent", c.idle_cpu_percent);
  r.f64("duration_s", c.duration_s);
  r.u64("negative_one_way", c.negative_one_way);
  r.boolean("harness_bound", c.harness_bound);
  if (const nlohmann::json* v = r.find("harness_ceiling_msgs_per_s"); v != nullptr && !v->is_null()) {
    double ceiling = 0;
    r.f64("harness_ceiling_msgs_per_s", ceiling);
    c.harness_ceiling_msgs_per_s = ceiling;
  }
  if (const nlohmann::json* v = r.find("processes")) {
    if (!v->is_array()) fail(r.path("processes"), "expected an array");
    for (std::size_t i = 0; i < v->size(); ++i) {
      c.processes.push_back(process_from_json((*v)[i], fmt::format("{}[{}]", r.path("processes"), i)));
    }
  }
  r.i32("repetitions", c.repetitions);
  c.p50_spread = opt_spread(r, "p50_spread");
  c.p99_spread = opt_spread(r, "p99_spread");
  c.throughput_spread = opt_spread(r, "throughput_spread");
  c.cpu_per_msg_spread = opt_spread(r, "cpu_per_msg_spread");
  r.boolean("noisy", c.noisy);
  if (const nlohmann::json* v = r.find("histogram")) {
    try {
      c.histogram = histogram_from_json(*v);
    } catch (const std::invalid_argument& e) {
      fail(r.path("histogram"), e.what());
    }
  }
  return c;
}

// Keeps names usable as file names on any filesystem and in shells without quoting.
std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const bool safe = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                      ch == '_' || ch == '-';
    out += safe ? ch : '-';
  }
  return out.empty() ? "-" : out;
}

}  // namespace

LatencySummary summarize(const Histogram& h) {
  LatencySummary s;
  s.count = h.count();
  s.mean = h.mean();
  s.stddev = h.stddev();
  s.min = h.min();
  s.max = h.max();
  const auto at = [&h](double p) -> std::optional<std::uint64_t> {
    if (!h.resolves(p)) return std::nullopt;
    return h.value_at_percentile(p);
  };
  s.p50 = at(50.0);
  s.p90 = at(90.0);
  s.p99 = at(99.0);
  s.p99_9 = at(99.9);
  s.p99_99 = at(99.99);
  return s;
}

nlohmann::json to_json(const LatencySummary& s) {
  const auto opt = [](const std::optional<std::uint64_t>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {{"count", s.count},  {"mean", s.mean},    {"stddev", s.stddev},    {"p50", opt(s.p50)},
          {"p90", opt(s.p90)}, {"p99", opt(s.p99)}, {"p99_9", opt(s.p99_9)}, {"p99_99", opt(s.p99_99)},
          {"min", s.min},      {"max", s.max}};
}

nlohmann::json to_json(const RunResult& r) {
  nlohmann::json cells = nlohmann::json::array();
  for (const CellResult& c : r.cells) cells.push_back(to_json(c));
  nlohmann::json j = {{"schema_version", r.schema_version},
                      {"tool_version", r.tool_version},
                      {"started_at", r.started_at},
                      {"elapsed_s", r.elapsed_s},
                      {"environment", r.environment.is_null() ? nlohmann::json::object() : r.environment},
                      {"config", r.config.is_null() ? nlohmann::json::object() : r.config},
                      {"warnings", r.warnings},
                      {"complete", r.complete},
                      {"cells", std::move(cells)}};
  if (!r.interrupted_by.empty()) j["interrupted_by"] = r.interrupted_by;
  return j;
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
    out.cells.push_back(cell_from_json(cells[i], fmt::format("cells[{}]", i)));
  }
  return out;
}

RunResult load_results(const std::string& path) {
  const nlohmann::json j = read_json_file(path, kMaxResultsBytes, "results file");
  try {
    return run_result_from_json(j);
  } catch (const std::exception& e) {
    throw BadInput("results file '" + escape_control(path) + "': " + escape_control(e.what()));
  }
}

void save_results(const RunResult& r, const std::string& path, bool follow_symlink) {
  write_output_file(path, to_json(r).dump(2) + "\n", follow_symlink);
}

std::string cell_id(const CellResult& c, CellIdParts parts) {
  std::string id =
      fmt::format("{}_{}_{}_{}_p{}_{}_{}_b{}", sanitize(c.pattern), sanitize(c.mechanism), sanitize(c.serializer),
                  format_size(c.size_bytes), c.procs, to_string(c.wait), to_string(c.placement), c.batch);
  // Defaults are left out so the common ids stay short; anything else must appear or two
  // cells of one run would share a file name.
  if (c.content != ContentMode::random) id += fmt::format("_{}", to_string(c.content));
  if (c.api != Api::copy) id += fmt::format("_{}", to_string(c.api));
  if (parts == CellIdParts::configuration) return id;
  if (c.load) {
    id += "_load" + sanitize(c.load->id_part());
  } else if (c.rate > 0) {
    // Integral rates print without an exponent ("1e+06" would sanitize to a lie, "1e-06").
    id += "_r" + sanitize(std::floor(c.rate) == c.rate ? fmt::format("{:.0f}", c.rate) : fmt::format("{}", c.rate));
  }
  return id;
}

}  // namespace ipcmatrix
