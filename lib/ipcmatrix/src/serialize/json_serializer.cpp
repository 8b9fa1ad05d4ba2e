#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/serialize/serializer.hpp"

namespace ipcmatrix {
namespace {

using nlohmann::json;

enum class Format { json, msgpack, cbor };

// Field indices, which double as bit positions in MessageSax's mask of fields seen (hence plain
// ints rather than an enum class).
constexpr int kId = 0;
constexpr int kTimestampNs = 1;
constexpr int kKind = 2;
constexpr int kSymbol = 3;
constexpr int kSource = 4;
constexpr int kPrice = 5;
constexpr int kQuantity = 6;
constexpr int kBody = 7;
constexpr int kFieldCount = 8;
constexpr int kUnknownField = -1;
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "id", "timestamp_ns", "kind", "symbol", "source", "price", "quantity", "body"};
constexpr unsigned kAllFields = (1u << kFieldCount) - 1;

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_base64_lookup() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (std::size_t i = 0; i < kBase64Alphabet.size(); ++i) {
    t[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return t;
}
constexpr auto kBase64Lookup = make_base64_lookup();

std::string base64_encode(std::span<const std::byte> in) {
  // Sized once and filled by index: appending per character costs a capacity check per byte.
  std::string out((in.size() + 2) / 3 * 4, '=');
  auto u = [&](std::size_t i) { return std::to_integer<std::uint32_t>(in[i]); };
  std::size_t i = 0;
  std::size_t o = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = (u(i) << 16) | (u(i + 1) << 8) | u(i + 2);
    out[o++] = kBase64Alphabet[(v >> 18) & 63];
    out[o++] = kBase64Alphabet[(v >> 12) & 63];
    out[o++] = kBase64Alphabet[(v >> 6) & 63];
    out[o++] = kBase64Alphabet[v & 63];
  }
  if (const std::size_t rest = in.size() - i; rest != 0) {
    const std::uint32_t v = (u(i) << 16) | (rest == 2 ? u(i + 1) << 8 : 0);
    out[o++] = kBase64Alphabet[(v >> 18) & 63];
    out[o++] = kBase64Alphabet[(v >> 12) & 63];
    if (rest == 2) out[o] = kBase64Alphabet[(v >> 6) & 63];  // else stays '='
  }
  return out;
}

// Strict RFC 4648 decoding: padded, no whitespace, and the unused bits before padding must be
// zero, so every body has exactly one accepted encoding. Returns an error text or nullptr.
const char* base64_decode(std::string_view in, std::size_t max_bytes, std::vector<std::byte>& out) {
  if (in.size() % 4 != 0) return "base64 length is not a multiple of 4";
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=') pad = in[in.size() - 2] == '=' ? 2 : 1;
  const std::size_t n = in.size() / 4 * 3 - pad;
  if (n > max_bytes) return "base64 body exceeds max_decoded_bytes";
  out.resize(n);
  std::size_t o = 0;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    const std::size_t quad_pad = last ? pad : 0;
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      std::int8_t d = 0;
      if (k < 4 - quad_pad) {
        d = kBase64Lookup[static_cast<unsigned char>(in[i + k])];
        if (d < 0) return "invalid base64 character";
      }
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    if ((quad_pad == 1 && (v & 0xFF) != 0) || (quad_pad == 2 && (v & 0xFFFF) != 0)) {
      return "non-canonical base64 padding bits";
    }
    const std::size_t emit = 3 - quad_pad;
    for (std::size_t k = 0; k < emit; ++k) out[o++] = static_cast<std::byte>(v >> (16 - 8 * k));
  }
  return nullptr;
}

// The one mapping from Message to a JSON document, shared by all three formats. Only the body
// differs: text JSON needs base64, while msgpack/cbor carry raw bytes (json::binary) so the
// comparison between formats is not skewed by a 4/3 inflation.
json to_json(const Message& m, Format format) {
  json j = json::object();
  j[kFieldNames[kId]] = m.id;
  j[kFieldNames[kTimestampNs]] = m.timestamp_ns;
  j[kFieldNames[kKind]] = m.kind;
  j[kFieldNames[kSymbol]] = m.symbol;
  j[kFieldNames[kSource]] = m.source;
  j[kFieldNames[kPrice]] = m.price;
  j[kFieldNames[kQuantity]] = m.quantity;
  if (format == Format::json) {
    j[kFieldNames[kBody]] = base64_encode(m.body);
  } else {
    const auto* p = reinterpret_cast<const std::uint8_t*>(m.body.data());
    j[kFieldNames[kBody]] = json::binary(std::vector<std::uint8_t>(p, p + m.body.size()));
  }
  return j;
}

// Decodes straight from SAX events into a Message instead of building a DOM: the DOM costs
// ~16-40 bytes of heap per input byte for hostile input such as "[[],[],...]", whereas here
// memory is bounded by the input size (nlohmann reads strings/binaries byte by byte, never
// reserving a declared length) and by max_decoded_bytes. Depth is enforced on every container
// event, which also bounds the recursion of nlohmann's msgpack/cbor readers.
class MessageSax {
 public:
  MessageSax(Message& m, Format format, const SerializerOptions& opts) noexcept
      : m_(m),
        body_is_binary_(format != Format::json),
        max_decoded_bytes_(opts.max_decoded_bytes),
        max_depth_(opts.max_json_depth) {}

  [[nodiscard]] const std::string& error() const noexcept { return error_; }

  bool null() {
    if (!at_known_field()) return depth_ != 0 || top_level_not_object();
    // nlohmann writes a non-finite double as null, so null is how a NaN/inf price comes back.
    if (field_ == kPrice) return set_price(std::numeric_limits<double>::quiet_NaN());
    return wrong_type("null");
  }
  bool boolean(bool) {
    if (!at_known_field()) return depth_ != 0 || top_level_not_object();
    return wrong_type("boolean");
  }
  bool number_integer(json::number_integer_t v) {
    if (v >= 0) return number_unsigned(static_cast<json::number_unsigned_t>(v));
    if (!at_known_field()) return depth_ != 0 || top_level_not_object();
    switch (field_) {
      case kTimestampNs:
        return set_int(m_.timestamp_ns, v);
      case kQuantity:
        return set_int(m_.quantity, v);
      case kPrice:
        return set_price(static_cast<double>(v));
      case kId:
      case kKind:
        return fail("field '" + std::string(kFieldNames[field_]) + "' is negative");
      default:
        return wrong_type("integer");
    }
  }
  bool number_unsigned(json::number_unsigned_t v) {
    if (!at_known_field()) return depth_ != 0 || top_level_not_object();
    switch (field_) {
      case kId:
        m_.id = v;
        return mark();
      case kKind:
        if (v > std::numeric_limits<std::uint32_t>::max()) return out_of_range();
        m_.kind = static_cast<std::uint32_t>(v);
        return mark();
      case kTimestampNs:
      case kQuantity:
        if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          return out_of_range();
        }
        return set_int(field_ == kQuantity ? m_.quantity : m_.timestamp_ns,
                       static_cast<std::int64_t>(v));
      case kPrice:
        return set_price(static_cast<double>(v));
      default:
        return wrong_type("integer");
    }
  }
  bool number_float(json::number_float_t v, const json::string_t&) {
    if (!at_known_field()) return depth_ != 0 || top_level_not_object();
    if (field_ == kPrice) return set_price(v);
    return wrong_type("float");
  }
  bool string(json::string_t& s) {
    if (!at_known_field()) return depth_ != 0 || top_level_not_object();
    switch (field_) {
      case kSymbol:
        m_.symbol.assign(s);
        return mark();
      case kSource:
        m_.source.assign(s);
        return mark();
      case kBody:
        if (body_is_binary_) return wrong_type("string");
        if (const char* err = base64_decode(s, max_decoded_bytes_, m_.body)) {
          return fail("field 'body': " + std::string(err));
        }
        return mark();
      default:
        return wrong_type("string");
    }
  }
  bool binary(json::binary_t& b) {
    if (!at_known_field()) return depth_ != 0 || top_level_not_object();
    if (field_ != kBody || !body_is_binary_) return wrong_type("binary");
    if (b.size() > max_decoded_bytes_) return fail("field 'body' exceeds max_decoded_bytes");
    m_.body.resize(b.size());
    if (!b.empty()) std::memcpy(m_.body.data(), b.data(), b.size());
    return mark();
  }
  bool start_object(std::size_t) { return enter(); }
  bool start_array(std::size_t) {
    if (depth_ == 0) return top_level_not_object();
    return enter();
  }
  bool end_object() { return leave(); }
  bool end_array() { return leave(); }
  bool key(json::string_t& k) {
    if (depth_ != 1) return true;
    field_ = kUnknownField;
    for (int f = 0; f < kFieldCount; ++f) {
      if (k == kFieldNames[f]) field_ = f;
    }
    if (field_ != kUnknownField && (seen_ & (1u << field_)) != 0) {
      return fail("duplicate field '" + k + "'");
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    return fail(e.what());
  }

 private:
  // Values inside unknown keys are skipped so that a newer writer may add fields.
  [[nodiscard]] bool at_known_field() const noexcept {
    return depth_ == 1 && field_ != kUnknownField;
  }
  bool enter() {
    if (depth_ == 1 && field_ != kUnknownField) return wrong_type("container");
    if (++depth_ > max_depth_) {
      return fail("nesting deeper than max_json_depth " + std::to_string(max_depth_));
    }
    return true;
  }
  bool leave() {
    --depth_;
    if (depth_ == 1) field_ = kUnknownField;
    if (depth_ == 0 && seen_ != kAllFields) {
      for (int f = 0; f < kFieldCount; ++f) {
        if ((seen_ & (1u << f)) == 0) return fail("missing field '" + std::string(kFieldNames[f]) + "'");
      }
    }
    return true;
  }
  bool mark() {
    seen_ |= 1u << field_;
    return true;
  }
  bool set_int(std::int64_t& dst, std::int64_t v) {
    dst = v;
    return mark();
  }
  bool set_price(double v) {
    m_.price = v;
    return mark();
  }
  bool top_level_not_object() { return fail("top-level value is not an object"); }
  bool out_of_range() {
    return fail("field '" + std::string(kFieldNames[field_]) + "' out of range");
  }
  bool wrong_type(const char* got) {
    return fail("field '" + std::string(kFieldNames[field_]) + "' has wrong type (" + got + ")");
  }
  bool fail(std::string msg) {
    error_ = std::move(msg);
    return false;
  }

  Message& m_;
  bool body_is_binary_;
  std::size_t max_decoded_bytes_;
  int max_depth_;
  int depth_ = 0;
  int field_ = kUnknownField;
  unsigned seen_ = 0;
  std::string error_;
};

class NlohmannSerializer final : public Serializer {
 public:
  NlohmannSerializer(Format format, std::string_view name, const SerializerOptions& opts)
      : format_(format), name_(name), opts_(opts) {}

  [[nodiscard]] std::string_view name() const noexcept override { return name_; }

  void encode(const Message& m, std::vector<std::byte>& out) const override {
    const json j = to_json(m, format_);
    try {
      if (format_ == Format::json) {
        const std::string text = j.dump();
        assign(out, text.data(), text.size());
        return;
      }
      // nlohmann's output adapters accept std::vector<std::uint8_t>, not std::byte: encode into
      // a reused scratch vector and copy once rather than allocating a fresh vector per call.
      scratch_.clear();
      if (format_ == Format::msgpack) {
        json::to_msgpack(j, scratch_);
      } else {
        json::to_cbor(j, scratch_);
      }
      assign(out, scratch_.data(), scratch_.size());
    } catch (const json::exception& e) {
      // In practice only invalid UTF-8 in symbol/source, which text JSON cannot carry.
      throw Error("serializer", name_, e.what());
    }
  }

  void decode(std::span<const std::byte> bytes, Message& m) const override {
    MessageSax sax(m, format_, opts_);
    // char, not std::byte or unsigned char: nlohmann 3.11.2's input adapters need
    // std::char_traits of the element type.
    const auto* first = reinterpret_cast<const char*>(bytes.data());
    const auto input_format = format_ == Format::json      ? json::input_format_t::json
                              : format_ == Format::msgpack ? json::input_format_t::msgpack
                                                           : json::input_format_t::cbor;
    bool ok = false;
    try {
      ok = json::sax_parse(first, first + bytes.size(), &sax, input_format, /*strict=*/true);
    } catch (const json::exception& e) {
      throw DecodeError(std::string(name_) + ": " + e.what());
    }
    if (!ok) {
      throw DecodeError(std::string(name_) + ": " +
                        (sax.error().empty() ? std::string("malformed input") : sax.error()));
    }
  }

 private:
  static void assign(std::vector<std::byte>& out, const void* data, std::size_t n) {
    out.resize(n);
    if (n != 0) std::memcpy(out.data(), data, n);
  }

  Format format_;
  std::string_view name_;
  SerializerOptions opts_;
  mutable std::vector<std::uint8_t> scratch_;
};

std::unique_ptr<Serializer> make_json(const SerializerOptions& opts) {
  return std::make_unique<NlohmannSerializer>(Format::json, "json", opts);
}
std::unique_ptr<Serializer> make_msgpack(const SerializerOptions& opts) {
  return std::make_unique<NlohmannSerializer>(Format::msgpack, "msgpack", opts);
}
std::unique_ptr<Serializer> make_cbor(const SerializerOptions& opts) {
  return std::make_unique<NlohmannSerializer>(Format::cbor, "cbor", opts);
}

}  // namespace

extern const SerializerSpec kJsonSerializer;
extern const SerializerSpec kMsgpackSerializer;
extern const SerializerSpec kCborSerializer;
const SerializerSpec kJsonSerializer{
    "json", "nlohmann::json text, body as base64 (SAX decode, depth-capped)", make_json};
const SerializerSpec kMsgpackSerializer{
    "msgpack", "MessagePack via nlohmann::json, body as bin (SAX decode, depth-capped)",
    make_msgpack};
const SerializerSpec kCborSerializer{
    "cbor", "CBOR via nlohmann::json, body as byte string (SAX decode, depth-capped)", make_cbor};

}  // namespace ipcmatrix
