#pragma once
// Inline copies of a few bytes, for the transports' per-message paths (the shm ring, the
// stream framing): small messages move by the million, and a call into libc's memcpy
// (through the PLT, with its size dispatch) cost more than the copy itself.

#include <cstddef>
#include <cstring>
#include <type_traits>

namespace ipcmatrix::detail {

/// Copies of at most this many bytes are done inline (copy_small) rather than by a call.
constexpr std::size_t kSmallCopy = 128;

/// memcpy for n <= kSmallCopy, inline: two fixed-size copies that overlap in the middle,
/// which the compiler turns into a few vector moves. perf showed libc's memcpy call as the
/// largest share of a 64 B message's time on both ends of the ring. Source and destination
/// must not overlap.
inline void copy_small(std::byte* d, const std::byte* s, std::size_t n) noexcept {
  const auto two = [&]<std::size_t K>(std::integral_constant<std::size_t, K>) {
    std::memcpy(d, s, K);
    std::memcpy(d + n - K, s + n - K, K);
  };
  if (n >= 64) two(std::integral_constant<std::size_t, 64>{});
  else if (n >= 32) two(std::integral_constant<std::size_t, 32>{});
  else if (n >= 16) two(std::integral_constant<std::size_t, 16>{});
  else if (n >= 8) two(std::integral_constant<std::size_t, 8>{});
  else
    for (std::size_t i = 0; i < n; ++i) d[i] = s[i];
}

/// Copies n bytes, inline when they are few.
inline void copy_bytes(std::byte* d, const std::byte* s, std::size_t n) noexcept {
  if (n <= kSmallCopy) copy_small(d, s, n);
  else std::memcpy(d, s, n);
}
}  // namespace ipcmatrix::detail
