#include "ipcmatrix/runner/presets.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <system_error>

#include "ipcmatrix/runner/settings.hpp"
#include "ipcmatrix/sys/environment.hpp"
#include "ipcmatrix/util/json_file.hpp"
#include "ipcmatrix/util/text.hpp"
#include "usage_errors.hpp"

namespace ipcmatrix {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDescriptionKey = "description";

using detail::quote;
using detail::size_limit_text;

[[noreturn]] void fail(std::string_view flag, std::string_view what) { detail::fail_usage(flag, what); }

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

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

}  // namespace ipcmatrix
