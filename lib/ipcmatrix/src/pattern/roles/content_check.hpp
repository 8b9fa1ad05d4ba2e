#pragma once
/// @file content_check.hpp
/// What a receiver checks each message against: the expected length, edges and checksum of
/// every entry of the sender's pool, derived from the same seed as the sender's messages.
///
/// Part of roles.cpp's translation unit, included by it alone. Its contents sit in an
/// anonymous namespace, as they did inside roles.cpp, so the compiler sees and inlines the
/// hot loops across these files exactly as when they were one file (bench_matrix_vs_bare
/// measured the matrix-vs-bare ratios before and after the split, interleaved).
#ifndef IPCMATRIX_ROLES_TU
#error "content_check.hpp is part of roles.cpp's translation unit; include it only from there"
#endif

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "ipcmatrix/pattern/roles.hpp"
#include "ipcmatrix/serialize/message.hpp"
#include "ipcmatrix/serialize/serializer.hpp"
#include "ipcmatrix/sys/byte_order.hpp"

namespace ipcmatrix {
namespace {

std::uint64_t mix(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t z = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  return z ^ (z >> 31);
}

MessageView tail_of(const MessageView& v, std::size_t off) noexcept {
  if (off <= v.first.size()) return {v.first.subspan(off), v.second};
  return {v.second.subspan(std::min(off - v.first.size(), v.second.size())), {}};
}

/// Up to 8 bytes of `v` at `off`, little-endian, zero-padded: how bodies are compared at
/// their edges.
std::uint64_t edge_of(const MessageView& v, std::size_t off) noexcept {
  std::array<std::byte, 8> b{};
  const std::size_t n = std::min<std::size_t>(8, v.size() - std::min(off, v.size()));
  v.read(off, b.data(), n);
  return sys::load_le64(b.data());
}

std::uint64_t head8(const MessageView& body) noexcept { return edge_of(body, 0); }
std::uint64_t tail8(const MessageView& body) noexcept { return edge_of(body, body.size() - std::min<std::size_t>(8, body.size())); }

/// What a receiver checks one pool entry against.
struct Expected {
  std::uint64_t len = 0;    ///< decoded body length
  std::uint64_t head = 0;   ///< its first 8 bytes
  std::uint64_t tail = 0;   ///< its last 8 bytes
  std::uint64_t sum = 0;    ///< checksum of the decoded message
};

/// Every serializer gives back what it encoded: the whole message, or the body alone for a
/// body-only one (test_serialize_roundtrip checks both for every registered serializer). So
/// the expected values come from the pool itself, not from encoding and decoding each entry,
/// which cost a 1 MiB json cell about 0.8 s of every repetition (16 entries, three times over
/// for a fan-in's consumer). A serializer that lost anything would show as corrupt messages.
/// The entries are made one at a time into one message, as only these figures are kept.
std::vector<Expected> expected_pool(const RoleParams& p, int origin, const Serializer& ser) {
  std::vector<Expected> out;
  const std::size_t n = pool_size(p.size_bytes);
  out.reserve(n);
  Message m;
  for (std::size_t k = 0; k < n; ++k) {
    pool_message(p, origin, k, m);
    const MessageView body{m.body, {}};
    out.push_back({m.body.size(), head8(body), tail8(body), ser.body_only() ? checksum_body_only(m.body) : checksum(m)});
  }
  return out;
}

}  // namespace
}  // namespace ipcmatrix
