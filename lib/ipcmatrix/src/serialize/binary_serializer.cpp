#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/serialize/serializer.hpp"

namespace ipcmatrix {
namespace {

// Wire format v1, all integers little-endian whatever the host:
//   'I' 'M' version:u8 flags:u8(=0)
//   id:u64 timestamp_ns:i64 kind:u32 price:f64(IEEE bits) quantity:i64
//   symbol_len:u32 symbol  source_len:u32 source  body_len:u64 body
// The magic and version let a reader reject foreign or future data instead of misparsing it.
constexpr std::uint8_t kMagic0 = 'I';
constexpr std::uint8_t kMagic1 = 'M';
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kFixedBytes = 4 + 8 + 8 + 4 + 8 + 8 + 4 + 4 + 8;

class Writer {
 public:
  explicit Writer(std::byte* p) noexcept : p_(p) {}
  void u8(std::uint8_t v) noexcept { *p_++ = static_cast<std::byte>(v); }
  void u32(std::uint32_t v) noexcept { le(v, 4); }
  void u64(std::uint64_t v) noexcept { le(v, 8); }
  void bytes(const void* src, std::size_t n) noexcept {
    if (n != 0) std::memcpy(p_, src, n);
    p_ += n;
  }

 private:
  // Shifts rather than memcpy of the host value: byte order is part of the format.
  void le(std::uint64_t v, int n) noexcept {
    for (int k = 0; k < n; ++k) *p_++ = static_cast<std::byte>(v >> (8 * k));
  }
  std::byte* p_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) noexcept : in_(in) {}
  [[nodiscard]] std::size_t remaining() const noexcept { return in_.size() - pos_; }
  std::uint8_t u8(const char* what) { return static_cast<std::uint8_t>(le(1, what)); }
  std::uint32_t u32(const char* what) { return static_cast<std::uint32_t>(le(4, what)); }
  std::uint64_t u64(const char* what) { return le(8, what); }
  // Returns a view into the input; callers copy, so no allocation is sized by the input's claims.
  std::span<const std::byte> bytes(std::uint64_t n, const char* what) {
    need(n, what);
    auto s = in_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }

 private:
  void need(std::uint64_t n, const char* what) const {
    if (n > remaining()) {
      throw DecodeError(std::string("binary: truncated input reading ") + what + " (need " +
                        std::to_string(n) + " bytes, " + std::to_string(remaining()) + " left)");
    }
  }
  std::uint64_t le(int n, const char* what) {
    need(static_cast<std::uint64_t>(n), what);
    std::uint64_t v = 0;
    for (int k = 0; k < n; ++k) {
      v |= static_cast<std::uint64_t>(std::to_integer<std::uint8_t>(in_[pos_ + k])) << (8 * k);
    }
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
};

class BinarySerializer final : public Serializer {
 public:
  explicit BinarySerializer(const SerializerOptions& opts)
      : max_decoded_bytes_(opts.max_decoded_bytes) {}

  [[nodiscard]] std::string_view name() const noexcept override { return "binary"; }

  void encode(const Message& m, std::vector<std::byte>& out) const override {
    constexpr auto kMaxString = std::numeric_limits<std::uint32_t>::max();
    if (m.symbol.size() > kMaxString || m.source.size() > kMaxString) {
      throw Error("serializer", "binary", "symbol/source longer than 2^32-1 bytes");
    }
    // resize() keeps capacity, so steady-state encodes of same-sized messages do not allocate.
    out.resize(kFixedBytes + m.symbol.size() + m.source.size() + m.body.size());
    Writer w(out.data());
    w.u8(kMagic0);
    w.u8(kMagic1);
    w.u8(kVersion);
    w.u8(0);
    w.u64(m.id);
    w.u64(static_cast<std::uint64_t>(m.timestamp_ns));
    w.u32(m.kind);
    w.u64(std::bit_cast<std::uint64_t>(m.price));
    w.u64(static_cast<std::uint64_t>(m.quantity));
    w.u32(static_cast<std::uint32_t>(m.symbol.size()));
    w.bytes(m.symbol.data(), m.symbol.size());
    w.u32(static_cast<std::uint32_t>(m.source.size()));
    w.bytes(m.source.data(), m.source.size());
    w.u64(m.body.size());
    w.bytes(m.body.data(), m.body.size());
  }

  void decode(std::span<const std::byte> bytes, Message& m) const override {
    Reader r(bytes);
    if (r.u8("magic") != kMagic0 || r.u8("magic") != kMagic1) {
      throw DecodeError("binary: bad magic (not an ipc-matrix binary message)");
    }
    if (const auto version = r.u8("version"); version != kVersion) {
      throw DecodeError("binary: unsupported version " + std::to_string(version));
    }
    if (const auto flags = r.u8("flags"); flags != 0) {
      throw DecodeError("binary: unknown flags " + std::to_string(flags));
    }
    m.id = r.u64("id");
    m.timestamp_ns = static_cast<std::int64_t>(r.u64("timestamp_ns"));
    m.kind = r.u32("kind");
    m.price = std::bit_cast<double>(r.u64("price"));
    m.quantity = static_cast<std::int64_t>(r.u64("quantity"));
    assign_string(r, "symbol", m.symbol);
    assign_string(r, "source", m.source);
    const std::uint64_t body_len = r.u64("body length");
    // Both checks run before touching m.body: a hostile length must not drive an allocation.
    if (body_len > max_decoded_bytes_) {
      throw DecodeError("binary: body length " + std::to_string(body_len) +
                        " exceeds max_decoded_bytes " + std::to_string(max_decoded_bytes_));
    }
    const auto body = r.bytes(body_len, "body");
    m.body.assign(body.begin(), body.end());
    if (r.remaining() != 0) {
      throw DecodeError("binary: " + std::to_string(r.remaining()) +
                        " trailing bytes after message");
    }
  }

 private:
  void assign_string(Reader& r, const char* what, std::string& out) const {
    const std::uint32_t len = r.u32(what);
    if (len > max_decoded_bytes_) {
      throw DecodeError(std::string("binary: ") + what + " length exceeds max_decoded_bytes");
    }
    const auto s = r.bytes(len, what);
    out.assign(reinterpret_cast<const char*>(s.data()), s.size());
  }

  std::size_t max_decoded_bytes_;
};

std::unique_ptr<Serializer> make_binary(const SerializerOptions& opts) {
  return std::make_unique<BinarySerializer>(opts);
}

}  // namespace

extern const SerializerSpec kBinarySerializer;
const SerializerSpec kBinarySerializer{
    "binary", "compact versioned little-endian layout, every read bounds-checked", make_binary};

}  // namespace ipcmatrix
