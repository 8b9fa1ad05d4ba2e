#include "cli.hpp"

#include <optional>
#include <string_view>

#include <CLI/CLI.hpp>

#include "ipcmatrix/runner/presets.hpp"
#include "ipcmatrix/runner/settings.hpp"
#include "ipcmatrix/util/text.hpp"

namespace ipcmatrix {

void add_run_options(CLI::App& app, CliState& st) {
  const RunConfig defaults;
  const auto& settings = run_settings();
  // Sized once: CLI11 binds references to these.
  st.texts_.assign(settings.size(), std::string());
  st.switches_.assign(settings.size(), false);
  st.options_.assign(settings.size(), nullptr);

  const auto presets = preset_names();
  std::string preset_help = "apply a preset (bench/presets/NAME.json, or a path) first; explicit flags override it";
  if (!presets.empty()) preset_help += " (available: " + join(presets, ", ") + ")";
  st.preset_option_ = app.add_option("--preset", st.preset_, preset_help)
                          ->type_name("NAME|PATH")
                          ->multi_option_policy(CLI::MultiOptionPolicy::Throw);

  for (std::size_t i = 0; i < settings.size(); ++i) {
    const Setting& s = settings[i];
    const std::string names(s.flags);
    if (s.kind == SettingKind::toggle) {
      st.options_[i] = app.add_flag(names, st.switches_[i], std::string(s.help));
      continue;
    }
    // Text, not typed options: the table's parsers give messages that name the value and flag.
    st.options_[i] = app.add_option(names, st.texts_[i], std::string(s.help))
                         ->type_name(std::string(s.type_name))
                         ->default_str(s.show(defaults))
                         ->multi_option_policy(CLI::MultiOptionPolicy::Throw);
  }
}

RunConfig finish_run_config(const CliState& st) {
  const auto& settings = run_settings();
  std::optional<std::string> preset;
  std::vector<GivenSetting> given;
  // A state that never went through add_run_options has no flags given.
  if (st.options_.size() == settings.size()) {
    if (st.preset_option_->count() > 0) preset = st.preset_;
    for (std::size_t i = 0; i < settings.size(); ++i) {
      if (st.options_[i]->count() == 0) continue;
      const bool toggle = settings[i].kind == SettingKind::toggle;
      given.push_back({&settings[i], toggle ? (st.switches_[i] ? "true" : "false") : st.texts_[i]});
    }
  }
  return build_run_config(preset, given);
}

}  // namespace ipcmatrix
