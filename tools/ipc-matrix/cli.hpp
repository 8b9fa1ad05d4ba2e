#pragma once
/// @file cli.hpp
/// The `run` command's flags: CLI11 wiring from argv to a validated RunConfig.
///
/// Usage (in main):
///   CliState st;
///   auto* run = app.add_subcommand("run", "...");
///   add_run_options(*run, st);
///   CLI11_PARSE(app, argc, argv);            // syntax errors: CLI11's own exit code
///   RunConfig cfg = finish_run_config(st);   // UsageError -> print what(), exit 2
///
/// Flags are kept as text during parsing and converted afterwards by the parsers in
/// runner/config.hpp, so an error names the flag and the exact bad value. The preset (if any)
/// is applied first, then only the flags the user actually gave, then validate().

#include <string>
#include <vector>

#include "ipcmatrix/runner/config.hpp"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace ipcmatrix {

/// What CLI11 parses into: the raw text of each `run` flag and its CLI11 handle (whose count()
/// tells whether the user gave it). CLI11 keeps references into this object, so it must
/// outlive parsing and never move: create it before add_run_options() and keep it in place.
class CliState {
 public:
  CliState() = default;
  CliState(const CliState&) = delete;
  CliState& operator=(const CliState&) = delete;

 private:
  friend void add_run_options(CLI::App& app, CliState& st);
  friend RunConfig finish_run_config(const CliState& st);
  std::vector<std::string> texts_;       // one per entry of the flag table in cli.cpp
  std::vector<CLI::Option*> options_;    // same order
  bool quiet_ = false;
  CLI::Option* quiet_option_ = nullptr;
};

/// Adds every `run` flag (--sizes, --patterns, --mechanisms, --serializers, --procs,
/// --duration, --messages, --warmup, --repetitions, --rate, --wait, --placement, --batch,
/// --content, --preset, --out, --json, --quiet, --zstd-level, --ring-bytes, --pipe-bytes,
/// --cell-timeout, --seed) to `app`, with help text showing each default. Call once per
/// CliState. --version and --help belong to the caller / CLI11.
void add_run_options(CLI::App& app, CliState& st);

/// After CLI11 has parsed: defaults, then the preset (--preset), then each flag the user gave,
/// then validate(). Sets RunConfig::preset to the --preset text. Throws UsageError naming the
/// flag and value for any bad input.
[[nodiscard]] RunConfig finish_run_config(const CliState& st);

}  // namespace ipcmatrix
