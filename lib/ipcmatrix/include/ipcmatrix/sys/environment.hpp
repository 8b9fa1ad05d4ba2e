#pragma once
/// @file environment.hpp
/// The facts about the machine and the build that a result is meaningless without (CPU,
/// topology, governor, load, virtualization, kernel, compiler, library versions, git revision),
/// captured once per run into the results' context block, plus the warnings they imply.

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ipcmatrix::sys {

/// The value of a string fact that could not be read, and of cpu_governor without cpufreq.
inline constexpr std::string_view kUnknown = "unknown";
inline constexpr std::string_view kUnavailable = "unavailable";

/// Captures the environment as a JSON object. Keys (a fact that cannot be read is "unknown"
/// for strings and null otherwise, so the key set is stable):
///  hostname, kernel, kernel_version, arch, cpu_model, logical_cpus, allowed_cpus (the
///  affinity list), allowed_cpu_count, sockets, cores, threads_per_core, topology (e.g.
///  "1 socket x 4 cores x 2 threads"), caches ({"L1d": bytes, "L1i", "L2", "L3"} for CPU 0),
///  virtualization ({virtual, hypervisor_flag, sys_vendor, product_name}), clock_source,
///  cpu_governor ("unavailable" when cpufreq is absent), memory_total_bytes, dev_shm_bytes,
///  dev_shm_free_bytes, load_average ([1, 5, 15] minutes), busy_cpus (how many of the
///  allowed CPUs other processes kept busy over 100 ms at capture, from /proc/stat's busy
///  and idle times; the capture sleeps through it), compiler, build_type,
///  compile_flags, libraries ({boost, nlohmann_json, zstd, fmt, cli11}), git_revision,
///  gpu (array of {name, utilization_percent, memory_used_mib, memory_total_mib} from
///  nvidia-smi when it is on PATH, else null), captured_at_utc.
/// Never throws apart from std::bad_alloc. Takes up to a few seconds when it runs git or
/// nvidia-smi (each bounded by a 5 s timeout). Build facts come from the defines
/// IPCMATRIX_BUILD_TYPE, IPCMATRIX_CXX_FLAGS, IPCMATRIX_GIT_REVISION and IPCMATRIX_SOURCE_DIR
/// when this file was compiled.
[[nodiscard]] nlohmann::json capture_environment();

/// Human-readable warnings about an environment captured above (or crafted; missing or
/// mistyped keys are skipped): a busy machine (busy_cpus above half the CPUs; in files
/// without it, the 1-minute load above half the CPUs), a CPU
/// governor other than "performance", a virtual machine, fewer than 4 usable CPUs.
[[nodiscard]] std::vector<std::string> environment_warnings(const nlohmann::json& env);

/// Absolute path of the running executable (/proc/self/exe); "" when it cannot be read.
[[nodiscard]] std::string executable_path();

}  // namespace ipcmatrix::sys
