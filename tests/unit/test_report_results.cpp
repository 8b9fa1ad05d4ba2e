#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ipcmatrix/model/results.hpp"

using ipcmatrix::CellResult;
using ipcmatrix::CellStatus;
using ipcmatrix::ContentMode;
using ipcmatrix::Placement;
using ipcmatrix::Wait;
using ipcmatrix::FigureSpread;
using ipcmatrix::Histogram;
using ipcmatrix::RunResult;

namespace {

// From __FILE__, so the test passes whatever directory ctest runs it in.
std::string fixture(const char* name) {
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "fixtures" / name).string();
}

nlohmann::json fixture_json() {
  std::ifstream in(fixture("results_small.json"));
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

// Every member set to a non-default value, so a field dropped by either direction shows.
RunResult full_run() {
  RunResult r;
  r.tool_version = "9.8.7";
  r.started_at = "2024-01-02T03:04:05Z";
  r.elapsed_s = 42.25;
  r.environment = {{"cpu", {{"model", "Test CPU"}, {"cores", 4}}}, {"kernel", "6.1"}};
  r.config = {{"command_line", "ipc-matrix run --preset quick"}, {"repetitions", 3}};
  r.warnings = {"run-wide warning"};
  CellResult c;
  c.pattern = "pipeline";
  c.mechanism = "shm";
  c.serializer = "zstd+json";
  c.wait = Wait::spin;
  c.placement = Placement::same_core;
  c.content = ContentMode::records;
  c.size_bytes = 4096;
  c.procs = 3;
  c.batch = 16;
  c.rate = 12500.5;
  c.warnings = {"cell warning"};
  c.messages_sent = 12345;
  c.messages_received = 12340;
  for (std::uint64_t v = 100; v < 3100; ++v) c.histogram.record(v * 7);
  c.latency_ns = ipcmatrix::summarize(c.histogram);
  Histogram small;
  for (std::uint64_t v = 1; v <= 50; ++v) small.record(v * 1000);
  c.latency_uncorrected_ns = ipcmatrix::summarize(small);
  c.hop_latency_ns = ipcmatrix::summarize(small);
  c.throughput = {1.5e6, 6.1e9, 7.2e9};
  c.cpu = {1.25, 0.5, 812.5};
  c.wire_bytes_per_msg = 4123.5;
  c.encode_ns_per_msg = 55.5;
  c.decode_ns_per_msg = 66.25;
  c.idle_cpu_percent = 12.5;
  c.duration_s = 2.5;
  c.processes = {{"producer", 0, 1, 0.5, 0.25, 10, 20, 4096, 12345, 0},
                 {"consumer", 1, -1, 0.75, 0.25, 30, 40, 8192, 0, 12340}};
  c.repetitions = 5;
  c.p50_spread = FigureSpread{100, 90, 110, 0.2, 5, {100, 90, 110, 95, 105}};
  c.p99_spread = FigureSpread{200, 190, 230, 0.2, 5, {}};
  c.throughput_spread = FigureSpread{1.5e6, 1.4e6, 1.6e6, 0.13, 5, {}};
  c.noisy = true;
  r.cells.push_back(c);
  CellResult e;
  e.pattern = "stream";
  e.mechanism = "pipe";
  e.serializer = "raw";
  e.wait = Wait::block;
  e.placement = Placement::unpinned;
  e.size_bytes = 64;
  e.procs = 2;
  e.status = CellStatus::error;
  e.error = "pipe: EPIPE, \"consumer\" died";
  r.cells.push_back(e);
  return r;
}

std::string rejection(const nlohmann::json& j) {
  try {
    (void)ipcmatrix::run_result_from_json(j);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_SUITE("report") {
  TEST_CASE("results: JSON round trip keeps every field, optionals and histogram included") {
    const RunResult r = full_run();
    const nlohmann::json j = ipcmatrix::to_json(r);
    const RunResult back = ipcmatrix::run_result_from_json(j);
    CHECK(ipcmatrix::to_json(back) == j);
    // Also through text, where nlohmann turns signed integers into unsigned ones.
    const RunResult via_text = ipcmatrix::run_result_from_json(nlohmann::json::parse(j.dump()));
    CHECK(ipcmatrix::to_json(via_text) == j);
    REQUIRE(back.cells.size() == 2);
    CHECK(back.cells[0].histogram == r.cells[0].histogram);
    CHECK(back.cells[0].hop_latency_ns.has_value());
    CHECK(back.cells[0].p99_spread->max == 230);
    CHECK(back.cells[0].p50_spread->values == std::vector<double>{100, 90, 110, 95, 105});
    CHECK(back.cells[0].processes[1].cpu == -1);
    CHECK(back.cells[1].error == r.cells[1].error);
    CHECK_FALSE(back.cells[1].p50_spread.has_value());
  }

  TEST_CASE("results: absent optional objects are omitted, and null is read as absent") {
    RunResult r = full_run();
    nlohmann::json j = ipcmatrix::to_json(r);
    CHECK_FALSE(j["cells"][1].contains("latency_uncorrected_ns"));
    CHECK_FALSE(j["cells"][1].contains("p50_spread"));
    j["cells"][0]["hop_latency_ns"] = nullptr;
    j["cells"][0]["p50_spread"] = nullptr;
    const RunResult back = ipcmatrix::run_result_from_json(j);
    CHECK_FALSE(back.cells[0].hop_latency_ns.has_value());
    CHECK_FALSE(back.cells[0].p50_spread.has_value());
  }

  TEST_CASE("results: the golden fixture loads") {
    const RunResult r = ipcmatrix::load_results(fixture("results_small.json"));
    CHECK(r.schema_version == 1);
    CHECK(r.tool_version == "0.1.0");
    REQUIRE(r.cells.size() == 3);
    CHECK(r.cells[0].mechanism == "shm");
    CHECK(r.cells[0].latency_ns.p50 == 851u);
    CHECK(r.cells[0].latency_ns.p99_9 == 20735u);
    CHECK_FALSE(r.cells[0].latency_ns.p99_99.has_value());
    CHECK(r.cells[0].histogram.count() == 2000);
    CHECK(r.cells[0].p50_spread.has_value());
    CHECK_FALSE(r.cells[1].latency_ns.p99_9.has_value());
    CHECK(r.cells[2].status == CellStatus::error);
    CHECK(r.cells[2].rate == 10000);
    // The stored summaries must be what the stored histograms say.
    for (const CellResult& c : r.cells) {
      CHECK(ipcmatrix::to_json(ipcmatrix::summarize(c.histogram)) ==
            ipcmatrix::to_json(c.latency_ns));
    }
  }

  TEST_CASE("results: a newer schema_version is rejected") {
    nlohmann::json j = fixture_json();
    j["schema_version"] = 99;
    const std::string msg = rejection(j);
    CHECK(msg.find("schema_version") != std::string::npos);
    CHECK(msg.find("99") != std::string::npos);
    j["schema_version"] = 0;
    CHECK(rejection(j).find("schema_version") != std::string::npos);
    j.erase("schema_version");
    CHECK(rejection(j).find("schema_version") != std::string::npos);
  }

  TEST_CASE("results: a cell without pattern is rejected naming the field") {
    nlohmann::json j = fixture_json();
    j["cells"][1].erase("pattern");
    const std::string msg = rejection(j);
    CHECK(msg.find("cells[1].pattern") != std::string::npos);
  }

  TEST_CASE("results: wrong types and bad nested fields are rejected with their path") {
    nlohmann::json j = fixture_json();
    j["cells"][0]["latency_ns"]["p99"] = -5;
    CHECK(rejection(j).find("cells[0].latency_ns.p99") != std::string::npos);
    j = fixture_json();
    j["cells"][0]["size_bytes"] = "64";
    CHECK(rejection(j).find("cells[0].size_bytes") != std::string::npos);
    j = fixture_json();
    j["cells"][2]["status"] = "maybe";
    CHECK(rejection(j).find("cells[2].status") != std::string::npos);
    j = fixture_json();
    j["cells"][0]["histogram"]["count"] = 1;
    CHECK(rejection(j).find("cells[0].histogram") != std::string::npos);
    j = fixture_json();
    j["cells"][0]["processes"][1]["role"] = 3;
    CHECK(rejection(j).find("cells[0].processes[1].role") != std::string::npos);
  }

  TEST_CASE("results: load_results names the path of a missing or malformed file") {
    const auto dir =
        std::filesystem::temp_directory_path() / ("ipcmatrix-report-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string missing = (dir / "missing.json").string();
    CHECK_THROWS_WITH_AS((void)ipcmatrix::load_results(missing), doctest::Contains(missing.c_str()),
                         std::runtime_error);
    const std::string bad = (dir / "bad.json").string();
    std::ofstream(bad) << "{ not json";
    CHECK_THROWS_WITH_AS((void)ipcmatrix::load_results(bad), doctest::Contains(bad.c_str()),
                         std::runtime_error);
    std::filesystem::remove_all(dir);
  }

  TEST_CASE("results: the file's text is built a cell at a time, byte for byte what dump(2) gives") {
    RunResult r = full_run();
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{5}}) {
      CAPTURE(n);
      RunResult run = r;
      run.cells.clear();
      for (std::size_t i = 0; i < n; ++i) run.cells.push_back(r.cells[i % r.cells.size()]);
      run.interrupted_by = n == 5 ? "SIGINT" : "";
      if (n > 0) run.cells[0].error = "line one\nline \"two\"\t\\";  // escaped in the text: no raw newline
      std::string text;
      std::size_t longest = 0, pieces = 0;
      const ipcmatrix::TextPieces next = ipcmatrix::results_text(run);
      for (std::string_view p = next(); !p.empty(); p = next()) {
        text += p;
        longest = std::max(longest, p.size());
        ++pieces;
      }
      CHECK(text == ipcmatrix::to_json(run).dump(2) + "\n");
      CHECK(pieces == n + 2);  // the opening, each cell, the rest of the header
      if (n > 0) CHECK(longest < 2 * ipcmatrix::to_json(run.cells[0]).dump(2).size() + 64);
    }
  }

  TEST_CASE("results: load_results checks the header before the cells it read first") {
    const auto dir =
        std::filesystem::temp_directory_path() / ("ipcmatrix-report-test-stream-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "results.json").string();
    nlohmann::json j = ipcmatrix::to_json(full_run());
    j["cells"][1]["pattern"] = 5;
    std::ofstream(path) << j.dump();
    CHECK_THROWS_WITH_AS((void)ipcmatrix::load_results(path), doctest::Contains("cells[1].pattern"), std::runtime_error);
    j["schema_version"] = 99;  // "cells" comes first in the file; the version is still the message
    std::ofstream(path) << j.dump();
    CHECK_THROWS_WITH_AS((void)ipcmatrix::load_results(path), doctest::Contains("schema_version: unsupported version 99"),
                         std::runtime_error);
    j = ipcmatrix::to_json(full_run());
    j["cells"] = nlohmann::json::object();
    std::ofstream(path) << j.dump();
    CHECK_THROWS_WITH_AS((void)ipcmatrix::load_results(path), doctest::Contains("cells: expected an array"),
                         std::runtime_error);
    j.erase("cells");
    std::ofstream(path) << j.dump();
    CHECK_THROWS_WITH_AS((void)ipcmatrix::load_results(path), doctest::Contains("cells"), std::runtime_error);
    // Memory is bounded by the cells (each keeps a whole histogram), so their number is
    // capped, before any is converted.
    {
      std::ofstream out(path);
      out << R"({"schema_version": 1, "cells": [0)";
      for (std::size_t i = 0; i < ipcmatrix::kMaxResultsCells; ++i) out << ",0";
      out << "]}";
    }
    CHECK_THROWS_WITH_AS((void)ipcmatrix::load_results(path), doctest::Contains("more than the 65536 cells"),
                         std::runtime_error);
    std::filesystem::remove_all(dir);
  }

  TEST_CASE("results: save_results then load_results gives the same JSON and leaves no temporary") {
    const auto dir =
        std::filesystem::temp_directory_path() / ("ipcmatrix-report-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "results.json").string();
    const RunResult r = full_run();
    ipcmatrix::save_results(r, path);
    ipcmatrix::save_results(r, path);  // replaces an existing file
    CHECK(ipcmatrix::to_json(ipcmatrix::load_results(path)) == ipcmatrix::to_json(r));
    int entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
    CHECK(entries == 1);
    std::filesystem::remove_all(dir);
  }

  TEST_CASE("results: unresolved percentiles serialize as null") {
    Histogram h;
    for (std::uint64_t v = 1; v <= 50; ++v) h.record(v);
    const nlohmann::json j = ipcmatrix::to_json(ipcmatrix::summarize(h));
    CHECK(j.at("p50").is_number());
    CHECK(j.at("p90").is_number());
    CHECK(j.at("p99").is_null());
    CHECK(j.at("p99_9").is_null());
    CHECK(j.at("p99_99").is_null());
  }

  TEST_CASE("results: summarize resolves p99.9 with 2000 samples but not with 500") {
    Histogram h;
    for (std::uint64_t v = 1; v <= 500; ++v) h.record(v * 100);
    auto s = ipcmatrix::summarize(h);
    CHECK(s.count == 500);
    CHECK(s.p99.has_value());
    CHECK_FALSE(s.p99_9.has_value());
    CHECK(s.min == 100);
    CHECK(s.max == 50000);
    for (std::uint64_t v = 501; v <= 2000; ++v) h.record(v * 100);
    s = ipcmatrix::summarize(h);
    REQUIRE(s.p99_9.has_value());
    CHECK(*s.p99_9 == h.value_at_percentile(99.9));
    CHECK_FALSE(s.p99_99.has_value());
    const auto empty = ipcmatrix::summarize(Histogram{});
    CHECK(empty.count == 0);
    CHECK_FALSE(empty.p50.has_value());
  }

  TEST_CASE("results: cell ids of the fixture are unique and filesystem-safe") {
    const RunResult r = ipcmatrix::load_results(fixture("results_small.json"));
    std::set<std::string> ids;
    for (const CellResult& c : r.cells) {
      const std::string id = ipcmatrix::cell_id(c);
      CHECK(id.find_first_not_of(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
            std::string::npos);
      CHECK(id.size() < 200);
      ids.insert(id);
    }
    CHECK(ids.size() == r.cells.size());
    CHECK(ipcmatrix::cell_id(r.cells[0]) == "pingpong_shm_raw_64B_p2_hybrid_cross-core_b1");
    CHECK(ipcmatrix::cell_id(r.cells[2]) ==
          "stream_tcp_json_4KiB_p2_block_same-core_b8_text_r10000");
  }

  TEST_CASE("results: cell_id replaces unsafe characters") {
    CellResult c;
    c.pattern = "fan/out";
    c.mechanism = "shm ring";
    c.serializer = "zstd:json";
    c.size_bytes = 1000;
    CHECK(ipcmatrix::cell_id(c) == "fan-out_shm-ring_zstd-json_1000B_p0_hybrid_unpinned_b1");
  }

}  // TEST_SUITE
