// The settings table: every row reaches the CLI, presets and the results' config block, so
// a setting added to the table is wired everywhere without another list to update.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "ipcmatrix/runner/settings.hpp"
#include "ipcmatrix/runner/presets.hpp"

using namespace ipcmatrix;

namespace {

// The text a user would type for a JSON value of the setting's kind.
std::string flag_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) return v.dump();
  std::string out;
  for (const auto& e : v) out += (out.empty() ? "" : ",") + (e.is_string() ? e.get<std::string>() : e.dump());
  return out;
}

RunConfig parse_run(std::vector<std::string> args) {
  CLI::App app("test");
  CliState st;
  add_run_options(app, st);
  args.insert(args.begin(), "x");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return finish_run_config(st);
}

// A value different from the default for each row, written as a preset would give it.
nlohmann::json changed_value(const Setting& s) {
  const std::map<std::string_view, nlohmann::json> values = {
      {"sizes", {128, 2048}},   {"patterns", {"mesh"}},     {"mechanisms", {"pipe"}},
      {"serializers", {"json"}}, {"procs", 4},              {"duration_s", 3},
      {"messages", 77},         {"min_messages", 300},     {"rate_min_messages", 30},     {"warmup", 5},             {"repetitions", 2},
      {"race", 3},              {"budget_s", 120},         {"shard", "1/3"},
      {"rate", 500},            {"waits", {"spin"}},       {"placements", {"cross-core"}},
      {"loads", {"50%", "10k", "sporadic"}},
      {"batches", {2, 4}},      {"content", "text"},       {"zstd_level", 3},
      {"apis", {"loan"}},       {"verify", "full"},        {"latency_sample", 8},
      {"ring_max_bytes", 1048576},
      {"ring_bytes", 65536},    {"pipe_bytes", 8192},      {"loan_from_bytes", 1048576},      {"cell_timeout_s", 60},
      {"queue_messages", 100},  {"io_threads", 2},
      {"seed", 9},              {"out_dir", "/tmp/o"},     {"json_path", "-"},
      {"quiet", true}};
  const auto it = values.find(s.key);
  REQUIRE_MESSAGE(it != values.end(), "no test value for the new setting '" << s.key << "': add one here");
  return it->second;
}

}  // namespace

TEST_SUITE("runner settings") {
  TEST_CASE("settings: keys and flags are unique, and the JSON form has exactly the table's keys") {
    std::set<std::string_view> keys, flags;
    const nlohmann::json defaults = RunConfig{}.to_json();
    for (const Setting& s : run_settings()) {
      CAPTURE(s.key);
      CHECK(keys.insert(s.key).second);
      CHECK(flags.insert(s.primary_flag()).second);
      CHECK(s.primary_flag().starts_with("--"));
      CHECK(!s.help.empty());
      CHECK(find_setting(s.key) == &s);
      CHECK(defaults.contains(std::string(s.key)));
      CHECK(s.to_json(RunConfig{}) == defaults.at(std::string(s.key)));
    }
    CHECK(defaults.size() == run_settings().size() + 1);  // + "preset"
    CHECK(defaults.contains("preset"));
    CHECK(find_setting("no_such_key") == nullptr);
  }

  TEST_CASE("settings: every row is reachable as a preset key and as a flag, with the same effect") {
    for (const Setting& s : run_settings()) {
      CAPTURE(s.key);
      const nlohmann::json value = changed_value(s);
      const std::string key(s.key);

      RunConfig from_preset;
      apply_preset(from_preset, nlohmann::json{{key, value}});
      CHECK(from_preset.to_json().at(key) == value);
      CHECK(from_preset.to_json().at(key) != RunConfig{}.to_json().at(key));

      // Both limits given so the count-or-time rule leaves each as set (once each: a flag
      // given twice is refused).
      std::vector<std::string> args;
      if (key != "messages") args.insert(args.end(), {"--messages", "20000"});
      if (key != "duration_s") args.insert(args.end(), {"--duration", "3"});
      if (s.kind == SettingKind::toggle) {
        args.emplace_back(s.primary_flag());
      } else {
        args.emplace_back(s.primary_flag());
        args.push_back(flag_text(value));
      }
      const RunConfig from_flag = parse_run(args);
      CHECK(from_flag.to_json().at(key) == value);
    }
  }

  TEST_CASE("settings: the count-or-time rule lives in the library") {
    const Setting* messages = find_setting("messages");
    const Setting* duration = find_setting("duration_s");
    REQUIRE(messages);
    REQUIRE(duration);
    const RunConfig both = build_run_config(std::nullopt, {});
    CHECK(both.messages == RunConfig{}.messages);
    CHECK(both.duration_s == RunConfig{}.duration_s);
    const RunConfig count = build_run_config(std::nullopt, {{messages, "500"}});
    CHECK(count.messages == 500);
    CHECK(count.duration_s == 0);
    const RunConfig time = build_run_config(std::nullopt, {{duration, "2s"}});
    CHECK(time.messages == 0);
    CHECK(time.duration_s == doctest::Approx(2));
    const RunConfig given_both = build_run_config(std::nullopt, {{messages, "500"}, {duration, "2s"}});
    CHECK(given_both.messages == 500);
    CHECK(given_both.duration_s == doctest::Approx(2));
  }

  TEST_CASE("settings: each row's check names its flag") {
    RunConfig c;
    c.batches = {0};
    CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("--batch"), UsageError);
    c = RunConfig{};
    c.placements = {};
    CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("--placement"), UsageError);
    c = RunConfig{};
    c.patterns = {};
    CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("--patterns"), UsageError);
  }
}
