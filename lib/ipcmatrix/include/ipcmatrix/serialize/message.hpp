#pragma once
/// @file message.hpp
/// The record every serializer encodes, a deterministic generator for it, and the
/// checksum transports use to verify that a message arrived intact.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmatrix/model/vocabulary.hpp"

namespace ipcmatrix {

/// A realistic record. The body length is the message "size" the user asks for
/// (size_bytes == body.size()); the other fields are a small, roughly constant overhead.
struct Message {
  std::uint64_t id = 0;
  std::int64_t timestamp_ns = 0;
  std::uint32_t kind = 0;
  std::string symbol;  ///< short instrument name, e.g. "EURUSD"
  std::string source;  ///< producing feed, e.g. "feed-07"
  double price = 0;
  std::int64_t quantity = 0;
  std::vector<std::byte> body;
  bool operator==(const Message&) const = default;
};

/// Builds a message from `seed`. Deterministic: the same (seed, body_bytes, mode) gives an
/// identical message on any machine and compiler (own PRNG, integer-only arithmetic).
/// body.size() == body_bytes exactly. Allocates the body; see the overload to reuse one.
[[nodiscard]] Message generate_message(std::uint64_t seed, std::size_t body_bytes,
                                       ContentMode mode);

/// Same as above but overwrites `out`, reusing its string and body capacity.
void generate_message(std::uint64_t seed, std::size_t body_bytes, ContentMode mode,
                      Message& out);

/// 64-bit checksum over every field of `m`, body included: XXH3 (Debian's libxxhash), tens of
/// GB/s. Deterministic across processes, runs and hosts. Thread-safe.
[[nodiscard]] std::uint64_t checksum(const Message& m) noexcept;

/// checksum() of a message whose only content is the body `first` followed by `second`
/// (every other field default): what a raw receiver checks without building a Message,
/// over a body that may arrive in two pieces (a ring that wraps). Thread-safe.
[[nodiscard]] std::uint64_t checksum_body_only(std::span<const std::byte> first,
                                               std::span<const std::byte> second = {}) noexcept;

/// 64-bit checksum of a byte range: XXH3_64bits_withSeed, so values can be cross-checked
/// with `xxhsum -H3`. Thread-safe.
[[nodiscard]] std::uint64_t checksum_bytes(std::span<const std::byte> bytes,
                                           std::uint64_t seed = 0) noexcept;

}  // namespace ipcmatrix
