#include "ipcmatrix/runner/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <system_error>
#include <utility>

#include "ipcmatrix/serialize/message.hpp"
#include "ipcmatrix/serialize/serializer.hpp"
#include "ipcmatrix/sys/environment.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {
namespace {

namespace fs = std::filesystem;

constexpr int kMinProcs = 2;
constexpr int kMaxProcs = 64;
constexpr int kMaxRepetitions = 100;
constexpr double kMaxDurationS = 3600;
constexpr std::uint64_t kMaxWarmup = 1'000'000'000;
constexpr int kMaxBatch = 4096;
constexpr int kMinZstdLevel = 1;
constexpr int kMaxZstdLevel = 19;
constexpr std::size_t kMinRingBytes = 4096;
constexpr std::size_t kMinPipeBytes = 4096;
constexpr int kSmallMachineCpus = 4;
constexpr int kSmallMachineProcs = 3;
constexpr int kMaxDefaultProcs = 8;
constexpr std::string_view kSizeExamples = "(examples: 64, 4K, 64KiB, 1M)";
constexpr std::string_view kDescriptionKey = "description";

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}


std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

[[noreturn]] void fail(std::string_view flag, std::string_view what) {
  std::string msg(flag);
  msg += ": ";
  msg += what;
  throw UsageError(msg);
}

std::string quote(std::string_view text) {
  std::string s = "'";
  s += text;
  s += "'";
  return s;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void dedupe(std::vector<std::string>& v) {
  std::vector<std::string> out;
  for (auto& s : v) {
    if (!contains(out, s)) out.push_back(std::move(s));
  }
  v = std::move(out);
}

// validate() re-checks names even though the parsers already did: a RunConfig can also be
// built in code or by apply_preset on a hand-written file.
void check_names(const std::vector<std::string>& names, const std::vector<std::string>& valid,
                 std::string_view flag) {
  if (names.empty()) fail(flag, "the list is empty (valid: " + join(valid) + ")");
  for (const auto& n : names) {
    if (!contains(valid, n)) fail(flag, "unknown " + quote(n) + " (valid: " + join(valid) + ")");
  }
}

[[noreturn]] void not_a_size(std::string_view text, std::string_view flag) {
  fail(flag, quote(text) + " is not a size " + std::string(kSizeExamples));
}

std::string size_limit_text() { return "1G (" + std::to_string(kMaxSizeBytes) + " bytes)"; }

}  // namespace

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

const std::vector<std::string>& all_waits() {
  static const std::vector<std::string> kWaits = {
      std::string(to_string(WaitStrategy::spin)),
      std::string(to_string(WaitStrategy::block)),
      std::string(to_string(WaitStrategy::hybrid)),
  };
  return kWaits;
}

std::vector<std::string> mechanism_names() {
  std::vector<std::string> names;
  for (const auto* t : all_transports()) names.emplace_back(t->name);
  return names;
}

std::vector<std::string> valid_serializer_names() {
  std::vector<std::string> bases;
  bool has_zstd = false;
  for (const auto& info : serializer_infos()) {
    // The registry lists the zstd decorator as one more entry; it wraps the others.
    if (info.name == "zstd") {
      has_zstd = true;
    } else {
      bases.emplace_back(info.name);
    }
  }
  std::vector<std::string> names = bases;
  if (has_zstd) {
    for (const auto& b : bases) names.push_back("zstd+" + b);
    names.emplace_back("zstd");
  }
  return names;
}

nlohmann::json RunConfig::to_json() const {
  return nlohmann::json{
      {"sizes", sizes},
      {"patterns", patterns},
      {"mechanisms", mechanisms},
      {"serializers", serializers},
      {"procs", procs},
      {"duration_s", duration_s},
      {"messages", messages},
      {"warmup", warmup},
      {"repetitions", repetitions},
      {"rate", rate},
      {"waits", waits},
      {"placements", placements},
      {"batches", batches},
      {"content", content},
      {"zstd_level", zstd_level},
      {"ring_bytes", ring_bytes},
      {"pipe_bytes", pipe_bytes},
      {"cell_timeout_s", cell_timeout_s},
      {"out_dir", out_dir},
      {"json_path", json_path},
      {"quiet", quiet},
      {"preset", preset},
      {"seed", seed},
  };
}

std::uint64_t parse_size(std::string_view text, std::string_view flag) {
  const std::string_view t = trim(text);
  std::size_t digits = 0;
  while (digits < t.size() && std::isdigit(static_cast<unsigned char>(t[digits]))) ++digits;
  if (digits == 0) not_a_size(text, flag);

  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + digits, value);
  if (ec == std::errc::result_out_of_range) {
    fail(flag, quote(text) + " is too large (at most " + size_limit_text() + ")");
  }
  if (ec != std::errc{} || ptr != t.data() + digits) not_a_size(text, flag);

  // Binary multiples for every spelling: the sizes people type ("4K", "64KB") almost always
  // mean page and buffer sizes, which are powers of two.
  const std::string suffix = lower(t.substr(digits));
  std::uint64_t multiplier = 0;
  if (suffix.empty() || suffix == "b") {
    multiplier = 1;
  } else if (suffix == "k" || suffix == "kb" || suffix == "kib") {
    multiplier = std::uint64_t{1} << 10;
  } else if (suffix == "m" || suffix == "mb" || suffix == "mib") {
    multiplier = std::uint64_t{1} << 20;
  } else if (suffix == "g" || suffix == "gb" || suffix == "gib") {
    multiplier = std::uint64_t{1} << 30;
  } else {
    not_a_size(text, flag);
  }
  if (value == 0) fail(flag, quote(text) + " is not a size: sizes start at 1 byte");
  if (value > kMaxSizeBytes / multiplier) {
    fail(flag, quote(text) + " is too large (at most " + size_limit_text() + ")");
  }
  return value * multiplier;
}

std::uint64_t parse_buffer_size(std::string_view text, std::string_view flag) {
  if (trim(text) == "0") return 0;
  return parse_size(text, flag);
}

std::vector<std::string> split_list(std::string_view text, std::string_view flag) {
  if (trim(text).empty()) fail(flag, "empty list");
  std::vector<std::string> items;
  std::string_view rest = text;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    if (item.empty()) fail(flag, "empty item in " + quote(text));
    items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return items;
}

std::vector<std::uint64_t> parse_size_list(std::string_view text, std::string_view flag) {
  std::vector<std::uint64_t> sizes;
  for (const auto& item : split_list(text, flag)) sizes.push_back(parse_size(item, flag));
  return sizes;
}

std::vector<std::string> parse_choices(std::string_view text, const std::vector<std::string>& valid,
                                       std::string_view flag) {
  return parse_choices(text, valid, flag, valid);
}

std::vector<std::string> parse_choices(std::string_view text, const std::vector<std::string>& valid,
                                       std::string_view flag, const std::vector<std::string>& all) {
  std::vector<std::string> out;
  for (auto& item : split_list(text, flag)) {
    if (item == "all") {
      out.insert(out.end(), all.begin(), all.end());
    } else if (contains(valid, item)) {
      out.push_back(std::move(item));
    } else {
      fail(flag, "unknown " + quote(item) + " (valid: " + join(valid) + ", all)");
    }
  }
  dedupe(out);
  return out;
}

std::vector<std::string> parse_mechanisms(std::string_view text, std::string_view flag) {
  return parse_choices(text, mechanism_names(), flag);
}

std::vector<std::string> parse_serializers(std::string_view text, std::string_view flag) {
  auto names = parse_choices(text, valid_serializer_names(), flag, default_serializer_names());
  for (auto& n : names) {
    // "zstd" alone is the registry's shorthand; store the canonical name so "zstd,zstd+binary"
    // does not measure the same thing twice and results name what actually ran.
    if (n == "zstd") {
      try {
        n = std::string(make_serializer(n)->name());
      } catch (const std::exception&) {
        // Keep the shorthand; the runner reports the failure per cell.
      }
    }
  }
  dedupe(names);
  return names;
}

std::uint64_t parse_uint(std::string_view text, std::string_view flag) {
  const std::string_view t = trim(text);
  std::uint64_t value = 0;
  // from_chars alone would accept nothing for "" and stop early at "1.5" or "10x".
  if (t.empty() || !std::isdigit(static_cast<unsigned char>(t.front()))) {
    fail(flag, quote(text) + " is not a non-negative integer");
  }
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (ec == std::errc::result_out_of_range) fail(flag, quote(text) + " is too large");
  if (ec != std::errc{} || ptr != t.data() + t.size()) {
    fail(flag, quote(text) + " is not a non-negative integer");
  }
  return value;
}

int parse_int(std::string_view text, std::string_view flag) {
  const std::string_view t = trim(text);
  int value = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (ec == std::errc::result_out_of_range) fail(flag, quote(text) + " is out of range");
  if (t.empty() || ec != std::errc{} || ptr != t.data() + t.size()) {
    fail(flag, quote(text) + " is not an integer");
  }
  return value;
}

double parse_number(std::string_view text, std::string_view flag) {
  const std::string_view t = trim(text);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ec != std::errc{} || ptr != t.data() + t.size() || !std::isfinite(value)) {
    fail(flag, quote(text) + " is not a number");
  }
  if (value < 0) fail(flag, quote(text) + " is negative");
  return value;
}

double parse_duration(std::string_view text, std::string_view flag) {
  const std::string_view t = trim(text);
  std::size_t unit_at = t.size();
  while (unit_at > 0 && std::isalpha(static_cast<unsigned char>(t[unit_at - 1]))) --unit_at;
  const std::string unit = lower(t.substr(unit_at));
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1;
  } else if (unit == "ms") {
    scale = 1e-3;
  } else if (unit == "us") {
    scale = 1e-6;
  } else if (unit == "min") {
    scale = 60;
  } else if (unit == "h") {
    scale = 3600;
  } else {
    fail(flag, quote(text) + " is not a duration (examples: 10, 10s, 500ms, 2min)");
  }
  const std::string_view number = t.substr(0, unit_at);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc{} || ptr != number.data() + number.size() ||
      !std::isfinite(value)) {
    fail(flag, quote(text) + " is not a duration (examples: 10, 10s, 500ms, 2min)");
  }
  if (value < 0) fail(flag, quote(text) + " is negative");
  return value * scale;
}

std::vector<int> parse_int_list(std::string_view text, std::string_view flag) {
  std::vector<int> out;
  for (const auto& item : split_list(text, flag)) out.push_back(parse_int(item, flag));
  return out;
}

std::vector<std::string> preset_search_path() {
  std::vector<std::string> dirs;
  const auto add = [&dirs](const fs::path& p) {
    std::string s = p.lexically_normal().string();
    if (!s.empty() && !contains(dirs, s)) dirs.push_back(std::move(s));
  };
  if (const char* env = std::getenv("IPCMATRIX_PRESETS"); env != nullptr && *env != '\0') add(env);
  if (const std::string exe = sys::executable_path(); !exe.empty()) {
    const fs::path exe_dir = fs::path(exe).parent_path();
    add(exe_dir / ".." / "bench" / "presets");  // build tree next to the sources
    add(exe_dir / ".." / "share" / "ipc-matrix" / "presets");  // installed
  }
#ifdef IPCMATRIX_SOURCE_DIR
  add(fs::path(IPCMATRIX_SOURCE_DIR) / "bench" / "presets");
#endif
  add(fs::path("bench") / "presets");
  return dirs;
}

std::vector<std::string> preset_names() {
  std::set<std::string> names;
  for (const auto& dir : preset_search_path()) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) continue;
    for (const auto& entry : it) {
      std::error_code type_ec;
      if (entry.path().extension() == ".json" && entry.is_regular_file(type_ec)) {
        names.insert(entry.path().stem().string());
      }
    }
  }
  return {names.begin(), names.end()};
}

nlohmann::json load_preset(std::string_view name_or_path) {
  constexpr std::string_view kFlag = "--preset";
  const std::string_view name = trim(name_or_path);
  if (name.empty()) fail(kFlag, "empty preset name (available: " + join(preset_names()) + ")");

  fs::path path;
  const bool is_path = name.find('/') != std::string_view::npos ||
                       (name.size() >= 5 && name.substr(name.size() - 5) == ".json");
  if (is_path) {
    path = fs::path(name);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) fail(kFlag, "no preset file " + quote(name));
  } else {
    const auto dirs = preset_search_path();
    for (const auto& dir : dirs) {
      const fs::path candidate = fs::path(dir) / (std::string(name) + ".json");
      std::error_code ec;
      if (fs::is_regular_file(candidate, ec)) {
        path = candidate;
        break;
      }
    }
    if (path.empty()) {
      fail(kFlag, "no preset named " + quote(name) + " (available: " + join(preset_names()) +
                      "; searched: " + join(dirs) + ")");
    }
  }

  std::ifstream in(path);
  if (!in) fail(kFlag, "cannot read " + quote(path.string()));
  nlohmann::json preset;
  try {
    // Comments are allowed: presets are hand-edited data files.
    preset = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const nlohmann::json::exception& e) {
    fail(kFlag, quote(path.string()) + " is not valid JSON: " + e.what());
  }
  if (!preset.is_object()) {
    fail(kFlag, quote(path.string()) + " must hold a JSON object of settings");
  }
  // A trial run on defaults, so a typo is reported with the file it is in rather than later,
  // after flags have been merged in.
  try {
    RunConfig trial;
    apply_preset(trial, preset);
    validate(trial);
  } catch (const UsageError& e) {
    fail(kFlag, quote(path.string()) + ": " + e.what());
  }
  return preset;
}

namespace {

// Preset values are turned back into the text a flag would carry, so one set of parsers (and
// one set of error messages) serves both.
std::string element_text(const nlohmann::json& v, std::string_view where) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  if (v.is_number_float()) return v.dump();
  fail(where, "expected a string or a number, got " + v.dump());
}

std::string list_text(const nlohmann::json& v, std::string_view where) {
  if (!v.is_array()) return element_text(v, where);
  std::string text;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) text += ',';
    text += element_text(v[i], where);
  }
  return text;
}

std::string string_value(const nlohmann::json& v, std::string_view where) {
  if (!v.is_string()) fail(where, "expected a string, got " + v.dump());
  return v.get<std::string>();
}

using Setter = void (*)(RunConfig&, const nlohmann::json&, std::string_view);

struct PresetKey {
  std::string_view name;
  Setter apply;
};

const std::vector<PresetKey>& preset_keys() {
  using J = nlohmann::json;
  using W = std::string_view;
  static const std::vector<PresetKey> kKeys = {
      {"sizes", [](RunConfig& c, const J& v, W w) { c.sizes = parse_size_list(list_text(v, w), w); }},
      {"patterns",
       [](RunConfig& c, const J& v, W w) { c.patterns = parse_choices(list_text(v, w), all_patterns(), w); }},
      {"mechanisms", [](RunConfig& c, const J& v, W w) { c.mechanisms = parse_mechanisms(list_text(v, w), w); }},
      {"serializers",
       [](RunConfig& c, const J& v, W w) { c.serializers = parse_serializers(list_text(v, w), w); }},
      {"procs", [](RunConfig& c, const J& v, W w) { c.procs = parse_int(element_text(v, w), w); }},
      {"duration_s",
       [](RunConfig& c, const J& v, W w) { c.duration_s = parse_duration(element_text(v, w), w); }},
      {"messages", [](RunConfig& c, const J& v, W w) { c.messages = parse_uint(element_text(v, w), w); }},
      {"warmup", [](RunConfig& c, const J& v, W w) { c.warmup = parse_uint(element_text(v, w), w); }},
      {"repetitions",
       [](RunConfig& c, const J& v, W w) { c.repetitions = parse_int(element_text(v, w), w); }},
      {"rate", [](RunConfig& c, const J& v, W w) { c.rate = parse_number(element_text(v, w), w); }},
      {"waits",
       [](RunConfig& c, const J& v, W w) {
         c.waits = parse_choices(list_text(v, w), all_waits(), w);
       }},
      {"placements",
       [](RunConfig& c, const J& v, W w) { c.placements = parse_choices(list_text(v, w), all_placements(), w); }},
      {"batches", [](RunConfig& c, const J& v, W w) { c.batches = parse_int_list(list_text(v, w), w); }},
      {"content", [](RunConfig& c, const J& v, W w) { c.content = string_value(v, w); }},
      {"zstd_level",
       [](RunConfig& c, const J& v, W w) { c.zstd_level = parse_int(element_text(v, w), w); }},
      {"ring_bytes",
       [](RunConfig& c, const J& v, W w) { c.ring_bytes = parse_buffer_size(element_text(v, w), w); }},
      {"pipe_bytes",
       [](RunConfig& c, const J& v, W w) { c.pipe_bytes = parse_buffer_size(element_text(v, w), w); }},
      {"cell_timeout_s",
       [](RunConfig& c, const J& v, W w) { c.cell_timeout_s = parse_duration(element_text(v, w), w); }},
      {"out_dir", [](RunConfig& c, const J& v, W w) { c.out_dir = string_value(v, w); }},
      {"json_path", [](RunConfig& c, const J& v, W w) { c.json_path = string_value(v, w); }},
      {"quiet",
       [](RunConfig& c, const J& v, W w) {
         if (!v.is_boolean()) fail(w, "expected true or false, got " + v.dump());
         c.quiet = v.get<bool>();
       }},
      {"seed", [](RunConfig& c, const J& v, W w) { c.seed = parse_uint(element_text(v, w), w); }},
  };
  return kKeys;
}

}  // namespace

void apply_preset(RunConfig& cfg, const nlohmann::json& preset) {
  if (!preset.is_object()) fail("preset", "expected a JSON object of settings, got " + preset.dump());
  const auto& keys = preset_keys();
  for (const auto& [key, value] : preset.items()) {
    if (key == kDescriptionKey) continue;
    const auto it = std::find_if(keys.begin(), keys.end(), [&](const PresetKey& k) { return k.name == key; });
    if (it == keys.end()) {
      std::vector<std::string> names;
      for (const auto& k : keys) names.emplace_back(k.name);
      std::string hint;
      // The flags are singular (--wait, --batch) while the keys are the plural field names.
      if (contains(names, key + "s")) hint = "did you mean '" + key + "s'? ";
      fail("preset", "unknown key " + quote(key) + " (" + hint + "valid keys: " + join(names) + ")");
    }
    it->apply(cfg, value, "preset key " + quote(key));
  }
}

void validate(const RunConfig& cfg) {
  if (cfg.sizes.empty()) fail("--sizes", "the list is empty");
  for (const auto size : cfg.sizes) {
    if (size == 0 || size > kMaxSizeBytes) {
      fail("--sizes", std::to_string(size) + " bytes is outside 1.." + size_limit_text());
    }
  }
  check_names(cfg.patterns, all_patterns(), "--patterns");
  check_names(cfg.mechanisms, mechanism_names(), "--mechanisms");
  check_names(cfg.serializers, valid_serializer_names(), "--serializers");
  check_names(cfg.waits, all_waits(), "--wait");
  check_names(cfg.placements, all_placements(), "--placement");
  if (!parse_content_mode(cfg.content)) {
    fail("--content", "unknown " + quote(cfg.content) + " (valid: random, text, records)");
  }
  if (cfg.batches.empty()) fail("--batch", "the list is empty");
  for (const int b : cfg.batches) {
    if (b < 1 || b > kMaxBatch) fail("--batch", std::to_string(b) + " is outside 1.." + std::to_string(kMaxBatch));
  }
  if (cfg.procs != 0 && (cfg.procs < kMinProcs || cfg.procs > kMaxProcs)) {
    fail("--procs", "must be 0 (fit the machine) or " + std::to_string(kMinProcs) + ".." +
                        std::to_string(kMaxProcs) + ", got " + std::to_string(cfg.procs));
  }
  if (cfg.repetitions < 1 || cfg.repetitions > kMaxRepetitions) {
    fail("--repetitions", "must be 1.." + std::to_string(kMaxRepetitions) + ", got " +
                              std::to_string(cfg.repetitions));
  }
  if (!std::isfinite(cfg.duration_s) || cfg.duration_s < 0 || cfg.duration_s > kMaxDurationS) {
    fail("--duration", "must be 0 (count messages) up to " + format_number(kMaxDurationS) + " s, got " +
                           format_number(cfg.duration_s));
  }
  if (cfg.duration_s == 0 && cfg.messages < 1) {
    fail("--messages", "must be at least 1 when no --duration is given");
  }
  if (cfg.warmup >= kMaxWarmup) {
    fail("--warmup", "must be below " + std::to_string(kMaxWarmup) + ", got " + std::to_string(cfg.warmup));
  }
  if (!std::isfinite(cfg.rate) || cfg.rate < 0) {
    fail("--rate", "must be >= 0 (0 = closed loop), got " + format_number(cfg.rate));
  }
  if (cfg.zstd_level < kMinZstdLevel || cfg.zstd_level > kMaxZstdLevel) {
    fail("--zstd-level", "must be " + std::to_string(kMinZstdLevel) + ".." + std::to_string(kMaxZstdLevel) +
                             ", got " + std::to_string(cfg.zstd_level));
  }
  const bool power_of_two = (cfg.ring_bytes & (cfg.ring_bytes - 1)) == 0;
  if (cfg.ring_bytes != 0 && (cfg.ring_bytes < kMinRingBytes || !power_of_two || cfg.ring_bytes > kMaxSizeBytes)) {
    fail("--ring-bytes", "must be 0 (default) or a power of two from 4K to 1G, got " + std::to_string(cfg.ring_bytes));
  }
  if (cfg.pipe_bytes != 0 && (cfg.pipe_bytes < kMinPipeBytes || cfg.pipe_bytes > kMaxSizeBytes)) {
    fail("--pipe-bytes", "must be 0 (kernel default) or 4K..1G, got " + std::to_string(cfg.pipe_bytes));
  }
  if (!std::isfinite(cfg.cell_timeout_s) || cfg.cell_timeout_s <= 0) {
    fail("--cell-timeout", "must be > 0 seconds, got " + format_number(cfg.cell_timeout_s));
  }
  // Otherwise every cell would be killed by its own watchdog.
  if (cfg.duration_s >= cfg.cell_timeout_s) {
    fail("--cell-timeout", format_number(cfg.cell_timeout_s) + " s must exceed --duration (" +
                               format_number(cfg.duration_s) + " s)");
  }
}

int resolve_procs(const RunConfig& cfg, std::string_view pattern, int cpus) {
  if (!contains(all_patterns(), pattern)) {
    fail("--patterns", "unknown " + quote(pattern) + " (valid: " + join(all_patterns()) + ")");
  }
  if (pattern == "pingpong" || pattern == "stream") return 2;
  if (cfg.procs > 0) return cfg.procs;
  // On small machines more participants than CPUs measures the scheduler, not the mechanism;
  // 3 is the smallest count that still exercises a fan/pipeline shape.
  if (cpus <= kSmallMachineCpus) return kSmallMachineProcs;
  return std::min(kMaxDefaultProcs, cpus);
}

}  // namespace ipcmatrix
