#pragma once
/// @file presets.hpp
/// Presets: named JSON files of settings (bench/presets/*.json), found on a search path,
/// checked when loaded and applied onto a RunConfig through the flags' own parsers.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipcmatrix/runner/config.hpp"

namespace ipcmatrix {

/// The largest preset file read (presets are a few hundred bytes; 1 MiB is generous).
inline constexpr std::size_t kMaxPresetBytes = std::size_t{1} << 20;

/// Directories searched for a preset name, in order: $IPCMATRIX_PRESETS, <exe dir>/../bench/
/// presets, <exe dir>/../share/ipc-matrix/presets, <IPCMATRIX_SOURCE_DIR>/bench/presets (a
/// compile-time define, when set), ./bench/presets. Missing directories are included.
[[nodiscard]] std::vector<std::string> preset_search_path();

/// Loads a preset: a path when the text contains '/' or ends in ".json", otherwise
/// <dir>/<name>.json from the first directory of preset_search_path() that has it. The result
/// is checked by a trial apply_preset(), so a bad key or value is reported here, naming the
/// file. Throws UsageError when not found (listing the search path and the presets there),
/// unreadable, not a JSON object or invalid.
[[nodiscard]] nlohmann::json load_preset(std::string_view name_or_path);

/// Names of the presets found in preset_search_path() (sorted, each listed once).
[[nodiscard]] std::vector<std::string> preset_names();

/// Applies a preset's keys onto cfg. Keys are the settings table's keys (settings.hpp), which
/// are the RunConfig field names; lists may be JSON arrays or comma strings ("all" where the
/// flag accepts it); sizes may be numbers or size strings ("1M"); duration_s and
/// cell_timeout_s may be numbers or duration strings ("500ms"). "description" is ignored.
/// Throws UsageError for an unknown key or a value of the wrong type or text; cfg may be
/// partly updated then. Range checks are validate()'s job.
void apply_preset(RunConfig& cfg, const nlohmann::json& preset);

}  // namespace ipcmatrix
