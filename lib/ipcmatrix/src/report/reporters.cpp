// The explicit table of reporters (see reporter.hpp).
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "ipcmatrix/report/charts.hpp"
#include "ipcmatrix/report/markdown.hpp"
#include "ipcmatrix/report/reporter.hpp"
#include "ipcmatrix/report/writers.hpp"
#include "ipcmatrix/util/output_file.hpp"
#include "ipcmatrix/util/text.hpp"

namespace ipcmatrix {

namespace {

namespace fs = std::filesystem;

void write_text(const fs::path& path, const std::string& text) { write_output_file(path.string(), text); }

void write_json(const RunResult& r, const std::string& dir) { save_results(r, (fs::path(dir) / "results.json").string()); }

void write_csv_file(const RunResult& r, const std::string& dir) {
  std::ostringstream csv;
  write_csv(csv, r);
  write_text(fs::path(dir) / "results.csv", csv.str());
}

void write_markdown(const RunResult& r, const std::string& dir) {
  write_text(fs::path(dir) / "PERFORMANCE_REPORT.md", markdown_report(r));
}

const ReporterSpec kJsonReporter{"json", "results.json: the full results, the contract every tool reads", write_json,
                                 false};
const ReporterSpec kCsvReporter{"csv", "results.csv: one row per cell, for spreadsheets and scripts", write_csv_file};
const ReporterSpec kHgrmReporter{"hgrm", "<cell_id>.hgrm: each ok cell's latency histogram (HdrHistogram format)",
                                 write_hgrm_files};
const ReporterSpec kChartsReporter{"charts",
                                   "charts/*.svg: latency and throughput against size, percentile spectrum, latency "
                                   "against load, CPU per message (gnuplot; skipped without it)",
                                   write_charts};
const ReporterSpec kMarkdownReporter{"markdown", "PERFORMANCE_REPORT.md: recommendations, tables and method",
                                     write_markdown};

}  // namespace

const std::vector<const ReporterSpec*>& all_reporters() {
  static const std::vector<const ReporterSpec*> kAll{&kJsonReporter, &kCsvReporter, &kHgrmReporter, &kChartsReporter,
                                                     &kMarkdownReporter};
  return kAll;
}

std::vector<std::string> reporter_names() {
  std::vector<std::string> names;
  for (const auto* r : all_reporters()) names.emplace_back(r->name);
  return names;
}

std::vector<std::string> rendering_reporter_names() {
  std::vector<std::string> names;
  for (const auto* r : all_reporters())
    if (r->renders) names.emplace_back(r->name);
  return names;
}

const ReporterSpec& find_reporter(std::string_view name) {
  for (const auto* r : all_reporters())
    if (r->name == name) return *r;
  throw std::invalid_argument("unknown reporter '" + std::string(name) + "' (valid: " + join(reporter_names()) + ")");
}

void write_reports(const RunResult& r, const std::string& dir, const std::vector<std::string>& names) {
  std::vector<const ReporterSpec*> chosen;
  for (const auto& n : names) chosen.push_back(&find_reporter(n));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create directory '" + dir + "': " + ec.message());
  for (const auto* reporter : chosen) reporter->write(r, dir);
}

}  // namespace ipcmatrix
