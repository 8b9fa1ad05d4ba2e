#include <string>

#include "ipcmatrix/serialize/serializer.hpp"

namespace ipcmatrix {
namespace {

// The baseline: what a transport costs with no serialization at all. Only the body travels,
// so decode resets the other fields rather than leaving stale values from a previous message.
class RawSerializer final : public Serializer {
 public:
  explicit RawSerializer(const SerializerOptions& opts) : max_decoded_bytes_(opts.max_decoded_bytes) {}

  [[nodiscard]] std::string_view name() const noexcept override { return "raw"; }

  void encode(const Message& m, std::vector<std::byte>& out) const override {
    out.assign(m.body.begin(), m.body.end());
  }

  void decode(std::span<const std::byte> bytes, Message& m) const override {
    if (bytes.size() > max_decoded_bytes_) {
      throw DecodeError("raw: " + std::to_string(bytes.size()) + " bytes exceed max_decoded_bytes " +
                        std::to_string(max_decoded_bytes_));
    }
    m.id = 0;
    m.timestamp_ns = 0;
    m.kind = 0;
    m.symbol.clear();
    m.source.clear();
    m.price = 0;
    m.quantity = 0;
    m.body.assign(bytes.begin(), bytes.end());
  }

  [[nodiscard]] bool body_only() const noexcept override { return true; }

 private:
  std::size_t max_decoded_bytes_;
};

std::unique_ptr<Serializer> make_raw(const SerializerOptions& opts) {
  return std::make_unique<RawSerializer>(opts);
}

}  // namespace

extern const SerializerSpec kRawSerializer;
const SerializerSpec kRawSerializer{"raw", "body bytes only, untouched (baseline: no serialization)",
                                    make_raw};

}  // namespace ipcmatrix
