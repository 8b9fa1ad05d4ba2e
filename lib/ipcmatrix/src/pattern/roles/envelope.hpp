#pragma once
/// @file envelope.hpp
/// The envelope every message carries ahead of its body (sequence number with the warm-up and
/// stamped bits, and on stamped messages the origin, send and hop times), and the small
/// helpers every role shares: timestamp differences, serializer options, error text.
///
/// Part of roles.cpp's translation unit, included by it alone. Its contents sit in an
/// anonymous namespace, as they did inside roles.cpp, so the compiler sees and inlines the
/// hot loops across these files exactly as when they were one file (bench_matrix_vs_bare
/// measured the matrix-vs-bare ratios before and after the split, interleaved).
#ifndef IPCMATRIX_ROLES_TU
#error "envelope.hpp is part of roles.cpp's translation unit; include it only from there"
#endif

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "ipcmatrix/pattern/roles.hpp"
#include "ipcmatrix/serialize/serializer.hpp"
#include "ipcmatrix/sys/byte_order.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {
namespace {

struct Envelope {
  std::uint64_t seq = 0;
  std::int64_t origin_ns = 0;  // 0: not stamped
  std::int64_t sent_ns = 0;
  std::int64_t hop_ns = 0;
};

using EnvelopeBytes = std::array<std::byte, kEnvelopeBytes>;

/// Writes e (seq already carrying the warm-up bit) and returns its size: 8 bytes, or 32
/// when it carries timestamps (origin_ns != 0).
std::size_t put_envelope(std::byte* p, const Envelope& e) noexcept {
  if (e.origin_ns == 0) {
    sys::store_le64(p, e.seq);
    return kSeqEnvelopeBytes;
  }
  sys::store_le64(p, e.seq | kStampedBit);
  sys::store_le64(p + 8, static_cast<std::uint64_t>(e.origin_ns));
  sys::store_le64(p + 16, static_cast<std::uint64_t>(e.sent_ns));
  sys::store_le64(p + 24, static_cast<std::uint64_t>(e.hop_ns));
  return kEnvelopeBytes;
}


SerializerOptions serializer_options(const RoleParams& p) {
  SerializerOptions o;
  o.zstd_level = p.zstd_level;
  // Decoding caps follow the cell's own size (plus record overhead and base64 growth),
  // so hostile or corrupt input cannot make a receiver allocate beyond that.
  o.max_decoded_bytes = std::max<std::size_t>(p.size_bytes * 2 + 4096, std::size_t{1} << 20);
  return o;
}

std::uint64_t stamp_diff(std::int64_t later, std::int64_t earlier) noexcept {
  return later > earlier ? static_cast<std::uint64_t>(later - earlier) : 0;
}

/// A sampled encode/decode interval without the cost of the clock read inside it.
std::uint64_t serde_diff(std::int64_t later, std::int64_t earlier) noexcept {
  return stamp_diff(later - sys::clock_read_cost_ns(), earlier);
}

std::string describe(std::string_view what, std::size_t ch, const Transport& t, IoStatus s) {
  std::string m(what);
  m += " on channel " + std::to_string(ch) + ": " + std::string(to_string(s));
  if (s == IoStatus::error) m += " (" + t.error().message() + ")";
  return m;
}

/// The bytes of `v` from offset `off` on.

}  // namespace
}  // namespace ipcmatrix
