#include <zstd.h>

#include <cstring>
#include <string>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/serialize/serializer.hpp"

namespace ipcmatrix {
namespace {

constexpr int kMinLevel = 1;
constexpr int kMaxLevel = 19;
// RFC 8878 3.1.1.2: a block decodes to at most 128 KiB and costs at least a 3-byte header, so
// a frame cannot expand by more than this per input byte (RLE blocks come closest).
constexpr std::size_t kMaxBlockBytes = 128 * 1024;
constexpr std::size_t kMinBlockHeaderBytes = 3;

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};

// A decorator rather than a zstd variant of each format, so every serializer gets compression
// for free and the comparison isolates the cost of compression itself.
class ZstdSerializer final : public Serializer {
 public:
  ZstdSerializer(std::unique_ptr<Serializer> inner, const SerializerOptions& opts)
      : inner_(std::move(inner)),
        name_("zstd+" + std::string(inner_->name())),
        level_(opts.zstd_level),
        max_decoded_bytes_(opts.max_decoded_bytes),
        cctx_(ZSTD_createCCtx()),
        dctx_(ZSTD_createDCtx()) {
    if (!cctx_ || !dctx_) throw Error("serializer", name_, "cannot create zstd contexts");
  }

  [[nodiscard]] std::string_view name() const noexcept override { return name_; }

  void encode(const Message& m, std::vector<std::byte>& out) const override {
    inner_->encode(m, plain_);
    const std::size_t bound = ZSTD_compressBound(plain_.size());
    // Compress into a scratch buffer kept at the largest bound seen, then copy the (usually
    // much smaller) result: sizing `out` to the bound would zero-fill bound-n bytes per call.
    if (compressed_.size() < bound) compressed_.resize(bound);
    const std::size_t n = ZSTD_compressCCtx(cctx_.get(), compressed_.data(), compressed_.size(),
                                            plain_.data(), plain_.size(), level_);
    if (ZSTD_isError(n)) throw Error("serializer", name_, ZSTD_getErrorName(n));
    out.resize(n);
    std::memcpy(out.data(), compressed_.data(), n);
  }

  void decode(std::span<const std::byte> bytes, Message& m) const override {
    // The frame must be exactly the input: trailing frames or garbage would otherwise be
    // silently ignored by the size check below or decompressed into data we never asked for.
    const std::size_t frame_bytes = ZSTD_findFrameCompressedSize(bytes.data(), bytes.size());
    if (ZSTD_isError(frame_bytes)) {
      throw DecodeError(name_ + ": bad frame: " + ZSTD_getErrorName(frame_bytes));
    }
    if (frame_bytes != bytes.size()) {
      throw DecodeError(name_ + ": " + std::to_string(bytes.size() - frame_bytes) +
                        " trailing bytes after zstd frame");
    }
    // The declared size is attacker-controlled; it bounds the one allocation we make, so it must
    // be present and within the cap before anything is allocated.
    const unsigned long long declared = ZSTD_getFrameContentSize(bytes.data(), bytes.size());
    if (declared == ZSTD_CONTENTSIZE_ERROR) throw DecodeError(name_ + ": bad frame header");
    if (declared == ZSTD_CONTENTSIZE_UNKNOWN) {
      throw DecodeError(name_ + ": frame does not declare its content size");
    }
    if (declared > max_decoded_bytes_) {
      throw DecodeError(name_ + ": frame declares " + std::to_string(declared) +
                        " bytes, over max_decoded_bytes " + std::to_string(max_decoded_bytes_));
    }
    // Refuses a frame whose claim no zstd frame of this length could meet, which keeps a
    // hostile declaration from sizing the buffer even when max_decoded_bytes is generous.
    const std::size_t max_blocks = bytes.size() / kMinBlockHeaderBytes + 1;
    if (declared / kMaxBlockBytes >= max_blocks) {
      throw DecodeError(name_ + ": frame of " + std::to_string(bytes.size()) +
                        " bytes cannot hold the " + std::to_string(declared) +
                        " bytes it declares");
    }
    const auto size = static_cast<std::size_t>(declared);
    if (plain_.size() < size) plain_.resize(size);
    const std::size_t n =
        ZSTD_decompressDCtx(dctx_.get(), plain_.data(), size, bytes.data(), bytes.size());
    if (ZSTD_isError(n)) throw DecodeError(name_ + ": " + ZSTD_getErrorName(n));
    if (n != size) {
      throw DecodeError(name_ + ": frame decompressed to " + std::to_string(n) +
                        " bytes but declared " + std::to_string(size));
    }
    inner_->decode(std::span<const std::byte>(plain_.data(), size), m);
  }

  [[nodiscard]] bool body_only() const noexcept override { return inner_->body_only(); }

 private:
  std::unique_ptr<Serializer> inner_;
  std::string name_;
  int level_;
  std::size_t max_decoded_bytes_;
  // Contexts and buffers are created once and reused: allocating them per message would
  // dominate the cost at small sizes. This is why an instance is single-threaded.
  std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx_;
  std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx_;
  mutable std::vector<std::byte> plain_;
  mutable std::vector<std::byte> compressed_;
};

}  // namespace

std::unique_ptr<Serializer> make_zstd_serializer(std::unique_ptr<Serializer> inner,
                                                 const SerializerOptions& opts) {
  if (!inner) throw Error("serializer", "zstd", "no inner serializer");
  if (opts.zstd_level < kMinLevel || opts.zstd_level > kMaxLevel) {
    throw Error("serializer", "zstd+" + std::string(inner->name()),
                "zstd_level must be 1..19, got " + std::to_string(opts.zstd_level));
  }
  return std::make_unique<ZstdSerializer>(std::move(inner), opts);
}

}  // namespace ipcmatrix
