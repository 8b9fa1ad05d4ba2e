#pragma once
/// @file placement.hpp
/// CPU placement of a cell's participants, a dimension of the matrix.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipcmatrix {

enum class Placement : std::uint8_t {
  unpinned,    ///< the scheduler decides
  same_core,   ///< every participant pinned to the first allowed CPU
  cross_core,  ///< participant i pinned to allowed CPU i (mod the CPU count)
};

/// "unpinned", "same-core", "cross-core": the CLI, preset and results spelling.
[[nodiscard]] std::string_view to_string(Placement p) noexcept;
/// The inverse of to_string(); nullopt for anything else.
[[nodiscard]] std::optional<Placement> parse_placement(std::string_view s) noexcept;
/// Every placement name, in declaration order.
[[nodiscard]] const std::vector<std::string>& placement_names();

/// The CPU participant `index` is pinned to under `p`, from the allowed `cpus`; -1 means
/// unpinned (also when no CPU list is known).
[[nodiscard]] int cpu_for(Placement p, const std::vector<int>& cpus, std::size_t index) noexcept;

}  // namespace ipcmatrix
