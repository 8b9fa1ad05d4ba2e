#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/environment.hpp"
#include "ipcmatrix/sys/process.hpp"

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
          "load_average", "busy_cpus", "compiler", "build_type", "compile_flags", "libraries", "git_revision", "gpu",
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

  TEST_CASE("capture_environment: busy_cpus counts another process spinning on one of the run's CPUs") {
    const std::vector<int> cpus = ipcmatrix::sys::allowed_cpus();
    REQUIRE(!cpus.empty());
    // Spins on the first allowed CPU until killed, 30 s at most should the test die first.
    ipcmatrix::sys::Child spinner = ipcmatrix::sys::fork_child([cpu = cpus.front()] {
      ipcmatrix::sys::pin_to_cpu(cpu);
      const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (std::chrono::steady_clock::now() < end) {
      }
      return 0;
    });
    const nlohmann::json env = ipcmatrix::sys::capture_environment();
    spinner.kill_and_reap();
    REQUIRE(env["busy_cpus"].is_number());
    // One CPU's worth of spinning, sampled by the jiffy: well above half of one, whatever
    // else shares the machine; never more than the CPUs there are.
    CHECK(env["busy_cpus"].get<double>() >= 0.5);
    CHECK(env["busy_cpus"].get<double>() <= static_cast<double>(cpus.size()) + 0.01);
  }

  TEST_CASE("environment_warnings: busy now, not the load average that trails the last minute") {
    nlohmann::json after_build = calm_env();
    after_build["allowed_cpu_count"] = 2;
    after_build["load_average"] = {1.7, 1.2, 0.6};
    after_build["busy_cpus"] = 0.05;
    CHECK_FALSE(any_contains(ipcmatrix::sys::environment_warnings(after_build), "machine is busy"));
    nlohmann::json busy = after_build;
    busy["busy_cpus"] = 1.6;
    CHECK(any_contains(ipcmatrix::sys::environment_warnings(busy),
                       "machine is busy: other processes used 1.6 of 2 CPUs as the run began"));
    // A file from before the sample keeps the load average's judgement.
    after_build.erase("busy_cpus");
    CHECK(any_contains(ipcmatrix::sys::environment_warnings(after_build), "machine is busy: load 1.7 on 2 CPUs"));
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
