#pragma once
/// @file settings.hpp
/// The one table of `run` settings. Each row says where a setting lives in RunConfig and
/// how it is spelled everywhere else; the CLI flags (tools/ipc-matrix/cli.cpp), the preset
/// keys (apply_preset), the results' config block (RunConfig::to_json) and the range checks
/// (validate) are all derived from it.
///
/// Adding a setting: a RunConfig field, then one row in src/runner/settings.cpp. The
/// settings test walks the table and checks that every row reaches the CLI, presets and JSON.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipcmatrix/runner/config.hpp"

namespace ipcmatrix {

/// --latency-sample 0: closed-loop throughput cells timestamp one message in this many, which
/// keeps the two clock reads and the histogram record per stamped message well under 1 ns a
/// message (a clock read costs ~20 ns here).
inline constexpr std::uint64_t kAutoLatencySample = 64;

/// How a value is written on the command line and in a preset file.
enum class SettingKind : std::uint8_t {
  list,    ///< comma list; a preset gives a JSON array or a comma string
  scalar,  ///< one value; a preset gives a string or a number
  text,    ///< free text (a path, a mode); a preset gives a string
  toggle,  ///< a flag without value; a preset gives true or false
};

/// One row of the table. The functions run at start-up only, never in a timed path.
struct Setting {
  std::string_view key;        ///< RunConfig field, preset key and results config key
  std::string_view flags;      ///< CLI11 names, the primary one first: "--wait,--waits"
  std::string_view type_name;  ///< shown in --help: "LIST", "N", "TIME"
  std::string_view help;
  SettingKind kind = SettingKind::scalar;
  /// Sets the field from flag text (a toggle gets "true" or "false"). `where` names the
  /// flag or preset key in errors. Throws UsageError.
  std::function<void(RunConfig&, std::string_view text, std::string_view where)> parse;
  /// The field as it appears in results.json's config block.
  std::function<nlohmann::json(const RunConfig&)> to_json;
  /// The field as --help shows its default ("" shows none).
  std::function<std::string(const RunConfig&)> show;
  /// Range and name checks of the field alone, naming the primary flag; may be empty.
  /// Rules between fields are validate()'s.
  std::function<void(const RunConfig&, std::string_view flag)> check;

  /// The first of `flags`: the name errors use ("--wait").
  [[nodiscard]] std::string_view primary_flag() const noexcept;
};

/// Every setting, in --help order.
[[nodiscard]] const std::vector<Setting>& run_settings();
/// By preset/JSON key; nullptr when there is none.
[[nodiscard]] const Setting* find_setting(std::string_view key) noexcept;

/// A setting the user gave on the command line, with its text.
struct GivenSetting {
  const Setting* setting = nullptr;
  std::string text;
};

/// The effective configuration: defaults, then the preset (when `preset` is set; it is
/// recorded in RunConfig::preset), then each given setting in order, then the count-or-time
/// rule, then validate(). The rule: the default measures each cell for a time window
/// (duration_s, at least min_messages per producer) with no count; a preset or flags that
/// name only `messages` mean no time cap (duration_s = 0), both mean whichever comes first,
/// and only `duration_s` keeps the default's no count (messages = 0).
/// Throws UsageError naming the flag, key or file.
[[nodiscard]] RunConfig build_run_config(const std::optional<std::string>& preset,
                                         const std::vector<GivenSetting>& given);

}  // namespace ipcmatrix
