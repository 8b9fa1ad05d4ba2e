#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/serialize/message.hpp"
#include "ipcmatrix/serialize/serializer.hpp"

namespace ipcmatrix {
namespace {

/// Every serializer the registry can build, under its canonical name: a new entry in the
/// registry is covered here without touching this file.
std::vector<std::string> all_serializers() {
  std::vector<std::string> names;
  for (const auto& n : valid_serializer_names()) {
    const std::string canonical(make_serializer(n)->name());
    if (std::find(names.begin(), names.end(), canonical) == names.end()) names.push_back(canonical);
  }
  return names;
}

/// The registry's base serializers (every entry but the zstd decorator).
std::vector<std::string> base_serializers() {
  std::vector<std::string> names;
  for (const auto& info : serializer_infos()) {
    if (info.name != "zstd") names.emplace_back(info.name);
  }
  return names;
}
constexpr std::array<std::size_t, 4> kBodySizes = {0, 64, 4096, std::size_t{1} << 20};
constexpr std::array<ContentMode, 3> kModes = {ContentMode::random, ContentMode::text,
                                               ContentMode::records};

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s)); }

double zstd_ratio(ContentMode mode, std::size_t body_bytes) {
  const auto s = make_serializer("zstd+raw");
  std::vector<std::byte> wire;
  s->encode(generate_message(11, body_bytes, mode), wire);
  return static_cast<double>(body_bytes) / static_cast<double>(wire.size());
}

}  // namespace

TEST_SUITE("serialize") {
  TEST_CASE("every serializer round-trips all content modes at 0, 64, 4096 and 1 MiB bodies") {
    const auto names = all_serializers();
    REQUIRE(names.size() >= 8);  // raw, binary, json, msgpack, cbor and zstd around each
    for (const auto& name : names) {
      const auto s = make_serializer(name);
      CHECK(s->name() == name);
      CHECK(s->body_only() == serializer_is_body_only(name));
      // One wire buffer and one output message across all cases, so capacity reuse (including
      // shrinking from 1 MiB back to 0) is exercised too.
      std::vector<std::byte> wire;
      Message out;
      std::uint64_t seed = 1;
      for (const auto mode : kModes) {
        for (const auto size : kBodySizes) {
          INFO("serializer ", std::string(name), ", mode ", std::string(to_string(mode)),
               ", body ", size);
          const Message in = generate_message(seed++, size, mode);
          s->encode(in, wire);
          s->decode(wire, out);
          if (s->body_only()) {
            CHECK(out.body == in.body);
            CHECK(out.id == 0);
            CHECK(out.symbol.empty());
          } else {
            CHECK(out == in);
          }
        }
      }
    }
  }

  TEST_CASE("every serializer round-trips extreme field values") {
    Message in = generate_message(3, 100, ContentMode::random);
    in.id = UINT64_MAX;
    in.timestamp_ns = INT64_MIN;
    in.kind = UINT32_MAX;
    in.price = -1.0e-300;
    in.quantity = INT64_MAX;
    in.symbol = "";
    in.source = std::string(300, 's');
    for (const auto& name : all_serializers()) {
      INFO("serializer ", std::string(name));
      const auto s = make_serializer(name);
      if (s->body_only()) continue;
      std::vector<std::byte> wire;
      Message out;
      s->encode(in, wire);
      s->decode(wire, out);
      CHECK(out == in);
    }
  }

  TEST_CASE("json writes a non-finite price as null, which decodes as NaN") {
    Message in = generate_message(4, 10, ContentMode::text);
    in.price = std::numeric_limits<double>::infinity();
    const auto s = make_serializer("json");
    std::vector<std::byte> wire;
    Message out;
    s->encode(in, wire);
    s->decode(wire, out);
    CHECK(std::isnan(out.price));
    out.price = in.price;
    CHECK(out == in);
  }

  TEST_CASE("json refuses to encode a symbol that is not UTF-8, binary formats carry it") {
    Message in = generate_message(4, 10, ContentMode::text);
    in.symbol = "\xff\xfe";
    std::vector<std::byte> wire;
    CHECK_THROWS_AS(make_serializer("json")->encode(in, wire), Error);
    for (const auto name : {"binary", "msgpack", "cbor", "zstd+binary"}) {
      INFO("serializer ", name);
      const auto s = make_serializer(name);
      Message out;
      s->encode(in, wire);
      s->decode(wire, out);
      CHECK(out == in);
    }
  }

  TEST_CASE("registry lists its base serializers, then the zstd decorator, every name it accepts builds") {
    const auto& infos = serializer_infos();
    REQUIRE(infos.size() >= 2);
    for (const auto& info : infos) {
      INFO("serializer ", std::string(info.name));
      CHECK(!info.description.empty());
      CHECK(std::count_if(infos.begin(), infos.end(), [&](const auto& i) { return i.name == info.name; }) == 1);
    }
    CHECK(infos.back().name == "zstd");
    CHECK(infos.back().description ==
          "zstd compression around any other serializer: zstd+binary, zstd+json, ...");
    const auto bases = base_serializers();
    CHECK(bases.size() == infos.size() - 1);
    for (const auto& base : bases) CHECK(make_serializer(base)->name() == base);
    // valid_serializer_names(): each base, zstd around each, and "zstd" alone.
    const auto valid = valid_serializer_names();
    CHECK(valid.size() == 2 * bases.size() + 1);
    for (const auto& base : bases) {
      CHECK(std::find(valid.begin(), valid.end(), base) != valid.end());
      CHECK(std::find(valid.begin(), valid.end(), "zstd+" + base) != valid.end());
    }
  }

  TEST_CASE("default serializer names all construct and match the documented list") {
    const std::vector<std::string> expected = {"raw",  "binary",      "json",     "msgpack",
                                               "cbor", "zstd+binary", "zstd+json"};
    CHECK(default_serializer_names() == expected);
    for (const auto& name : default_serializer_names()) CHECK(make_serializer(name)->name() == name);
  }

  TEST_CASE("\"zstd\" alone means zstd+binary, and zstd wraps every base serializer") {
    CHECK(make_serializer("zstd")->name() == "zstd+binary");
    for (const auto& base : base_serializers()) CHECK(make_serializer("zstd+" + base)->name() == "zstd+" + base);
  }

  TEST_CASE("unknown serializer name throws Error naming it and listing valid names") {
    for (const auto name : {"protobuf", "", "zstd+", "zstd+zstd+json", "JSON", "zstd+bogus"}) {
      INFO("name '", std::string(name), "'");
      try {
        (void)make_serializer(name);
        FAIL("expected ipcmatrix::Error");
      } catch (const Error& e) {
        const std::string what = e.what();
        CHECK(e.component() == "serializer");
        CHECK(e.object() == name);
        for (const auto& valid : valid_serializer_names()) CHECK(what.find(valid) != std::string::npos);
      }
    }
  }

  TEST_CASE("zstd levels outside 1..19 and a depth cap below 1 are rejected with Error") {
    for (const int level : {0, -1, 20, 99}) {
      SerializerOptions opts;
      opts.zstd_level = level;
      CHECK_THROWS_AS((void)make_serializer("zstd+json", opts), Error);
      CHECK_THROWS_AS((void)make_serializer("zstd", opts), Error);
      CHECK_THROWS_AS((void)make_zstd_serializer(make_serializer("binary"), opts), Error);
    }
    for (const int level : {1, 19}) {
      SerializerOptions opts;
      opts.zstd_level = level;
      const auto s = make_serializer("zstd+binary", opts);
      const Message in = generate_message(5, 10000, ContentMode::text);
      std::vector<std::byte> wire;
      Message out;
      s->encode(in, wire);
      s->decode(wire, out);
      CHECK(out == in);
    }
    SerializerOptions opts;
    opts.max_json_depth = 0;
    CHECK_THROWS_AS((void)make_serializer("json", opts), Error);
  }

  TEST_CASE("generate_message is deterministic in its inputs and differs across seeds") {
    for (const auto mode : kModes) {
      INFO("mode ", std::string(to_string(mode)));
      const Message a = generate_message(42, 5000, mode);
      CHECK(a == generate_message(42, 5000, mode));
      const Message b = generate_message(43, 5000, mode);
      CHECK(a != b);
      CHECK(a.body != b.body);
      CHECK(checksum(a) != checksum(b));
      CHECK(a.id == 42);
      CHECK(!a.symbol.empty());
      CHECK(!a.source.empty());
    }
  }

  TEST_CASE("generate_message output is pinned, so every host generates the same bytes") {
    // Golden values: a change here means messages differ from those of earlier builds or other
    // machines, which breaks comparisons of checksums and compression ratios across runs.
    // The bodies through the reference hash (XXH3, `xxhsum -H3`), then whole messages.
    CHECK(checksum_bytes(generate_message(42, 256, ContentMode::random).body) == 0xcb5674b075ad0987ull);
    CHECK(checksum_bytes(generate_message(42, 256, ContentMode::text).body) == 0xec847577a99081a3ull);
    CHECK(checksum_bytes(generate_message(42, 256, ContentMode::records).body) == 0x1309b12ef19bf348ull);
    CHECK(checksum(generate_message(42, 256, ContentMode::random)) == 0x41076460427f7951ull);
    CHECK(checksum(generate_message(42, 256, ContentMode::text)) == 0x2e2a69acd4789a30ull);
    CHECK(checksum(generate_message(42, 256, ContentMode::records)) == 0xbce1b46605162734ull);
  }

  TEST_CASE("generate_message body size is exact in every mode") {
    for (const auto mode : kModes) {
      for (const std::size_t size : {0, 1, 2, 7, 8, 9, 31, 33, 64, 1000, 4096, 65537}) {
        INFO("mode ", std::string(to_string(mode)), ", size ", size);
        CHECK(generate_message(9, size, mode).body.size() == size);
      }
    }
  }

  TEST_CASE("generate_message into an existing message equals a fresh one") {
    Message reused = generate_message(1, 100000, ContentMode::random);
    reused.symbol = std::string(100, 'x');
    for (const auto mode : kModes) {
      for (const std::size_t size : {0, 17, 4096}) {
        generate_message(77, size, mode, reused);
        CHECK(reused == generate_message(77, size, mode));
      }
    }
  }

  TEST_CASE("text and records bodies are printable, records are newline-terminated CSV lines") {
    const Message text = generate_message(5, 4096, ContentMode::text);
    const Message records = generate_message(5, 4096, ContentMode::records);
    auto printable = [](std::byte b) {
      const auto c = std::to_integer<unsigned char>(b);
      return c == '\n' || (c >= 0x20 && c < 0x7f);
    };
    CHECK(std::all_of(text.body.begin(), text.body.end(), printable));
    CHECK(std::all_of(records.body.begin(), records.body.end(), printable));
    CHECK(std::count(records.body.begin(), records.body.end(), std::byte{'\n'}) > 20);
    CHECK(std::count(records.body.begin(), records.body.end(), std::byte{','}) > 100);
    CHECK(std::count(text.body.begin(), text.body.end(), std::byte{' '}) > 400);
  }

  TEST_CASE("zstd compresses text and records far better than random bodies") {
    constexpr std::size_t kBytes = 256 * 1024;
    const double random = zstd_ratio(ContentMode::random, kBytes);
    const double text = zstd_ratio(ContentMode::text, kBytes);
    const double records = zstd_ratio(ContentMode::records, kBytes);
    INFO("ratios random ", random, " text ", text, " records ", records);
    CHECK(random < 1.01);
    CHECK(text > 2.5);
    CHECK(text < 6.0);
    CHECK(records > 4.0);
    CHECK(records > text);
  }

  TEST_CASE("content modes convert to and from their names") {
    for (const auto mode : kModes) CHECK(parse_name<ContentMode>(to_string(mode)) == mode);
    CHECK(to_string(ContentMode::records) == "records");
    CHECK(!parse_name<ContentMode>("Random").has_value());
    CHECK(!parse_name<ContentMode>("").has_value());
  }

  TEST_CASE("checksum_bytes is XXH3: matches reference vectors") {
    CHECK(checksum_bytes({}) == 0x2D06800538D394C2ull);
    CHECK(checksum_bytes(bytes_of("abc")) == 0x78AF5F94892F3950ull);
    CHECK(checksum_bytes(bytes_of("abc"), 1) != checksum_bytes(bytes_of("abc")));
  }

  TEST_CASE("checksum_body_only equals the checksum of a raw-decoded message, however the body is split") {
    const Message full = generate_message(9, 1000, ContentMode::random);
    Message body_only;
    body_only.body = full.body;
    const auto want = checksum(body_only);
    const std::span<const std::byte> b(full.body);
    for (const std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{8}, std::size_t{500}, std::size_t{1000}}) {
      CAPTURE(cut);
      CHECK(checksum_body_only(b.first(cut), b.subspan(cut)) == want);
    }
    body_only.body.back() ^= std::byte{1};
    CHECK(checksum(body_only) != want);
    CHECK(checksum(full) != want);  // the other fields count
  }

  TEST_CASE("checksum covers every field of the message") {
    const Message base = generate_message(8, 1000, ContentMode::records);
    const auto h = checksum(base);
    CHECK(h == checksum(generate_message(8, 1000, ContentMode::records)));
    auto differs = [&](auto mutate) {
      Message m = base;
      mutate(m);
      return checksum(m) != h;
    };
    CHECK(differs([](Message& m) { ++m.id; }));
    CHECK(differs([](Message& m) { ++m.timestamp_ns; }));
    CHECK(differs([](Message& m) { ++m.kind; }));
    CHECK(differs([](Message& m) { m.symbol += 'X'; }));
    CHECK(differs([](Message& m) { m.source[0] = 'X'; }));
    CHECK(differs([](Message& m) { m.price += 1e-9; }));
    CHECK(differs([](Message& m) { ++m.quantity; }));
    CHECK(differs([](Message& m) { m.body[999] ^= std::byte{1}; }));
    CHECK(differs([](Message& m) { m.body.pop_back(); }));
    // Moving a byte across the symbol/source boundary must change the checksum.
    Message a = base;
    Message b = base;
    a.symbol = "AB";
    a.source = "C";
    b.symbol = "A";
    b.source = "BC";
    CHECK(checksum(a) != checksum(b));
  }
}

}  // namespace ipcmatrix
