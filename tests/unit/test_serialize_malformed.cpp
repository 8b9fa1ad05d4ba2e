#include <doctest/doctest.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ipcmatrix/serialize/message.hpp"
#include "ipcmatrix/serialize/serializer.hpp"

namespace ipcmatrix {
namespace {

Message small_message();

// Every serializer whose encoding has structure that a prefix or a flipped bit can break:
// every one the registry builds except those that put the body on the wire as it is
// (raw), found by encoding, not by name, so a new registry entry is covered here too.
std::vector<std::string> structured_serializers() {
  std::vector<std::string> names;
  const Message m = small_message();
  std::vector<std::byte> wire;
  for (const auto& n : valid_serializer_names()) {
    const auto s = make_serializer(n);
    s->encode(m, wire);
    const bool verbatim = s->body_only() && std::equal(wire.begin(), wire.end(), m.body.begin(), m.body.end());
    const std::string name(s->name());
    if (!verbatim && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

std::vector<std::byte> bytes_of(std::string_view s) {
  const auto b = std::as_bytes(std::span(s));
  return {b.begin(), b.end()};
}

std::vector<std::byte> bytes_of(const std::vector<std::uint8_t>& v) {
  const auto b = std::as_bytes(std::span(v));
  return {b.begin(), b.end()};
}

std::vector<std::byte> encode_with(std::string_view name, const Message& m,
                                   const SerializerOptions& opts = {}) {
  std::vector<std::byte> wire;
  make_serializer(name, opts)->encode(m, wire);
  return wire;
}

Message small_message() { return generate_message(21, 48, ContentMode::text); }

// A hand-written valid JSON message; tests swap one part to make it invalid in one way only.
std::string json_doc(std::string_view body = R"("AAEC")", std::string_view extra = "") {
  std::string s = R"({"id":1,"timestamp_ns":-2,"kind":3,"symbol":"EURUSD","source":"feed-01",)";
  s += R"("price":1.5,"quantity":10,)";
  s += extra;
  s += R"("body":)";
  s += body;
  s += '}';
  return s;
}

nlohmann::json json_object_of(const Message& m) {
  const auto wire = encode_with("json", m);
  return nlohmann::json::parse(reinterpret_cast<const char*>(wire.data()),
                               reinterpret_cast<const char*>(wire.data() + wire.size()));
}

void check_rejects(std::string_view name, std::span<const std::byte> input,
                   const SerializerOptions& opts = {}) {
  const auto s = make_serializer(name, opts);
  Message out;
  CHECK_THROWS_AS(s->decode(input, out), DecodeError);
}

// A 13-byte zstd frame header plus an empty last raw block; the header declares
// `content_size` bytes (single-segment frame, 8-byte Frame_Content_Size field).
std::vector<std::byte> zstd_frame_declaring(std::uint64_t content_size) {
  std::vector<std::byte> f = {std::byte{0x28}, std::byte{0xB5}, std::byte{0x2F}, std::byte{0xFD},
                              std::byte{0xE0}};
  for (int k = 0; k < 8; ++k) f.push_back(static_cast<std::byte>(content_size >> (8 * k)));
  f.insert(f.end(), {std::byte{0x01}, std::byte{0x00}, std::byte{0x00}});
  return f;
}

}  // namespace

TEST_SUITE("serialize") {
  TEST_CASE("empty input is a DecodeError for every structured serializer, an empty body for raw") {
    // binary, json, msgpack, cbor, and zstd around each base serializer (raw too), at least.
    REQUIRE(structured_serializers().size() >= 9);
    for (const auto& name : structured_serializers()) {
      INFO("serializer ", std::string(name));
      check_rejects(name, {});
    }
    Message out = generate_message(1, 10, ContentMode::random);
    make_serializer("raw")->decode({}, out);
    CHECK(out == Message{});
  }

  TEST_CASE("every strict prefix of an encoded message is a DecodeError") {
    const Message m = small_message();
    for (const auto& name : structured_serializers()) {
      INFO("serializer ", std::string(name));
      const auto wire = encode_with(name, m);
      const auto s = make_serializer(name);
      Message out;
      for (std::size_t len = 0; len < wire.size(); ++len) {
        INFO("prefix length ", len, " of ", wire.size());
        CHECK_THROWS_AS(s->decode(std::span(wire).first(len), out), DecodeError);
      }
    }
  }

  TEST_CASE("single bit flips either decode or throw DecodeError, never anything else") {
    const Message m = small_message();
    for (const auto& name : structured_serializers()) {
      INFO("serializer ", std::string(name));
      auto wire = encode_with(name, m);
      const auto s = make_serializer(name);
      Message out;
      std::size_t rejected = 0;
      for (std::size_t i = 0; i < wire.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
          wire[i] ^= std::byte{1} << bit;
          // Anything other than DecodeError escapes and fails the test case.
          try {
            s->decode(wire, out);
          } catch (const DecodeError&) {
            ++rejected;
          }
          wire[i] ^= std::byte{1} << bit;
        }
      }
      CHECK(rejected > 0);
      s->decode(wire, out);
      CHECK(out.body == m.body);
      if (!s->body_only()) CHECK(out == m);
    }
  }

  TEST_CASE("binary: a declared body length of 2^60 is rejected before allocating") {
    Message m = small_message();
    m.body.clear();
    auto wire = encode_with("binary", m);
    // The body length is the last field when the body is empty.
    for (int k = 0; k < 8; ++k) wire[wire.size() - 8 + k] = static_cast<std::byte>((1ull << 60) >> (8 * k));
    check_rejects("binary", wire);
    check_rejects("binary", wire, SerializerOptions{1, SIZE_MAX, 64});
  }

  TEST_CASE("binary: bad magic, unknown version or flags, and trailing bytes are DecodeErrors") {
    const auto good = encode_with("binary", small_message());
    for (const std::size_t pos : {0, 1, 2, 3}) {
      auto bad = good;
      bad[pos] ^= std::byte{0x40};
      check_rejects("binary", bad);
    }
    auto trailing = good;
    trailing.push_back(std::byte{0});
    check_rejects("binary", trailing);
  }

  TEST_CASE("bodies over max_decoded_bytes are rejected by every serializer") {
    SerializerOptions small;
    small.max_decoded_bytes = 1000;
    const Message m = generate_message(2, 1001, ContentMode::records);
    for (const auto name : {"raw", "binary", "json", "msgpack", "cbor", "zstd+binary", "zstd+json",
                            "zstd+raw"}) {
      INFO("serializer ", name);
      check_rejects(name, encode_with(name, m), small);
      // At the cap exactly it still decodes (the zstd frame then holds cap + field overhead, so
      // only the body-level caps are checked at the boundary).
      if (!std::string_view(name).starts_with("zstd")) {
        const Message at_cap = generate_message(2, 1000, ContentMode::records);
        Message out;
        make_serializer(name, small)->decode(encode_with(name, at_cap), out);
        CHECK(out.body == at_cap.body);
      }
    }
  }

  TEST_CASE("zstd: a frame declaring 1 TiB of content is rejected before allocating") {
    const auto frame = zstd_frame_declaring(1ull << 40);
    REQUIRE(ZSTD_getFrameContentSize(frame.data(), frame.size()) == (1ull << 40));
    SerializerOptions no_cap;
    no_cap.max_decoded_bytes = SIZE_MAX;
    for (const auto name : {"zstd+binary", "zstd+raw", "zstd+json"}) {
      INFO("serializer ", name);
      check_rejects(name, frame);
      // Even with no cap, 16 bytes of frame cannot expand to 1 TiB: the plausibility bound on
      // the declared size must refuse it before the buffer is sized.
      check_rejects(name, frame, no_cap);
    }
  }

  TEST_CASE("zstd: frames without a declared size, with a wrong size, or with trailing bytes fail") {
    // Frame header without Frame_Content_Size (window descriptor instead), then an empty block.
    const std::vector<std::byte> unknown_size = {std::byte{0x28}, std::byte{0xB5}, std::byte{0x2F},
                                                 std::byte{0xFD}, std::byte{0x00}, std::byte{0x00},
                                                 std::byte{0x01}, std::byte{0x00}, std::byte{0x00}};
    REQUIRE(ZSTD_getFrameContentSize(unknown_size.data(), unknown_size.size()) ==
            ZSTD_CONTENTSIZE_UNKNOWN);
    check_rejects("zstd+raw", unknown_size);
    // Declares 100 bytes but its only block is empty.
    check_rejects("zstd+raw", zstd_frame_declaring(100));
    auto trailing = encode_with("zstd+binary", small_message());
    trailing.push_back(std::byte{0});
    check_rejects("zstd+binary", trailing);
    auto two_frames = encode_with("zstd+raw", small_message());
    const auto again = two_frames;
    two_frames.insert(two_frames.end(), again.begin(), again.end());
    check_rejects("zstd+raw", two_frames);
  }

  TEST_CASE("json: nesting 10,000 deep is a DecodeError, not a stack overflow") {
    const std::string deep_array = std::string(10000, '[') + std::string(10000, ']');
    check_rejects("json", bytes_of(deep_array));
    const std::string deep_in_object =
        json_doc(R"("AAEC")", R"("extra":)" + std::string(10000, '[') + std::string(10000, ']') + ",");
    check_rejects("json", bytes_of(deep_in_object));
    std::string deep_objects;
    for (int i = 0; i < 10000; ++i) deep_objects += R"({"a":)";
    deep_objects += "1" + std::string(10000, '}');
    check_rejects("json", bytes_of(deep_objects));
  }

  TEST_CASE("msgpack and cbor: nesting 10,000 deep is a DecodeError, not a stack overflow") {
    // fixarray(1) / array(1) repeated, around a nil: the binary readers recurse per level.
    std::vector<std::byte> msgpack(10000, std::byte{0x91});
    msgpack.push_back(std::byte{0xC0});
    check_rejects("msgpack", msgpack);
    std::vector<std::byte> cbor(10000, std::byte{0x81});
    cbor.push_back(std::byte{0xF6});
    check_rejects("cbor", cbor);
  }

  TEST_CASE("unknown fields are skipped, but count towards max_json_depth") {
    const auto s = make_serializer("json");
    Message out;
    s->decode(bytes_of(json_doc(R"("AAEC")", R"("extra":{"a":[1,2,{"b":null}]},"note":"x",)")), out);
    CHECK(out.id == 1);
    CHECK(out.timestamp_ns == -2);
    CHECK(out.body == std::vector<std::byte>{std::byte{0}, std::byte{1}, std::byte{2}});

    SerializerOptions shallow;
    shallow.max_json_depth = 2;
    make_serializer("json", shallow)->decode(bytes_of(json_doc(R"("AAEC")", R"("x":[1],)")), out);
    check_rejects("json", bytes_of(json_doc(R"("AAEC")", R"("x":[[1]],)")), shallow);
  }

  TEST_CASE("json: base64 bodies with bad characters, length or padding are DecodeErrors") {
    for (const auto body : {R"("AB$D")", R"("AAE")", R"("A===")", R"("AB==")", R"("AA=A")",
                            R"("AA AA")", R"("AAEC\n")", R"("=AAA")"}) {
      INFO("body ", body);
      check_rejects("json", bytes_of(json_doc(body)));
    }
    // Canonical forms of 0, 1 and 2 trailing bytes all decode.
    const auto s = make_serializer("json");
    Message out;
    for (const auto body : {R"("")", R"("AA==")", R"("AAA=")", R"("AAAA")"}) {
      INFO("body ", body);
      s->decode(bytes_of(json_doc(body)), out);
    }
  }

  TEST_CASE("json: missing, duplicate, mistyped or out-of-range fields are DecodeErrors") {
    const std::string valid = json_doc();
    {
      const auto s = make_serializer("json");
      Message out;
      s->decode(bytes_of(valid), out);
      CHECK(out.kind == 3);
    }
    check_rejects("json", bytes_of(R"({"id":1})"));
    check_rejects("json", bytes_of(json_doc(R"("AAEC")", R"("id":2,)")));
    check_rejects("json", bytes_of(json_doc("123")));
    check_rejects("json", bytes_of(json_doc("null")));
    check_rejects("json", bytes_of(json_doc("[]")));
    check_rejects("json", bytes_of(json_doc("{}")));
    check_rejects("json", bytes_of(R"([1,2,3])"));
    check_rejects("json", bytes_of(R"("just a string")"));
    check_rejects("json", bytes_of(R"(42)"));
    check_rejects("json", bytes_of(valid + " {}"));
    auto replace = [&](std::string_view from, std::string_view to) {
      std::string s = valid;
      s.replace(s.find(from), from.size(), to);
      return bytes_of(s);
    };
    check_rejects("json", replace(R"("id":1)", R"("id":"1")"));
    check_rejects("json", replace(R"("id":1)", R"("id":-1)"));
    check_rejects("json", replace(R"("id":1)", R"("id":1.5)"));
    check_rejects("json", replace(R"("kind":3)", R"("kind":4294967296)"));
    check_rejects("json", replace(R"("kind":3)", R"("kind":true)"));
    check_rejects("json", replace(R"("quantity":10)", R"("quantity":9223372036854775808)"));
    check_rejects("json", replace(R"("symbol":"EURUSD")", R"("symbol":7)"));
    check_rejects("json", replace(R"("price":1.5)", R"("price":"1.5")"));
    check_rejects("json", replace(R"("source":"feed-01")", R"("source":["feed-01"])"));
  }

  TEST_CASE("msgpack and cbor: a body carried as a string instead of bytes is a DecodeError") {
    nlohmann::json j = json_object_of(small_message());  // body is base64 text here
    check_rejects("msgpack", bytes_of(nlohmann::json::to_msgpack(j)));
    check_rejects("cbor", bytes_of(nlohmann::json::to_cbor(j)));
    j["id"] = "not a number";
    check_rejects("msgpack", bytes_of(nlohmann::json::to_msgpack(j)));
    check_rejects("cbor", bytes_of(nlohmann::json::to_cbor(j)));
    check_rejects("msgpack", bytes_of(nlohmann::json::to_msgpack(nlohmann::json::array({1, 2}))));
  }

  TEST_CASE("msgpack and cbor: huge declared lengths fail on the short input, not on allocation") {
    // msgpack map(1) {"body": bin32 of 0xFFFFFFFF bytes} with 3 bytes present.
    const std::vector<std::byte> msgpack_bin = bytes_of(std::vector<std::uint8_t>{
        0x81, 0xA4, 'b', 'o', 'd', 'y', 0xC6, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3});
    check_rejects("msgpack", msgpack_bin);
    check_rejects("msgpack", bytes_of(std::vector<std::uint8_t>{0xDD, 0xFF, 0xFF, 0xFF, 0xFF}));
    check_rejects("msgpack", bytes_of(std::vector<std::uint8_t>{0xDF, 0xFF, 0xFF, 0xFF, 0xFF}));
    check_rejects("msgpack", bytes_of(std::vector<std::uint8_t>{0xDB, 0xFF, 0xFF, 0xFF, 0xFF, 'a'}));
    // cbor byte string, array and map with 8-byte lengths of 2^64-1.
    for (const std::uint8_t head : {0x5B, 0x7B, 0x9B, 0xBB}) {
      std::vector<std::uint8_t> v = {head};
      v.insert(v.end(), 8, 0xFF);
      v.push_back(0);
      check_rejects("cbor", bytes_of(v));
    }
    // cbor map(1) {"body": bytes(2^40)} with nothing after.
    std::vector<std::uint8_t> cbor_body = {0xA1, 0x64, 'b', 'o', 'd', 'y', 0x5B, 0, 0, 1, 0, 0, 0, 0, 0};
    check_rejects("cbor", bytes_of(cbor_body));
  }
}

}  // namespace ipcmatrix
