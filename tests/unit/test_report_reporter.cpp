// Reporters chosen by name: every registered reporter writes its file from a fixed results
// file; unknown names are refused before anything is written.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>

#include "ipcmatrix/report/reporter.hpp"
#include "ipcmatrix/model/results.hpp"
#include "ipcmatrix/sys/posix.hpp"

using namespace ipcmatrix;
namespace fs = std::filesystem;

namespace {

std::string fixture(const char* name) {
  return (fs::path(__FILE__).parent_path().parent_path() / "fixtures" / name).string();
}

struct ScratchDir {
  fs::path path = fs::temp_directory_path() / ("ipcmatrix-reporter-test-" + sys::random_id());
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.insert(e.path().filename().string());
  return out;
}

}  // namespace

TEST_SUITE("report") {
  TEST_CASE("reporters: every registered reporter writes something of its own") {
    const RunResult r = load_results(fixture("results_small.json"));
    std::set<std::string> seen;
    for (const ReporterSpec* spec : all_reporters()) {
      CAPTURE(spec->name);
      CHECK(&find_reporter(spec->name) == spec);
      CHECK(!spec->description.empty());
      ScratchDir dir;
      write_reports(r, dir.path.string(), {std::string(spec->name)});
      const auto files = files_in(dir.path);
      CHECK(!files.empty());
      for (const auto& f : files) CHECK_MESSAGE(seen.insert(f).second, f << " written by two reporters");
    }
    CHECK(seen.count("results.json") == 1);
    CHECK(seen.count("results.csv") == 1);
    CHECK(seen.count("PERFORMANCE_REPORT.md") == 1);
  }

  TEST_CASE("reporters: the JSON reporter's file loads back to the same results") {
    const RunResult r = load_results(fixture("results_small.json"));
    ScratchDir dir;
    write_reports(r, dir.path.string(), {"json"});
    CHECK(to_json(load_results((dir.path / "results.json").string())) == to_json(r));
  }

  TEST_CASE("reporters: an unknown name is refused before anything is written") {
    const RunResult r = load_results(fixture("results_small.json"));
    ScratchDir dir;
    CHECK_THROWS_WITH_AS(write_reports(r, dir.path.string(), {"csv", "pdf"}), doctest::Contains("markdown"),
                         std::invalid_argument);
    CHECK_FALSE(fs::exists(dir.path));
  }
}
