#pragma once
/// @file aligned_buffer.hpp
/// A zero-filled byte buffer that starts on a page boundary: what the role loops and the
/// bare loops receive into.
///
/// Why a page: on the AMD EPYC VMs this was measured on, the kernel's copy of a 1 MiB
/// datagram into a buffer 16 bytes into a page ran about 5x slower than into one on a
/// 64-byte boundary, and glibc's large allocations (a std::vector's) start 16 bytes into a
/// page, or not, depending on the allocation history. A figure must not depend on that
/// accident, and the matrix and its bare baseline must receive into the same kind of buffer
/// for their ratio to measure the harness: both use this one.

#include <cstddef>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <span>

namespace ipcmatrix {

class AlignedBuffer {
 public:
  static constexpr std::size_t kAlign = 4096;
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t n, std::byte fill = std::byte{0}) { resize(n, fill); }
  /// Replaces the contents with n bytes of `fill` (nothing is kept); throws std::bad_alloc.
  void resize(std::size_t n, std::byte fill = std::byte{0}) {
    const std::size_t rounded = (std::max<std::size_t>(n, 1) + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, rounded);
    if (!p) throw std::bad_alloc();
    std::memset(p, static_cast<int>(fill), rounded);  // touched now, as a vector's would be
    mem_.reset(static_cast<std::byte*>(p));
    size_ = n;
  }
  [[nodiscard]] std::byte* data() noexcept { return mem_.get(); }
  [[nodiscard]] const std::byte* data() const noexcept { return mem_.get(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  operator std::span<std::byte>() noexcept { return {mem_.get(), size_}; }
  operator std::span<const std::byte>() const noexcept { return {mem_.get(), size_}; }

 private:
  struct Free {
    void operator()(std::byte* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<std::byte[], Free> mem_;
  std::size_t size_ = 0;
};

}  // namespace ipcmatrix
