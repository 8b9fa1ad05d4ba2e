// Export (report/export.hpp): a results file in Bencher Metric Format and in
// github-action-benchmark's custom JSON, each checked against the shape its tool reads.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>

#include "ipcmatrix/model/results.hpp"
#include "ipcmatrix/report/export.hpp"

using namespace ipcmatrix;
namespace fs = std::filesystem;

namespace {

std::string fixture(const char* name) {
  return (fs::path(__FILE__).parent_path().parent_path() / "fixtures" / name).string();
}

bool is_positive_number(const nlohmann::json& v) { return v.is_number() && v.get<double>() > 0; }

}  // namespace

TEST_SUITE("report") {
  TEST_CASE("export: Bencher Metric Format, one benchmark per ok cell named by its id, bounds from the repetitions") {
    const RunResult r = load_results(fixture("results_small.json"));
    const nlohmann::json bmf = export_results(r, ExportFormat::bmf);
    REQUIRE(bmf.is_object());
    std::size_t ok = 0;
    for (const CellResult& c : r.cells) ok += c.ok() ? 1 : 0;
    CHECK(bmf.size() == ok);  // the failed cell is left out
    for (const CellResult& c : r.cells) {
      if (!c.ok()) continue;
      CAPTURE(cell_id(c));
      REQUIRE(bmf.contains(cell_id(c)));
      const nlohmann::json& b = bmf.at(cell_id(c));
      // The shape Bencher reads: measure slug -> {value, optional lower_value, upper_value}.
      for (const auto& [slug, m] : b.items()) {
        CAPTURE(slug);
        REQUIRE(m.is_object());
        CHECK(is_positive_number(m.at("value")));
        for (const auto& [k, v] : m.items()) CHECK((k == "value" || k == "lower_value" || k == "upper_value"));
        if (m.contains("lower_value")) CHECK(m.at("lower_value").get<double>() <= m.at("value").get<double>());
        if (m.contains("upper_value")) CHECK(m.at("upper_value").get<double>() >= m.at("value").get<double>());
      }
      CHECK(b.contains("throughput"));
      // Round trips measure latency; their p50 is the value.
      REQUIRE(b.contains("latency"));
      CHECK(b.at("latency").at("value").get<double>() == doctest::Approx(static_cast<double>(*c.latency_ns.p50)));
      CHECK(b.at("latency").contains("lower_value") == (c.repetitions > 1));
    }
  }

  TEST_CASE("export: github-action-benchmark, one file per direction, each entry {name, unit, value}") {
    const RunResult r = load_results(fixture("results_small.json"));
    const nlohmann::json smaller = export_results(r, ExportFormat::gab_smaller);
    const nlohmann::json bigger = export_results(r, ExportFormat::gab_bigger);
    REQUIRE(smaller.is_array());
    REQUIRE(bigger.is_array());
    CHECK_FALSE(smaller.empty());
    CHECK_FALSE(bigger.empty());
    for (const auto* list : {&smaller, &bigger}) {
      for (const auto& e : *list) {
        CHECK(e.at("name").is_string());
        CHECK(e.at("unit").is_string());
        CHECK(is_positive_number(e.at("value")));
        for (const auto& [k, v] : e.items())
          CHECK((k == "name" || k == "unit" || k == "value" || k == "range" || k == "extra"));
        // The action charts by name: the same cell and figure must be spelled the same each run.
        CHECK(e.at("unit") == (list == &bigger ? "msgs/s" : "ns"));
      }
    }
    // A name appears once per file.
    std::set<std::string> names;
    for (const auto& e : smaller) CHECK(names.insert(e.at("name").get<std::string>()).second);
  }
}
