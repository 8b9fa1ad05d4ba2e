#pragma once
/// @file byte_order.hpp
/// Little-endian 32- and 64-bit fields for wire formats (frame headers, envelopes, control
/// records): the same bytes on every host; on little-endian hosts one unaligned move the
/// compiler inlines. The one copy of these helpers.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ipcmatrix::sys {

inline void store_le64(std::byte* p, std::uint64_t v) noexcept {
  if constexpr (std::endian::native != std::endian::little) v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}

[[nodiscard]] inline std::uint64_t load_le64(const std::byte* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native != std::endian::little) v = __builtin_bswap64(v);
  return v;
}

inline void store_le32(std::byte* p, std::uint32_t v) noexcept {
  if constexpr (std::endian::native != std::endian::little) v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}

[[nodiscard]] inline std::uint32_t load_le32(const std::byte* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  if constexpr (std::endian::native != std::endian::little) v = __builtin_bswap32(v);
  return v;
}

}  // namespace ipcmatrix::sys
