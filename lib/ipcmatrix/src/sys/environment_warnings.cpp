// environment_warnings(): what a captured environment (sys/environment.hpp) implies for the
// figures measured in it. Reads the JSON only, so it judges a results file from any machine.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "ipcmatrix/sys/environment.hpp"

namespace ipcmatrix::sys {

namespace {

constexpr double kBusyLoadPerCpu = 0.5;
constexpr int kFewCpus = 4;

}  // namespace

std::vector<std::string> environment_warnings(const nlohmann::json& env) {
  std::vector<std::string> warnings;
  if (!env.is_object()) return warnings;
  const auto number_at = [&](const char* key) -> std::optional<double> {
    const auto it = env.find(key);
    if (it == env.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
  };
  // The CPUs this process may use are what the workers compete for; fall back to the machine.
  std::optional<double> cpus = number_at("allowed_cpu_count");
  if (!cpus) {
    const auto it = env.find("allowed_cpus");
    if (it != env.end() && it->is_array() && !it->empty()) cpus = static_cast<double>(it->size());
  }
  if (!cpus) cpus = number_at("logical_cpus");

  // Busy now, where the capture sampled it; a file without that sample has the load average,
  // which trails the last minute (a build just before the run reads as a busy machine).
  const std::optional<double> busy = number_at("busy_cpus");
  const auto load_it = env.find("load_average");
  char why[120] = {};
  if (busy && cpus && *cpus > 0) {
    if (*busy > kBusyLoadPerCpu * *cpus)
      std::snprintf(why, sizeof why, "other processes used %.1f of %.0f CPUs as the run began", *busy, *cpus);
  } else if (cpus && *cpus > 0 && load_it != env.end() && load_it->is_array() && !load_it->empty() &&
             load_it->front().is_number()) {
    const double load = load_it->front().get<double>();
    if (load > kBusyLoadPerCpu * *cpus) std::snprintf(why, sizeof why, "load %.1f on %.0f CPUs", load, *cpus);
  }
  if (why[0] != '\0') warnings.push_back(std::string("machine is busy: ") + why + "; numbers may be noisy");

  const auto gov_it = env.find("cpu_governor");
  if (gov_it != env.end() && gov_it->is_string()) {
    const auto governor = gov_it->get<std::string>();
    if (governor != kUnavailable && governor != kUnknown && !governor.empty() && governor != "performance") {
      warnings.push_back("CPU frequency governor is '" + governor +
                         "', not 'performance': frequency changes add noise "
                         "(cpupower frequency-set -g performance)");
    }
  }

  const auto virt_it = env.find("virtualization");
  if (virt_it != env.end() && virt_it->is_object()) {
    const auto v = virt_it->find("virtual");
    if (v != virt_it->end() && v->is_boolean() && v->get<bool>()) {
      warnings.emplace_back("virtual machine: cross-core wake-ups cost more than on bare metal");
    }
  }

  if (cpus && *cpus < kFewCpus) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "only %.0f CPUs available: N-process patterns share cores, so they measure the "
                  "scheduler as much as the mechanism",
                  *cpus);
    warnings.emplace_back(buf);
  }
  return warnings;
}

}  // namespace ipcmatrix::sys
