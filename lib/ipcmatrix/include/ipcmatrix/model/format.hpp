#pragma once
/// @file format.hpp
/// fmt formatting for the vocabulary's enums: `fmt::format("{}", Wait::spin)` writes "spin",
/// the name from the enum's table (name_table.hpp). Apart from name_table.hpp so that the
/// portable model does not make fmt a dependency of everything that includes it.

#include <fmt/format.h>

#include <string_view>

#include "ipcmatrix/model/name_table.hpp"

template <ipcmatrix::Named E>
struct fmt::formatter<E> : fmt::formatter<std::string_view> {
  auto format(E e, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(ipcmatrix::to_string(e), ctx);
  }
};
