#include "ipcmatrix/runner/placement.hpp"

namespace ipcmatrix {

namespace {
constexpr Placement kAll[] = {Placement::unpinned, Placement::same_core, Placement::cross_core};
}

std::string_view to_string(Placement p) noexcept {
  switch (p) {
    case Placement::unpinned: return "unpinned";
    case Placement::same_core: return "same-core";
    case Placement::cross_core: return "cross-core";
  }
  return "?";
}

std::optional<Placement> parse_placement(std::string_view s) noexcept {
  for (const Placement p : kAll)
    if (to_string(p) == s) return p;
  return std::nullopt;
}

const std::vector<std::string>& placement_names() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> v;
    for (const Placement p : kAll) v.emplace_back(to_string(p));
    return v;
  }();
  return kNames;
}

int cpu_for(Placement p, const std::vector<int>& cpus, std::size_t index) noexcept {
  if (p == Placement::unpinned || cpus.empty()) return -1;
  if (p == Placement::same_core) return cpus[0];
  return cpus[index % cpus.size()];
}

}  // namespace ipcmatrix
