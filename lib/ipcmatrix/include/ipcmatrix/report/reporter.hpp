#pragma once
/// @file reporter.hpp
/// Reporters chosen by name, as google/benchmark picks console/json/csv: each writes one
/// form of a RunResult into an output directory. `run --out` and `report` both go through
/// this table instead of a fixed sequence of writers.
///
/// Adding a reporter: a write function over RunResult (in its own file when it is more than
/// a call to an existing writer), plus one row in src/report/reporters.cpp.

#include <string>
#include <string_view>
#include <vector>

#include "ipcmatrix/model/results.hpp"

namespace ipcmatrix {

struct ReporterSpec {
  std::string_view name;         ///< "json", "csv", "hgrm", "markdown"
  std::string_view description;  ///< what it writes, for `list`
  /// Writes r into the existing directory dir. Throws std::runtime_error naming the path.
  void (*write)(const RunResult& r, const std::string& dir);
  /// Renders the results into another form: `report` reruns every such reporter from a
  /// results file. false only for the results file itself, which `report` reads and never
  /// replaces.
  bool renders = true;
};

/// Every reporter, in the order `run --out` writes them (json, csv, hgrm, markdown).
[[nodiscard]] const std::vector<const ReporterSpec*>& all_reporters();
/// Their names, in the same order.
[[nodiscard]] std::vector<std::string> reporter_names();
/// The names of the reporters that render (ReporterSpec::renders), in table order: what
/// `report` writes.
[[nodiscard]] std::vector<std::string> rendering_reporter_names();
/// By name; throws std::invalid_argument naming the valid choices.
[[nodiscard]] const ReporterSpec& find_reporter(std::string_view name);

/// Creates dir (and parents), then runs each named reporter into it, in the order given.
/// Throws std::runtime_error naming the directory or file on any failure, and
/// std::invalid_argument for an unknown name (before anything is written).
void write_reports(const RunResult& r, const std::string& dir, const std::vector<std::string>& names);

}  // namespace ipcmatrix
