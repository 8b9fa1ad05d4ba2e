#include "ipcmatrix/sys/affinity.hpp"

#include <sched.h>

#include <string>

#include "ipcmatrix/sys/posix.hpp"

namespace ipcmatrix::sys {

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out.push_back(c);
  return out;
}

void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  check_errno(::sched_setaffinity(0, sizeof set, &set), "sched_setaffinity", "affinity",
              "cpu " + std::to_string(cpu));
}

int current_cpu() noexcept { return ::sched_getcpu(); }

}  // namespace ipcmatrix::sys
