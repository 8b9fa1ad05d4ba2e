#include <array>
#include <string>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/serialize/serializer.hpp"

namespace ipcmatrix {

extern const SerializerSpec kRawSerializer;
extern const SerializerSpec kBinarySerializer;
extern const SerializerSpec kJsonSerializer;
extern const SerializerSpec kMsgpackSerializer;
extern const SerializerSpec kCborSerializer;

namespace {

// An explicit table rather than static self-registration: registrars in a static library are
// dropped by the linker unless referenced (google/benchmark#1498) and run in unspecified order.
// Adding a serializer is one file plus one line here.
constexpr std::array<const SerializerSpec*, 5> kSerializers = {
    &kRawSerializer, &kBinarySerializer, &kJsonSerializer, &kMsgpackSerializer, &kCborSerializer,
};

constexpr std::string_view kComponent = "serializer";
constexpr std::string_view kZstdName = "zstd";
constexpr std::string_view kZstdPrefix = "zstd+";
constexpr std::string_view kZstdDefaultInner = "binary";
constexpr std::string_view kZstdDescription =
    "zstd compression around any other serializer: zstd+binary, zstd+json, ...";

const SerializerSpec* find_base(std::string_view name) noexcept {
  for (const auto* spec : kSerializers) {
    if (spec->name == name) return spec;
  }
  return nullptr;
}

std::string valid_names() {
  std::string s = "valid names: ";
  for (const auto* spec : kSerializers) {
    s += spec->name;
    s += ", ";
  }
  s += kZstdName;
  s += " (= zstd+binary)";
  for (const auto* spec : kSerializers) {
    s += ", ";
    s += kZstdPrefix;
    s += spec->name;
  }
  return s;
}

constexpr int kMinZstdLevel = 1;
constexpr int kMaxZstdLevel = 19;

// Options are checked even for serializers that ignore them: a bad value is a configuration
// mistake whichever cells of the matrix happen to use it.
void validate(std::string_view name, const SerializerOptions& opts) {
  if (opts.zstd_level < kMinZstdLevel || opts.zstd_level > kMaxZstdLevel) {
    throw Error(kComponent, name,
                "zstd_level must be " + std::to_string(kMinZstdLevel) + ".." +
                    std::to_string(kMaxZstdLevel) + ", got " + std::to_string(opts.zstd_level));
  }
  if (opts.max_json_depth < 1) {
    throw Error(kComponent, name,
                "max_json_depth must be >= 1, got " + std::to_string(opts.max_json_depth));
  }
}

}  // namespace

const std::vector<SerializerInfo>& serializer_infos() {
  static const std::vector<SerializerInfo> infos = [] {
    std::vector<SerializerInfo> v;
    for (const auto* spec : kSerializers) v.push_back({spec->name, spec->description});
    v.push_back({kZstdName, kZstdDescription});
    return v;
  }();
  return infos;
}

std::vector<std::string> valid_serializer_names() {
  std::vector<std::string> names;
  for (const auto* spec : kSerializers) names.emplace_back(spec->name);
  for (const auto* spec : kSerializers) names.push_back(std::string(kZstdPrefix) + std::string(spec->name));
  names.emplace_back(kZstdName);
  return names;
}

bool serializer_is_body_only(std::string_view name) noexcept {
  try {
    return make_serializer(name)->body_only();
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<std::string> default_serializer_names() {
  return {"raw", "binary", "json", "msgpack", "cbor", "zstd+binary", "zstd+json"};
}

std::unique_ptr<Serializer> make_serializer(std::string_view name, const SerializerOptions& opts) {
  validate(name, opts);
  if (const auto* spec = find_base(name)) return spec->make(opts);

  std::string_view inner_name;
  if (name == kZstdName) {
    inner_name = kZstdDefaultInner;
  } else if (name.starts_with(kZstdPrefix)) {
    inner_name = name.substr(kZstdPrefix.size());
  }
  // Only base serializers nest: "zstd+zstd+json" compresses incompressible data twice.
  if (const auto* inner = find_base(inner_name)) {
    return make_zstd_serializer(inner->make(opts), opts);
  }
  throw Error(kComponent, name, "unknown serializer; " + valid_names());
}

}  // namespace ipcmatrix
