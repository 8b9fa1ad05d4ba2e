#pragma once
/// @file affinity.hpp
/// CPU placement: which CPUs this process may run on, and pinning to one.

#include <vector>

namespace ipcmatrix::sys {

/// CPUs in this process's affinity mask (what a container or taskset allows), ascending.
[[nodiscard]] std::vector<int> allowed_cpus();
/// Pins the calling thread (and so a single-threaded process) to one CPU. Throws Error.
void pin_to_cpu(int cpu);
/// The CPU the caller runs on right now (sched_getcpu), -1 if unknown.
[[nodiscard]] int current_cpu() noexcept;

}  // namespace ipcmatrix::sys
