#pragma once
/// @file cli.hpp
/// The `run` command's flags: CLI11 wiring from argv to a validated RunConfig. Every flag
/// comes from the settings table (ipcmatrix/runner/settings.hpp); this file only binds them.
///
/// Usage (in main):
///   CliState st;
///   add_run_options(app, st);
///   app.parse(argc, argv);                   // syntax errors: CLI11's own exceptions
///   RunConfig cfg = finish_run_config(st);   // UsageError -> print what(), exit 2
///
/// Flags are kept as text during parsing and converted afterwards by the table's parsers,
/// so an error names the flag and the exact bad value.

#include <deque>
#include <string>
#include <vector>

#include "ipcmatrix/runner/config.hpp"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace ipcmatrix {

/// What CLI11 parses into: the raw text (or switch) of each setting and its CLI11 handle
/// (whose count() tells whether the user gave it). CLI11 keeps references into this object,
/// so it must outlive parsing and never move: create it before add_run_options().
class CliState {
 public:
  CliState() = default;
  CliState(const CliState&) = delete;
  CliState& operator=(const CliState&) = delete;

 private:
  friend void add_run_options(CLI::App& app, CliState& st);
  friend RunConfig finish_run_config(const CliState& st);
  std::string preset_;
  CLI::Option* preset_option_ = nullptr;
  std::deque<std::string> texts_;   // one per row of run_settings(); deque: stable references
  std::deque<bool> switches_;       // same, for toggles
  std::vector<CLI::Option*> options_;
};

/// Adds --preset and one flag per row of run_settings() to `app`, with help text showing
/// each default. Call once per CliState. --version and --help belong to the caller / CLI11.
void add_run_options(CLI::App& app, CliState& st);

/// After CLI11 has parsed: build_run_config() with the preset and the flags the user gave,
/// in table order. Throws UsageError naming the flag and value for any bad input.
[[nodiscard]] RunConfig finish_run_config(const CliState& st);

}  // namespace ipcmatrix
