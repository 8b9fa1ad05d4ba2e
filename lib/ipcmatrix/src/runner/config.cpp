#include "ipcmatrix/runner/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>

#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/runner/settings.hpp"
#include "ipcmatrix/serialize/serializer.hpp"
#include "ipcmatrix/sys/environment.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "ipcmatrix/util/json_file.hpp"
#include "ipcmatrix/util/text.hpp"
#include "usage_errors.hpp"

namespace ipcmatrix {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSizeExamples = "(examples: 64, 4K, 64KiB, 1M)";
constexpr std::string_view kDescriptionKey = "description";

using detail::check_names;
using detail::quote;
using detail::size_limit_text;

[[noreturn]] void fail(std::string_view flag, std::string_view what) { detail::fail_usage(flag, what); }

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

/// Keeps the first of equal values, in order.
template <class T>
void dedupe(std::vector<T>& v) {
  std::vector<T> out;
  for (auto& s : v) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  }
  v = std::move(out);
}

[[noreturn]] void not_a_size(std::string_view text, std::string_view flag) {
  fail(flag, quote(text) + " is not a size " + std::string(kSizeExamples));
}

}  // namespace

namespace detail {

void fail_usage(std::string_view flag, std::string_view what) {
  std::string msg(flag);
  msg += ": ";
  msg += what;
  throw UsageError(msg);
}

std::string quote(std::string_view text) {
  std::string s = "'";
  s += escape_control(text);
  s += "'";
  return s;
}

// validate() re-checks names even though the parsers already did: a RunConfig can also be
// built in code or by apply_preset on a hand-written file.
void check_names(const std::vector<std::string>& names, const std::vector<std::string>& valid,
                 std::string_view flag) {
  if (names.empty()) fail_usage(flag, "the list is empty (valid: " + join(valid) + ")");
  for (const auto& n : names) {
    if (std::find(valid.begin(), valid.end(), n) == valid.end())
      fail_usage(flag, "unknown " + quote(n) + " (valid: " + join(valid) + ")");
  }
}

std::string size_limit_text() { return "1G (" + std::to_string(kMaxSizeBytes) + " bytes)"; }

}  // namespace detail

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
  nlohmann::json j = nlohmann::json::object();
  for (const Setting& setting : run_settings()) j[std::string(setting.key)] = setting.to_json(*this);
  j["preset"] = preset;
  return j;
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

  // K, M, G and KiB, MiB, GiB are binary multiples: the sizes people type ("4K", "1M") mean
  // page and buffer sizes, which are powers of two. KB, MB and GB are refused: half the world
  // reads 1MB as 1,000,000 bytes, and a size that means two things cannot be reported honestly.
  const std::string suffix = lower(t.substr(digits));
  std::uint64_t multiplier = 0;
  if (suffix == "kb" || suffix == "mb" || suffix == "gb") {
    const std::string binary = std::string(t.substr(0, digits)) +
                               static_cast<char>(std::toupper(static_cast<unsigned char>(suffix[0])));
    fail(flag, quote(text) + " is ambiguous (decimal or binary?): write " + binary + " or " + binary +
                   "iB for the binary multiple, or the number of bytes");
  }
  if (suffix.empty() || suffix == "b") {
    multiplier = 1;
  } else if (suffix == "k" || suffix == "kib") {
    multiplier = std::uint64_t{1} << 10;
  } else if (suffix == "m" || suffix == "mib") {
    multiplier = std::uint64_t{1} << 20;
  } else if (suffix == "g" || suffix == "gib") {
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
  dedupe(sizes);  // "64,64" or "1K,1024" is one size, measured once
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
  } else if (unit == "ns") {
    scale = 1e-9;
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

double parse_rate(std::string_view text, std::string_view flag) {
  const std::string_view t = trim(text);
  double scale = 1;
  std::string_view number = t;
  if (!t.empty() && (t.back() == 'k' || t.back() == 'K')) {
    scale = 1e3;
    number = t.substr(0, t.size() - 1);
  } else if (!t.empty() && t.back() == 'M') {
    scale = 1e6;
    number = t.substr(0, t.size() - 1);
  }
  double value = 0;
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc{} || ptr != number.data() + number.size() || !std::isfinite(value) ||
      !(value > 0)) {
    fail(flag, quote(text) + " is not a rate (msgs/s; examples: 500, 50k, 1.5M)");
  }
  return value * scale;
}

std::vector<LoadPoint> parse_load_list(std::string_view text, std::string_view flag) {
  std::vector<LoadPoint> out;
  for (const auto& item : split_list(text, flag)) {
    LoadPoint p;
    if (lower(item) == "sporadic") {
      p.kind = LoadPoint::Kind::sporadic;
      p.value = kSporadicRate;
    } else if (!item.empty() && item.back() == '%') {
      p.kind = LoadPoint::Kind::fraction;
      p.value = parse_percent(item, flag);
      if (p.value > 1) fail(flag, quote(item) + ": a load above 100% of saturation cannot be offered");
    } else {
      p.value = parse_rate(item, flag);
    }
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

double parse_percent(std::string_view text, std::string_view flag) {
  std::string_view t = trim(text);
  if (!t.empty() && t.back() == '%') t.remove_suffix(1);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ec != std::errc{} || ptr != t.data() + t.size() || !std::isfinite(value) || !(value > 0) ||
      value > 1000) {
    fail(flag, quote(text) + " is not a percentage above 0 (examples: 10%, 5)");
  }
  return value / 100;
}

std::vector<int> parse_int_list(std::string_view text, std::string_view flag) {
  std::vector<int> out;
  for (const auto& item : split_list(text, flag)) out.push_back(parse_int(item, flag));
  dedupe(out);
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

  nlohmann::json preset;
  try {
    // Comments are allowed: presets are hand-edited data files.
    preset = read_json_file(path.string(), kMaxPresetBytes, "preset", /*allow_comments=*/true);
  } catch (const BadInput& e) {
    fail(kFlag, e.what());
  }
  if (!preset.is_object()) {
    fail(kFlag, quote(escape_control(path.string())) + " must hold a JSON object of settings");
  }
  // A trial run on defaults, so a typo is reported with the file it is in rather than later,
  // after flags have been merged in.
  try {
    RunConfig trial;
    apply_preset(trial, preset);
    validate(trial);
  } catch (const UsageError& e) {
    fail(kFlag, quote(escape_control(path.string())) + ": " + e.what());
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

std::string preset_text(const Setting& setting, const nlohmann::json& v, std::string_view where) {
  switch (setting.kind) {
    case SettingKind::list: return list_text(v, where);
    case SettingKind::scalar: return element_text(v, where);
    case SettingKind::text:
      if (!v.is_string()) fail(where, "expected a string, got " + v.dump());
      return v.get<std::string>();
    case SettingKind::toggle:
      if (!v.is_boolean()) fail(where, "expected true or false, got " + v.dump());
      return v.get<bool>() ? "true" : "false";
  }
  fail(where, "unsupported setting kind");
}

}  // namespace

void apply_preset(RunConfig& cfg, const nlohmann::json& preset) {
  if (!preset.is_object()) fail("preset", "expected a JSON object of settings, got " + preset.dump());
  for (const auto& [key, value] : preset.items()) {
    if (key == kDescriptionKey) continue;
    const Setting* setting = find_setting(key);
    if (setting == nullptr) {
      std::vector<std::string> names;
      for (const auto& s : run_settings()) names.emplace_back(s.key);
      std::string hint;
      // The flags are singular (--wait, --batch) while the keys are the plural field names.
      if (contains(names, key + "s")) hint = "did you mean '" + key + "s'? ";
      fail("preset", "unknown key " + quote(key) + " (" + hint + "valid keys: " + join(names) + ")");
    }
    const std::string where = "preset key " + quote(key);
    setting->parse(cfg, preset_text(*setting, value, where), where);
  }
}

void validate(const RunConfig& cfg) {
  for (const Setting& setting : run_settings())
    if (setting.check) setting.check(cfg, setting.primary_flag());
  if (cfg.duration_s == 0 && cfg.messages < 1) {
    fail("--messages", "must be at least 1 when no --duration is given");
  }
  if (!cfg.loads.empty() && cfg.rate > 0) {
    fail("--load", "sweeps open-loop rates after each closed-loop cell: leave --rate at 0");
  }
  // Otherwise every cell would be killed by its own watchdog.
  if (cfg.duration_s >= cfg.cell_timeout_s) {
    fail("--cell-timeout", format_number(cfg.cell_timeout_s) + " s must exceed --duration (" +
                               format_number(cfg.duration_s) + " s)");
  }
  // What the kernel would refuse is refused here, once, instead of failing every cell.
  ChannelOptions opts;
  opts.pipe_bytes = cfg.pipe_bytes;
  for (const auto& name : cfg.mechanisms) {
    const TransportSpec* t = nullptr;
    for (const auto* spec : all_transports())
      if (spec->name == name) t = spec;
    if (!t || !t->preflight) continue;
    if (const std::string problem = t->preflight(opts); !problem.empty()) fail(name, problem);
  }
}

}  // namespace ipcmatrix
