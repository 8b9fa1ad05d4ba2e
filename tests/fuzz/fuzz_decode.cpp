// Fuzz target: every serializer's decoder. The first input byte picks the serializer (of
// default_serializer_names() plus the rest of the registry), the remaining bytes are the frame.
// Contract checked: decode() either succeeds or throws DecodeError, never anything else, and a
// frame that decodes re-encodes and decodes to the same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/serialize/serializer.hpp"

using namespace ipcmatrix;

namespace {

const std::vector<std::unique_ptr<Serializer>>& serializers() {
  static const auto all = [] {
    std::vector<std::unique_ptr<Serializer>> v;
    SerializerOptions o;
    o.max_decoded_bytes = 1u << 20;  // keep a fuzzing process small
    for (const char* name : {"raw", "binary", "json", "msgpack", "cbor", "zstd+raw", "zstd+binary", "zstd+json",
                             "zstd+msgpack", "zstd+cbor"})
      v.push_back(make_serializer(name, o));
    return v;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& all = serializers();
  const Serializer& s = *all[data[0] % all.size()];
  const std::span<const std::byte> frame(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  Message m;
  try {
    s.decode(frame, m);
  } catch (const DecodeError&) {
    return 0;
  }
  // What decodes must encode again and decode to the same message. A value the format cannot
  // carry back (say an infinite price in json) may fail either step, with the types the
  // contract names; only a silent change is a bug.
  std::vector<std::byte> again;
  Message back;
  try {
    s.encode(m, again);
    s.decode(again, back);
  } catch (const Error&) {
    return 0;
  } catch (const DecodeError&) {
    return 0;
  }
  // raw carries the body alone; the others every field (NaN prices compare unequal: skip them).
  const bool comparable = s.body_only() ? back.body == m.body : (m.price != m.price || back == m);
  if (!comparable) std::abort();
  return 0;
}
