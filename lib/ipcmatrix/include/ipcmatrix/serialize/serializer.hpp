#pragma once
/// @file serializer.hpp
/// Encoding a Message to bytes and back: the Serializer interface, its options, and the
/// registry that turns names such as "json" or "zstd+binary" into instances.

#include <cstddef>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ipcmatrix/serialize/message.hpp"

namespace ipcmatrix {

/// Thrown by Serializer::decode for malformed, truncated, oversized or hostile input.
/// Decoding never throws anything else for bad input (std::bad_alloc aside).
class DecodeError : public std::runtime_error {
 public:
  using runtime_error::runtime_error;
};

/// Limits and tuning shared by all serializers. make_serializer() validates them.
struct SerializerOptions {
  /// zstd compression level, 1..19; anything else makes make_serializer() throw Error.
  int zstd_level = 1;
  /// Cap on a decoded body and on a zstd frame's decompressed size, in bytes.
  std::size_t max_decoded_bytes = 256u << 20;
  /// Cap on nesting depth when parsing json/msgpack/cbor (the message object is depth 1);
  /// must be >= 1.
  int max_json_depth = 64;
};

/// Encodes a Message to bytes and back. Instances are immutable after creation apart from
/// reusable scratch buffers and compression contexts, so an instance may be used by one thread
/// at a time only: create one per thread/process.
class Serializer {
 public:
  virtual ~Serializer() = default;
  /// Registry name, e.g. "json" or "zstd+json".
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  /// Replaces out's contents with the encoding of `m`, reusing out's capacity (no allocation
  /// in steady state where the underlying library allows it). Throws Error only when `m`
  /// cannot be represented (e.g. json with a symbol that is not valid UTF-8).
  virtual void encode(const Message& m, std::vector<std::byte>& out) const = 0;
  /// Replaces m's contents, reusing its capacity. Throws DecodeError on any bad input, after
  /// which `m` holds unspecified (but valid) contents. Whatever lengths the input claims,
  /// memory use stays within max_decoded_bytes plus a small multiple of the input size.
  virtual void decode(std::span<const std::byte> bytes, Message& m) const = 0;
  /// true when decode(encode(m)) restores only the body (raw); false when every field survives.
  [[nodiscard]] virtual bool body_only() const noexcept { return false; }
};

/// One line of the registry table: each serializer's source file defines one of these
/// (e.g. `extern const SerializerSpec kJsonSerializer;`) and registry.cpp lists them.
struct SerializerSpec {
  std::string_view name;
  std::string_view description;
  /// Builds an instance; options have already been validated by make_serializer().
  std::unique_ptr<Serializer> (*make)(const SerializerOptions&);
};

/// Name and one-line description of a registered serializer, for --list style output.
struct SerializerInfo {
  std::string_view name;
  std::string_view description;
};

/// The registered base serializers in a fixed order (raw, binary, json, msgpack, cbor),
/// followed by one entry for the "zstd" decorator. Thread-safe.
[[nodiscard]] const std::vector<SerializerInfo>& serializer_infos();

/// Every name make_serializer() accepts, from the registry: the base serializers,
/// "zstd+<base>" for each, and "zstd" alone (= "zstd+binary"). --serializers accepts these.
[[nodiscard]] std::vector<std::string> valid_serializer_names();

/// Whether the named serializer puts the body on the wire as it is (Serializer::body_only(),
/// e.g. raw), so a frame is no longer than the body. false for an unknown name.
[[nodiscard]] bool serializer_is_body_only(std::string_view name) noexcept;

/// The names the matrix uses by default ("all"): raw, binary, json, msgpack, cbor,
/// zstd+binary, zstd+json.
[[nodiscard]] std::vector<std::string> default_serializer_names();

/// Creates the serializer called `name`: a base name ("raw", "binary", "json", "msgpack",
/// "cbor"), "zstd+<base>", or "zstd" alone, which means "zstd+binary". Throws
/// ipcmatrix::Error (component "serializer", object = the name) for an unknown name, with the
/// valid names in the message, or for invalid options.
[[nodiscard]] std::unique_ptr<Serializer> make_serializer(std::string_view name,
                                                          const SerializerOptions& opts = {});

/// Wraps `inner` in zstd compression; the result is named "zstd+" + inner->name(). Prefer
/// make_serializer() unless `inner` is a serializer the registry does not know. Throws
/// ipcmatrix::Error if opts.zstd_level is outside 1..19 or zstd cannot create its contexts.
[[nodiscard]] std::unique_ptr<Serializer> make_zstd_serializer(std::unique_ptr<Serializer> inner,
                                                               const SerializerOptions& opts);

}  // namespace ipcmatrix
