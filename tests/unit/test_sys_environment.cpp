#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipcmatrix/sys/environment.hpp"

namespace {

bool any_contains(const std::vector<std::string>& warnings, const std::string& needle) {
  for (const auto& w : warnings) {
    if (w.find(needle) != std::string::npos) return true;
  }
  return false;
}

// A quiet bare-metal machine with plenty of CPUs: no warnings, so each case below changes one fact.
nlohmann::json calm_env() {
  return nlohmann::json{
      {"logical_cpus", 16},
      {"allowed_cpu_count", 16},
      {"load_average", {0.1, 0.1, 0.1}},
      {"cpu_governor", "performance"},
      {"virtualization", {{"virtual", false}, {"hypervisor_flag", false}}},
  };
}

}  // namespace

TEST_SUITE("sys environment") {
  TEST_CASE("capture_environment: has every documented key and does not throw") {
    nlohmann::json env;
    REQUIRE_NOTHROW(env = ipcmatrix::sys::capture_environment());
    REQUIRE(env.is_object());
    for (const char* key :
         {"hostname", "kernel", "kernel_version", "arch", "cpu_model", "logical_cpus", "allowed_cpus",
          "allowed_cpu_count", "sockets", "cores", "threads_per_core", "topology", "caches", "virtualization",
          "clock_source", "cpu_governor", "memory_total_bytes", "dev_shm_bytes", "dev_shm_free_bytes",
          "load_average", "compiler", "build_type", "compile_flags", "libraries", "git_revision", "gpu",
          "captured_at_utc"}) {
      CAPTURE(key);
      CHECK(env.contains(key));
    }
    // Facts every Linux machine running these tests can supply.
    CHECK(env["logical_cpus"].is_number_integer());
    CHECK(env["logical_cpus"].get<int>() >= 1);
    REQUIRE(env["allowed_cpus"].is_array());
    CHECK(!env["allowed_cpus"].empty());
    CHECK(env["kernel"].get<std::string>().rfind("Linux", 0) == 0);
    CHECK(env["cpu_governor"].is_string());
    CHECK(env["git_revision"].is_string());
    CHECK(env["compiler"].get<std::string>() != "unknown");
    REQUIRE(env["libraries"].is_object());
    for (const char* lib : {"boost", "nlohmann_json", "zstd", "fmt", "cli11"}) {
      CAPTURE(lib);
      CHECK(env["libraries"][lib].is_string());
    }
    CHECK((env["load_average"].is_null() || env["load_average"].size() == 3));
    CHECK((env["gpu"].is_null() || env["gpu"].is_array()));
    CHECK_NOTHROW((void)ipcmatrix::sys::environment_warnings(env));
  }

  TEST_CASE("environment_warnings: a calm bare-metal machine gets none") {
    CHECK(ipcmatrix::sys::environment_warnings(calm_env()).empty());
  }

  TEST_CASE("environment_warnings: load 5.0 on 2 CPUs is a busy machine") {
    nlohmann::json env = calm_env();
    env["logical_cpus"] = 2;
    env["allowed_cpu_count"] = 2;
    env["load_average"] = {5.0, 3.0, 1.0};
    const auto warnings = ipcmatrix::sys::environment_warnings(env);
    CHECK(any_contains(warnings, "machine is busy: load 5.0 on 2 CPUs"));
    CHECK(any_contains(warnings, "only 2 CPUs"));
  }

  TEST_CASE("environment_warnings: governor, hypervisor and few CPUs each warn") {
    nlohmann::json governor = calm_env();
    governor["cpu_governor"] = "powersave";
    CHECK(any_contains(ipcmatrix::sys::environment_warnings(governor), "powersave"));

    nlohmann::json unreadable = calm_env();
    unreadable["cpu_governor"] = "unavailable";
    CHECK(ipcmatrix::sys::environment_warnings(unreadable).empty());

    nlohmann::json vm = calm_env();
    vm["virtualization"]["virtual"] = true;
    CHECK(any_contains(ipcmatrix::sys::environment_warnings(vm), "virtual machine"));

    nlohmann::json small = calm_env();
    small["allowed_cpu_count"] = 3;
    const auto warnings = ipcmatrix::sys::environment_warnings(small);
    CHECK(warnings.size() == 1);
    CHECK(any_contains(warnings, "only 3 CPUs"));
  }

  TEST_CASE("environment_warnings: missing or mistyped facts are skipped, never thrown") {
    CHECK(ipcmatrix::sys::environment_warnings(nlohmann::json::object()).empty());
    CHECK(ipcmatrix::sys::environment_warnings(nlohmann::json(nullptr)).empty());
    const auto odd = nlohmann::json{{"load_average", "high"}, {"cpu_governor", 3}, {"virtualization", nullptr},
                                    {"logical_cpus", "many"}};
    CHECK_NOTHROW((void)ipcmatrix::sys::environment_warnings(odd));
  }

  TEST_CASE("executable_path: names this test binary") {
    const auto exe = ipcmatrix::sys::executable_path();
    CHECK(!exe.empty());
    CHECK(exe.front() == '/');
  }
}
