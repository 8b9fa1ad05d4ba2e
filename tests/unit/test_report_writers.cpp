#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "ipcmatrix/report/markdown.hpp"
#include "ipcmatrix/model/results.hpp"
#include "ipcmatrix/report/writers.hpp"

using ipcmatrix::CellResult;
using ipcmatrix::CellStatus;
using ipcmatrix::ContentMode;
using ipcmatrix::Placement;
using ipcmatrix::Wait;
using ipcmatrix::RunResult;

namespace {

std::string fixture(const char* name) {
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "fixtures" / name).string();
}

RunResult small() { return ipcmatrix::load_results(fixture("results_small.json")); }

// Minimal RFC 4180 reader, enough to check what write_csv produced: records of fields,
// quoted fields may hold commas, doubled quotes and newlines.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1, std::vector<std::string>(1));
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        rows.back().back() += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        rows.back().back() += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      rows.back().emplace_back();
    } else if (ch == '\n') {
      rows.emplace_back(1);
    } else {
      rows.back().back() += ch;
    }
  }
  if (rows.back().size() == 1 && rows.back()[0].empty()) rows.pop_back();
  return rows;
}

std::filesystem::path temp_dir(const char* tag) {
  return std::filesystem::temp_directory_path() /
         (std::string("ipcmatrix-report-test-") + tag + "-" + std::to_string(::getpid()));
}

}  // namespace

TEST_SUITE("report") {
  TEST_CASE("csv: header plus one row per cell, constant column count") {
    const RunResult r = small();
    std::ostringstream out;
    ipcmatrix::write_csv(out, r);
    const auto rows = parse_csv(out.str());
    REQUIRE(rows.size() == 1 + r.cells.size());
    CHECK(rows[0][0] == "cell_id");
    for (const auto& row : rows) CHECK(row.size() == rows[0].size());
    const auto col = [&](const std::string& name) {
      for (std::size_t i = 0; i < rows[0].size(); ++i) {
        if (rows[0][i] == name) return i;
      }
      FAIL("no column " << name);
      return std::size_t{0};
    };
    CHECK(rows[1][col("mechanism")] == "shm");
    CHECK(rows[1][col("p50_ns")] == "851");
    CHECK(rows[2][col("p99_9_ns")].empty());          // unresolved with 500 samples
    CHECK(rows[2][col("idle_cpu_percent")].empty());  // -1: not measured
    CHECK(rows[1][col("noisy")] == "true");
    // The fixture's error message holds a comma and quotes; it must come back intact.
    CHECK(rows[3][col("error")] == r.cells[2].error);
    CHECK(rows[3][col("status")] == "error");
  }

  TEST_CASE("csv: fields with comma, quote or newline are quoted and quotes doubled") {
    RunResult r = small();
    r.cells.resize(1);
    r.cells[0].status = CellStatus::error;
    r.cells[0].error = "a,b \"c\"\nd";
    std::ostringstream out;
    ipcmatrix::write_csv(out, r);
    CHECK(out.str().find("\"a,b \"\"c\"\"\nd\"") != std::string::npos);
    const auto rows = parse_csv(out.str());
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].size() == rows[0].size());
  }

  TEST_CASE("table: every cell's mechanism appears and the failed cell shows ERROR") {
    const RunResult r = small();
    std::ostringstream out;
    ipcmatrix::print_table(out, r);
    const std::string s = out.str();
    for (const CellResult& c : r.cells) CHECK(s.find(c.mechanism) != std::string::npos);
    CHECK(s.find("ERROR: tcp connect") != std::string::npos);
    CHECK(s.find("851 ns") != std::string::npos);
    // 1 header + 3 rows.
    CHECK(std::count(s.begin(), s.end(), '\n') == 4);
  }

  TEST_CASE("table: long error messages are cut to 60 characters on one line") {
    RunResult r = small();
    r.cells[2].error = std::string(100, 'x') + "\nsecond line";
    std::ostringstream out;
    ipcmatrix::print_table(out, r);
    const std::string s = out.str();
    CHECK(s.find("ERROR: " + std::string(60, 'x') + "...") != std::string::npos);
    CHECK(s.find(std::string(61, 'x')) == std::string::npos);
    CHECK(s.find("second line") == std::string::npos);
  }

  TEST_CASE("hgrm: one file per ok cell with samples, in a created directory") {
    const RunResult r = small();
    const auto dir = temp_dir("hgrm") / "nested";
    ipcmatrix::write_hgrm_files(r, dir.string());
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    REQUIRE(names.size() == 2);
    CHECK(names[0] == ipcmatrix::cell_id(r.cells[0]) + ".hgrm");
    CHECK(names[1] == ipcmatrix::cell_id(r.cells[1]) + ".hgrm");
    std::ifstream in(dir / names[0]);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text == r.cells[0].histogram.to_hgrm(1000.0));
    CHECK(text.find("Percentile") != std::string::npos);
    std::filesystem::remove_all(temp_dir("hgrm"));
    CHECK_FALSE(std::filesystem::exists(temp_dir("hgrm")));
  }

  TEST_CASE("markdown: environment, recommendations, tables, failures, deterministic") {
    RunResult r = small();
    // A second ok pattern, so that more than one results table is produced.
    CellResult extra = r.cells[1];
    extra.pattern = "stream";
    extra.rate = 5000;
    extra.latency_uncorrected_ns = extra.latency_ns;
    r.cells.push_back(extra);
    const std::string md = ipcmatrix::markdown_report(r);
    CHECK(md == ipcmatrix::markdown_report(r));
    CHECK(md.find("# IPC performance report") != std::string::npos);
    CHECK(md.find("0.1.0") != std::string::npos);
    CHECK(md.find("## Environment") != std::string::npos);
    CHECK(md.find("| CPU model | Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz |") !=
          std::string::npos);
    CHECK(md.find("| Kernel | Linux 6.1.0-18-cloud-amd64 |") != std::string::npos);
    CHECK(md.find("| /dev/shm size | 3.8GiB |") != std::string::npos);
    CHECK(md.find("L1d: 48KiB") != std::string::npos);
    // Keys without a label go under "Other recorded facts".
    CHECK(md.find("| libraries.fmt | 9.1.0 |") != std::string::npos);
    CHECK(md.find("GPU") == std::string::npos);  // null: no GPU, so no row
    // Warnings come before the results.
    const auto warn = md.find("Warnings");
    REQUIRE(warn != std::string::npos);
    CHECK(warn < md.find("## Results"));
    CHECK(md.find("2 spinning participants on 2 cores") != std::string::npos);
    CHECK(md.find("CPU frequency governor could not be read") != std::string::npos);
    // shm p50 851 ns vs unix p50 11135 ns: 13.1x.
    CHECK(md.find("lowest p50 latency (round trip): **shm/raw**") != std::string::npos);
    CHECK(md.find("13.1x lower than the next, unix/raw") != std::string::npos);
    CHECK(md.find("highest throughput: **shm/raw**") != std::string::npos);
    CHECK(md.find("### pingpong (latency: round trip)") != std::string::npos);
    CHECK(md.find("### stream (latency: one-way)") != std::string::npos);
    CHECK(md.find("p99 uncorrected") != std::string::npos);
    CHECK(md.find("## Failed cells") != std::string::npos);
    CHECK(md.find("tcp connect to 127.0.0.1:40123 failed: Connection refused") !=
          std::string::npos);
    CHECK(md.find("ipc-matrix run --patterns pingpong,stream") != std::string::npos);
    CHECK(md.find("±6%") != std::string::npos);  // p50 spread of the repeated cell
    CHECK(md.find("—") != std::string::npos);    // unresolved p99.9 of the 500-sample cell
  }

  TEST_CASE("markdown: a run where every cell failed says so instead of recommending") {
    RunResult r = small();
    r.cells.erase(r.cells.begin(), r.cells.begin() + 2);
    r.environment = nlohmann::json::object();
    const std::string md = ipcmatrix::markdown_report(r);
    CHECK(md.find("nothing to recommend") != std::string::npos);
    CHECK(md.find("No environment was recorded") != std::string::npos);
    CHECK(md.find("## Failed cells") != std::string::npos);
  }

}  // TEST_SUITE
