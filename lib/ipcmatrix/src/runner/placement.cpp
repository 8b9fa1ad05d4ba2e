#include "ipcmatrix/runner/placement.hpp"

namespace ipcmatrix {

int cpu_for(Placement p, const std::vector<int>& cpus, std::size_t index) noexcept {
  if (p == Placement::unpinned || cpus.empty()) return -1;
  if (p == Placement::same_core) return cpus[0];
  return cpus[index % cpus.size()];
}

}  // namespace ipcmatrix
