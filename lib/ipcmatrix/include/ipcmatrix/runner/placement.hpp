#pragma once
/// @file placement.hpp
/// Where a cell's participants run: the CPU each is pinned to under a Placement
/// (model/vocabulary.hpp).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmatrix/model/vocabulary.hpp"

namespace ipcmatrix {

/// The CPU participant `index` is pinned to under `p`, from the allowed `cpus`; -1 means
/// unpinned (also when no CPU list is known).
[[nodiscard]] int cpu_for(Placement p, const std::vector<int>& cpus, std::size_t index) noexcept;

}  // namespace ipcmatrix
