#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "ipcmatrix/pattern/pattern.hpp"
#include "ipcmatrix/runner/config.hpp"
#include "ipcmatrix/runner/presets.hpp"
#include "ipcmatrix/runner/placement.hpp"

namespace {

using ipcmatrix::RunConfig;
using ipcmatrix::UsageError;
using ipcmatrix::ContentMode;
using ipcmatrix::LoadPoint;
using ipcmatrix::Wait;
using ipcmatrix::parse_load_list;
using ipcmatrix::parse_percent;
using ipcmatrix::parse_rate;

std::filesystem::path presets_dir() {
#ifdef IPCMATRIX_SOURCE_DIR
  return std::filesystem::path(IPCMATRIX_SOURCE_DIR) / "bench" / "presets";
#else
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "bench" / "presets";
#endif
}

// Lookup by name must work whichever directory the test binary was built in or runs from.
void point_preset_search_at_sources() {
  ::setenv("IPCMATRIX_PRESETS", presets_dir().string().c_str(), /*overwrite=*/0);
}

// The message of the UsageError f() throws; fails the test when it throws nothing else.
template <class F>
std::string usage_error_of(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  FAIL("expected UsageError");
  return {};
}

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Parses argv (argv[0] included) through the real `run` flags, as main does.
RunConfig parse_run(const std::vector<std::string>& args) {
  CLI::App app("test");
  ipcmatrix::CliState st;
  ipcmatrix::add_run_options(app, st);
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return ipcmatrix::finish_run_config(st);
}

std::filesystem::path write_temp_preset(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_SUITE("runner config") {
  TEST_CASE("parse_size: plain numbers and binary suffixes in every spelling") {
    using ipcmatrix::parse_size;
    CHECK(parse_size("64") == 64);
    CHECK(parse_size("1") == 1);
    CHECK(parse_size("64B") == 64);
    CHECK(parse_size("4K") == 4096);
    CHECK(parse_size("4k") == 4096);
    CHECK(parse_size("4KiB") == 4096);
    CHECK(parse_size("64KiB") == 65536);
    CHECK(parse_size("1M") == 1048576);
    CHECK(parse_size("1MiB") == 1048576);
    CHECK(parse_size("16m") == 16777216);
    CHECK(parse_size("1G") == 1073741824);
    CHECK(parse_size("1GiB") == 1073741824);
    CHECK(parse_size(" 4K ") == 4096);
  }

  TEST_CASE("parse_size: KB, MB and GB are refused as ambiguous, naming the binary spelling") {
    for (const std::string bad : {"1MB", "4kb", "2GB"}) {
      CAPTURE(bad);
      const auto msg = usage_error_of([&] { (void)ipcmatrix::parse_size(bad, "--sizes"); });
      CHECK(has(msg, "'" + bad + "'"));
      CHECK(has(msg, "ambiguous"));
      CHECK(has(msg, "iB"));
    }
  }

  TEST_CASE("list values are deduplicated: one size or batch given twice is measured once") {
    CHECK(ipcmatrix::parse_size_list("64,64,1K,1024", "--sizes") == std::vector<std::uint64_t>{64, 1024});
    CHECK(ipcmatrix::parse_int_list("1,8,1", "--batch") == std::vector<int>{1, 8});
  }

  TEST_CASE("parse_size: rejects bad text with a message naming it and the flag") {
    for (const std::string bad : {"0", "-5", "abc", "", "99T", "1.5K", "2G", "18446744073709551616",
                                  "4K4", "K", "+4", "1025M"}) {
      CAPTURE(bad);
      const auto msg = usage_error_of([&] { (void)ipcmatrix::parse_size(bad, "--sizes"); });
      CHECK(has(msg, "'" + bad + "'"));
      CHECK(has(msg, "--sizes"));
    }
    CHECK(has(usage_error_of([] { (void)ipcmatrix::parse_size("99T"); }), "examples"));
  }

  TEST_CASE("parse_size_list: comma lists, empty items name the list") {
    CHECK(ipcmatrix::parse_size_list("64,4K, 1M") == std::vector<std::uint64_t>{64, 4096, 1048576});
    const auto msg = usage_error_of([] { (void)ipcmatrix::parse_size_list("64,,1M"); });
    CHECK(has(msg, "64,,1M"));
    CHECK_THROWS_AS((void)ipcmatrix::parse_size_list(""), UsageError);
    CHECK_THROWS_AS((void)ipcmatrix::parse_size_list("64,"), UsageError);
  }

  TEST_CASE("parse_buffer_size: 0 means the default, otherwise a size") {
    CHECK(ipcmatrix::parse_buffer_size("0", "--ring-bytes") == 0);
    CHECK(ipcmatrix::parse_buffer_size("64K", "--ring-bytes") == 65536);
    CHECK_THROWS_AS((void)ipcmatrix::parse_buffer_size("-1", "--ring-bytes"), UsageError);
  }

  TEST_CASE("numbers and durations: accepted forms and named rejections") {
    CHECK(ipcmatrix::parse_duration("10", "--duration") == doctest::Approx(10));
    CHECK(ipcmatrix::parse_duration("10s", "--duration") == doctest::Approx(10));
    CHECK(ipcmatrix::parse_duration("500ms", "--duration") == doctest::Approx(0.5));
    CHECK(ipcmatrix::parse_duration("1.5s", "--duration") == doctest::Approx(1.5));
    CHECK(ipcmatrix::parse_duration("2min", "--duration") == doctest::Approx(120));
    CHECK(has(usage_error_of([] { (void)ipcmatrix::parse_duration("10x", "--duration"); }), "'10x'"));
    CHECK_THROWS_AS((void)ipcmatrix::parse_duration("-1s", "--duration"), UsageError);
    CHECK_THROWS_AS((void)ipcmatrix::parse_duration("ms", "--duration"), UsageError);
    CHECK(ipcmatrix::parse_uint("20000", "--messages") == 20000);
    CHECK(has(usage_error_of([] { (void)ipcmatrix::parse_uint("2e4", "--messages"); }), "'2e4'"));
    CHECK_THROWS_AS((void)ipcmatrix::parse_uint("-1", "--messages"), UsageError);
    CHECK(ipcmatrix::parse_int("-3", "--procs") == -3);
    CHECK_THROWS_AS((void)ipcmatrix::parse_int("99999999999", "--procs"), UsageError);
    CHECK(ipcmatrix::parse_number("2.5e3", "--rate") == doctest::Approx(2500));
    CHECK_THROWS_AS((void)ipcmatrix::parse_number("nan", "--rate"), UsageError);
    CHECK(ipcmatrix::parse_int_list("1,8,64", "--batch") == std::vector<int>{1, 8, 64});
  }

  TEST_CASE("parse_choices: all expands, duplicates drop, unknown names list the valid ones") {
    const auto& patterns = ipcmatrix::pattern_names();
    CHECK(ipcmatrix::parse_choices("all", patterns, "--patterns") == patterns);
    CHECK(ipcmatrix::parse_choices("stream,pingpong,stream", patterns, "--patterns") ==
          std::vector<std::string>{"stream", "pingpong"});
    const auto msg = usage_error_of([&] { (void)ipcmatrix::parse_choices("pingpong,ringring", patterns, "--patterns"); });
    CHECK(has(msg, "--patterns"));
    CHECK(has(msg, "'ringring'"));
    for (const auto& p : patterns) CHECK(has(msg, p));
    CHECK(ipcmatrix::parse_choices("all", ipcmatrix::all_names<ipcmatrix::Placement>(), "--placement") ==
          ipcmatrix::all_names<ipcmatrix::Placement>());
  }

  TEST_CASE("mechanisms and serializers come from the registries") {
    const auto mechanisms = ipcmatrix::parse_mechanisms("all");
    CHECK(mechanisms == ipcmatrix::mechanism_names());
    CHECK(std::find(mechanisms.begin(), mechanisms.end(), "shm") != mechanisms.end());
    CHECK_THROWS_AS((void)ipcmatrix::parse_mechanisms("carrier-pigeon"), UsageError);
    CHECK(ipcmatrix::parse_serializers("all") == ipcmatrix::default_serializer_names());
    CHECK(ipcmatrix::parse_serializers("raw,zstd+json") == std::vector<std::string>{"raw", "zstd+json"});
    CHECK(ipcmatrix::parse_serializers("zstd,zstd+binary") == std::vector<std::string>{"zstd+binary"});
    CHECK(has(usage_error_of([] { (void)ipcmatrix::parse_serializers("zstd+xml"); }), "'zstd+xml'"));
  }

  TEST_CASE("defaults validate, and each documented range is enforced") {
    const RunConfig defaults;
    CHECK_NOTHROW(ipcmatrix::validate(defaults));
    CHECK(defaults.mechanisms == ipcmatrix::mechanism_names());
    CHECK(defaults.serializers == ipcmatrix::default_serializer_names());

    const auto rejected = [](auto&& mutate, const char* flag) {
      RunConfig cfg;
      mutate(cfg);
      const auto msg = usage_error_of([&] { ipcmatrix::validate(cfg); });
      CHECK(has(msg, flag));
    };
    rejected([](RunConfig& c) { c.batches = {0}; }, "--batch");
    rejected([](RunConfig& c) { c.batches = {4097}; }, "--batch");
    rejected([](RunConfig& c) { c.procs = 1; }, "--procs");
    rejected([](RunConfig& c) { c.procs = 65; }, "--procs");
    rejected([](RunConfig& c) { c.repetitions = 0; }, "--repetitions");
    rejected([](RunConfig& c) { c.zstd_level = 30; }, "--zstd-level");
    rejected([](RunConfig& c) {
      c.messages = 0;  // neither a count nor a time limit
      c.duration_s = 0;
    }, "--messages");
    rejected([](RunConfig& c) { c.duration_s = 4000; }, "--duration");
    rejected([](RunConfig& c) { c.warmup = 1'000'000'000; }, "--warmup");
    rejected([](RunConfig& c) { c.rate = -1; }, "--rate");
    rejected([](RunConfig& c) { c.ring_bytes = 6000; }, "--ring-bytes");
    rejected([](RunConfig& c) { c.ring_bytes = 2048; }, "--ring-bytes");
    rejected([](RunConfig& c) { c.cell_timeout_s = 0; }, "--cell-timeout");
    rejected([](RunConfig& c) { c.duration_s = 200; }, "--cell-timeout");
    rejected([](RunConfig& c) { c.apis = {}; }, "--api");
    // kernel is what a mechanism that cannot spin records; no endpoint is asked to do it.
    rejected([](RunConfig& c) { c.waits = {Wait::kernel}; }, "--wait");
    rejected([](RunConfig& c) { c.waits = {}; }, "--wait");
    rejected([](RunConfig& c) { c.mechanisms = {}; }, "--mechanisms");

    RunConfig ok;
    ok.procs = 2;
    ok.ring_bytes = 1 << 16;
    ok.duration_s = 5;
    ok.messages = 0;  // counts do not matter when a duration is set
    CHECK_NOTHROW(ipcmatrix::validate(ok));
  }

  TEST_CASE("presets: every shipped preset loads by path and by name, and validates") {
    const auto dir = presets_dir();
    REQUIRE(std::filesystem::is_directory(dir));
    int found = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() != ".json") continue;
      ++found;
      CAPTURE(entry.path().string());
      RunConfig cfg;
      REQUIRE_NOTHROW(ipcmatrix::apply_preset(cfg, ipcmatrix::load_preset(entry.path().string())));
      CHECK_NOTHROW(ipcmatrix::validate(cfg));
      // A preset's time window clears the short-window warning (100 ms) with room: a receiver's
      // window can end a wake-up short of the sender's. 50 ms windows tripped it in 144 of the
      // quick preset's 192 cells.
      if (cfg.duration_s > 0) CHECK(cfg.duration_s >= 0.12);
    }
    CHECK(found >= 5);

    point_preset_search_at_sources();
    const auto names = ipcmatrix::preset_names();
    for (const char* name : {"quick", "standard", "heavy", "latency", "memory"}) {
      CAPTURE(name);
      CHECK(std::find(names.begin(), names.end(), name) != names.end());
      RunConfig cfg;
      ipcmatrix::apply_preset(cfg, ipcmatrix::load_preset(name));
      CHECK_NOTHROW(ipcmatrix::validate(cfg));
    }

    RunConfig quick;
    ipcmatrix::apply_preset(quick, ipcmatrix::load_preset("quick"));
    CHECK(quick.sizes == std::vector<std::uint64_t>{64, 65536});
    CHECK(quick.patterns == std::vector<std::string>{"pingpong", "stream"});
    CHECK(quick.serializers == std::vector<std::string>{"raw", "zstd+binary"});
    CHECK(quick.duration_s == doctest::Approx(0.12));  // time windows, not a count
    CHECK(quick.warmup == 200);
    // Advice needs repetitions for the tie test: the quick preset races to them within its budget.
    CHECK(quick.race >= 3);
    CHECK(quick.budget_s > 0);
    CHECK(quick.budget_s < 120);
    CHECK(quick.loads.size() == 2);
    CHECK(quick.mechanisms == ipcmatrix::mechanism_names());

    RunConfig heavy;
    ipcmatrix::apply_preset(heavy, ipcmatrix::load_preset("heavy"));
    CHECK(heavy.patterns == ipcmatrix::pattern_names());
    CHECK(heavy.placements == ipcmatrix::all_values<ipcmatrix::Placement>());
    CHECK(heavy.duration_s == doctest::Approx(5));
  }

  TEST_CASE("presets: lists as comma strings, sizes as strings, unknown keys rejected") {
    RunConfig cfg;
    ipcmatrix::apply_preset(cfg, nlohmann::json::parse(R"({"description": "x", "sizes": "1K, 2M",
        "waits": ["spin", "block"], "batches": [1, 16], "ring_bytes": "64K", "duration_s": "500ms",
        "quiet": true})"));
    CHECK(cfg.sizes == std::vector<std::uint64_t>{1024, 2097152});
    CHECK(cfg.waits == std::vector<Wait>{Wait::spin, Wait::block});
    CHECK(cfg.batches == std::vector<int>{1, 16});
    CHECK(cfg.ring_bytes == 65536);
    CHECK(cfg.duration_s == doctest::Approx(0.5));
    CHECK(cfg.quiet);

    const auto unknown = usage_error_of([] {
      RunConfig c;
      ipcmatrix::apply_preset(c, nlohmann::json::parse(R"({"wait": "spin"})"));
    });
    CHECK(has(unknown, "'wait'"));
    CHECK(has(unknown, "waits"));
    const auto bad_value = usage_error_of([] {
      RunConfig c;
      ipcmatrix::apply_preset(c, nlohmann::json::parse(R"({"sizes": [64, "99T"]})"));
    });
    CHECK(has(bad_value, "'sizes'"));
    CHECK(has(bad_value, "'99T'"));
    CHECK_THROWS_AS(ipcmatrix::apply_preset(cfg, nlohmann::json::parse(R"({"quiet": "yes"})")), UsageError);
    CHECK_THROWS_AS(ipcmatrix::apply_preset(cfg, nlohmann::json::parse("[1, 2]")), UsageError);
  }

  TEST_CASE("load_preset: missing, malformed and invalid files name the file") {
    point_preset_search_at_sources();
    const auto missing = usage_error_of([] { (void)ipcmatrix::load_preset("no-such-preset"); });
    CHECK(has(missing, "'no-such-preset'"));
    CHECK(has(missing, "quick"));  // lists what is available
    CHECK_THROWS_AS((void)ipcmatrix::load_preset("/nonexistent/x.json"), UsageError);

    const auto broken = write_temp_preset("ipcmatrix_test_broken.json", "{\"sizes\": [64,");
    CHECK(has(usage_error_of([&] { (void)ipcmatrix::load_preset(broken.string()); }), broken.string()));

    const auto typo = write_temp_preset("ipcmatrix_test_typo.json", R"({"sizez": [64]})");
    const auto msg = usage_error_of([&] { (void)ipcmatrix::load_preset(typo.string()); });
    CHECK(has(msg, typo.string()));
    CHECK(has(msg, "'sizez'"));

    const auto out_of_range = write_temp_preset("ipcmatrix_test_range.json", R"({"repetitions": 0})");
    CHECK(has(usage_error_of([&] { (void)ipcmatrix::load_preset(out_of_range.string()); }), "--repetitions"));

    for (const auto& p : {broken, typo, out_of_range}) std::filesystem::remove(p);
  }

  TEST_CASE("cli: explicit flags override the preset, the rest of the preset stays") {
    point_preset_search_at_sources();
    const RunConfig cfg = parse_run({"x", "--preset", "quick", "--sizes", "128"});
    CHECK(cfg.preset == "quick");
    CHECK(cfg.sizes == std::vector<std::uint64_t>{128});
    CHECK(cfg.patterns == std::vector<std::string>{"pingpong", "stream"});
    CHECK(cfg.serializers == std::vector<std::string>{"raw", "zstd+binary"});
    CHECK(cfg.duration_s == doctest::Approx(0.12));
    CHECK(cfg.messages == 0);
    CHECK(cfg.warmup == 200);
    CHECK(cfg.race == 3);
    CHECK(cfg.budget_s == doctest::Approx(110));
    REQUIRE(cfg.loads.size() == 2);
    CHECK(cfg.loads[1].kind == ipcmatrix::LoadPoint::Kind::sporadic);
  }

  TEST_CASE("cli: every flag reaches the config") {
    const RunConfig cfg = parse_run({"x", "--sizes=64,4K", "--patterns", "all", "--mechanisms", "shm,pipe",
                                     "--serializers", "raw", "--procs", "4", "--duration", "500ms",
                                     "--messages", "10", "--warmup", "1", "--repetitions", "2", "--rate", "1000",
                                     "--wait", "spin,block", "--placement", "all", "--batch", "1,8",
                                     "--content", "text", "--zstd-level", "3", "--ring-bytes", "64K",
                                     "--pipe-bytes", "1M", "--cell-timeout", "30s", "--seed", "7", "--out",
                                     "/tmp/r", "--json", "-", "--quiet"});
    CHECK(cfg.sizes == std::vector<std::uint64_t>{64, 4096});
    CHECK(cfg.patterns == ipcmatrix::pattern_names());
    CHECK(cfg.mechanisms == std::vector<std::string>{"shm", "pipe"});
    CHECK(cfg.serializers == std::vector<std::string>{"raw"});
    CHECK(cfg.procs == 4);
    CHECK(cfg.duration_s == doctest::Approx(0.5));
    CHECK(cfg.messages == 10);
    CHECK(cfg.warmup == 1);
    CHECK(cfg.repetitions == 2);
    CHECK(cfg.rate == doctest::Approx(1000));
    CHECK(cfg.waits == std::vector<Wait>{Wait::spin, Wait::block});
    CHECK(cfg.placements == ipcmatrix::all_values<ipcmatrix::Placement>());
    CHECK(cfg.batches == std::vector<int>{1, 8});
    CHECK(cfg.content == ContentMode::text);
    CHECK(cfg.zstd_level == 3);
    CHECK(cfg.ring_bytes == 65536);
    CHECK(cfg.pipe_bytes == 1048576);
    CHECK(cfg.cell_timeout_s == doctest::Approx(30));
    CHECK(cfg.seed == 7);
    CHECK(cfg.out_dir == "/tmp/r");
    CHECK(cfg.json_path == "-");
    CHECK(cfg.quiet);
    CHECK(cfg.preset.empty());
    CHECK(cfg.to_json().at("ring_bytes") == 65536);
  }

  TEST_CASE("cli: no flags gives the defaults, bad values name flag and value") {
    const RunConfig cfg = parse_run({"x"});
    CHECK(cfg.to_json() == RunConfig{}.to_json());
    CHECK(has(usage_error_of([] { (void)parse_run({"x", "--sizes", "99T"}); }), "--sizes: '99T'"));
    CHECK(has(usage_error_of([] { (void)parse_run({"x", "--batch", "0"}); }), "--batch"));
    CHECK(has(usage_error_of([] { (void)parse_run({"x", "--waits", "nap"}); }), "--wait"));
    CHECK(has(usage_error_of([] { (void)parse_run({"x", "--procs", "two"}); }), "'two'"));
    CHECK(has(usage_error_of([] { (void)parse_run({"x", "--preset", "nope"}); }), "'nope'"));
  }

  TEST_CASE("parse_load_list: rates, fractions of saturation and the sporadic point") {
    const auto loads = parse_load_list("10, 1k,2.5M, 50%,sporadic,1000", "--load");
    REQUIRE(loads.size() == 5);  // 1k and 1000 are one load
    CHECK(loads[0] == LoadPoint{LoadPoint::Kind::rate, 10});
    CHECK(loads[1] == LoadPoint{LoadPoint::Kind::rate, 1000});
    CHECK(loads[2] == LoadPoint{LoadPoint::Kind::rate, 2.5e6});
    CHECK(loads[3].kind == LoadPoint::Kind::fraction);
    CHECK(loads[3].value == doctest::Approx(0.5));
    CHECK(loads[4].kind == LoadPoint::Kind::sporadic);
    CHECK(loads[1].label() == "1k");
    CHECK(loads[2].label() == "2.5M");
    CHECK(loads[3].label() == "50%");
    CHECK(loads[4].label() == "sporadic");
    CHECK(parse_rate("1.5M", "--rate") == 1.5e6);
    CHECK(parse_percent("10%", "--threshold") == doctest::Approx(0.1));
    CHECK(parse_percent("5", "--threshold") == doctest::Approx(0.05));
    for (const char* bad : {"150%", "0", "-5", "fast", "", "10,,20", "0%"}) {
      CAPTURE(bad);
      CHECK_THROWS_AS((void)parse_load_list(bad, "--load"), UsageError);
    }
  }
}
