#include "ipcmatrix/serialize/message.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>

// Header-only use of Debian's libxxhash: the hash inlines into the checksum loops.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace ipcmatrix {
namespace {

// splitmix64: tiny, fast and fully specified, so a seed means the same message everywhere.
// std:: distributions are implementation-defined and would break cross-host comparisons.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept {
    state_ += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Modulo bias is irrelevant for synthetic content and keeps the mapping trivially portable.
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }

 private:
  std::uint64_t state_;
};

constexpr std::array<std::string_view, 16> kSymbols = {
    "EURUSD", "USDJPY", "GBPUSD", "AUDUSD", "USDCHF", "USDCAD", "NZDUSD", "EURGBP",
    "EURJPY", "GBPJPY", "XAUUSD", "BTCUSD", "ETHUSD", "SPX500", "NAS100", "US30"};

// Common English words; uniform picks from ~100 short words give zstd roughly the 3-4x
// ratio of real prose.
constexpr std::array<std::string_view, 104> kWords = {
    "the",     "of",      "and",     "to",      "in",     "is",      "that",    "for",
    "it",      "as",      "was",     "with",    "be",     "by",      "on",      "not",
    "he",      "this",    "are",     "or",      "his",    "from",    "at",      "which",
    "but",     "have",    "an",      "had",     "they",   "you",     "were",    "their",
    "one",     "all",     "we",      "can",     "her",    "has",     "there",   "been",
    "if",      "more",    "when",    "will",    "would",  "who",     "so",      "no",
    "market",  "price",   "order",   "trade",   "buyer",  "seller",  "volume",  "quote",
    "message", "process", "memory",  "queue",   "socket", "kernel",  "latency", "through",
    "between", "before",  "after",   "under",   "system", "people",  "because", "should",
    "little",  "number",  "always",  "another", "small",  "large",   "early",   "later",
    "water",   "around",  "thought", "still",   "every",  "house",   "world",   "again",
    "while",   "where",   "right",   "place",   "found",  "point",   "state",   "never",
    "value",   "change",  "second",  "within",  "ever",   "young",   "long",    "first"};

constexpr std::array<std::string_view, 4> kVenues = {"XNAS", "XLON", "XPAR", "XTKS"};

constexpr std::int64_t kEpochNs = 1'704'067'200'000'000'000;  // 2024-01-01T00:00:00Z
constexpr std::uint64_t kDayNs = 86'400'000'000'000;
constexpr std::uint64_t kPriceTicksPerUnit = 100'000;

// Writes into a pre-sized body and silently drops whatever does not fit, so generators can
// emit whole words/lines and still hit body_bytes exactly.
class BodyWriter {
 public:
  explicit BodyWriter(std::vector<std::byte>& body) noexcept : body_(body) {}
  [[nodiscard]] bool full() const noexcept { return pos_ == body_.size(); }
  void put(std::string_view s) noexcept {
    const std::size_t n = std::min(s.size(), body_.size() - pos_);
    if (n != 0) std::memcpy(body_.data() + pos_, s.data(), n);
    pos_ += n;
  }
  void put(char c) noexcept {
    if (!full()) body_[pos_++] = static_cast<std::byte>(c);
  }
  void put_uint(std::uint64_t v, int min_digits = 1) noexcept {
    std::array<char, 24> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    const auto digits = static_cast<int>(res.ptr - buf.data());
    for (int i = digits; i < min_digits; ++i) put('0');
    put(std::string_view(buf.data(), static_cast<std::size_t>(digits)));
  }

 private:
  std::vector<std::byte>& body_;
  std::size_t pos_ = 0;
};

void fill_random(SplitMix64& rng, std::vector<std::byte>& body) noexcept {
  std::size_t i = 0;
  const std::size_t n = body.size();
  // Explicit little-endian byte order keeps the body identical on big-endian hosts.
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t x = rng.next();
    for (std::size_t k = 0; k < 8; ++k) body[i + k] = static_cast<std::byte>(x >> (8 * k));
  }
  if (i < n) {
    const std::uint64_t x = rng.next();
    for (std::size_t k = 0; i + k < n; ++k) body[i + k] = static_cast<std::byte>(x >> (8 * k));
  }
}

void fill_text(SplitMix64& rng, std::vector<std::byte>& body) noexcept {
  BodyWriter w(body);
  while (!w.full()) {
    const auto words = 6 + rng.below(12);
    for (std::uint64_t i = 0; i < words && !w.full(); ++i) {
      std::string_view word = kWords[rng.below(kWords.size())];
      if (i == 0) {
        w.put(static_cast<char>(word[0] - 'a' + 'A'));
        word.remove_prefix(1);
      }
      w.put(word);
      if (i + 1 == words) {
        w.put(". ");
      } else if (rng.below(10) == 0) {
        w.put(", ");
      } else {
        w.put(' ');
      }
    }
  }
}

void fill_records(SplitMix64& rng, std::vector<std::byte>& body) noexcept {
  BodyWriter w(body);
  std::uint64_t seq = rng.below(1'000'000);
  std::uint64_t ts_ns = static_cast<std::uint64_t>(kEpochNs) + rng.below(kDayNs);
  std::uint64_t ticks = 100'000 + rng.below(50'000);
  while (!w.full()) {
    ++seq;
    ts_ns += 1'000 * (1 + rng.below(50));  // microsecond stamps, as most feeds publish
    // Random walk, like a real tick stream; the floor keeps unsigned ticks from wrapping.
    ticks = std::max<std::uint64_t>(ticks + rng.below(21), 1'000) - 10;
    w.put_uint(seq);
    w.put(',');
    w.put_uint(ts_ns);
    w.put(',');
    w.put(kSymbols[rng.below(4)]);
    w.put(rng.below(2) == 0 ? ",BUY," : ",SELL,");
    w.put_uint(ticks / kPriceTicksPerUnit);
    w.put('.');
    w.put_uint(ticks % kPriceTicksPerUnit, 5);
    w.put(',');
    w.put_uint((1 + rng.below(20)) * 100);
    w.put(',');
    w.put(kVenues[rng.below(kVenues.size())]);
    w.put('\n');
  }
}

template <std::size_t N>
void store_le(std::array<std::byte, N>& buf, std::size_t& pos, std::uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) buf[pos++] = static_cast<std::byte>(v >> (8 * k));
}

}  // namespace

Message generate_message(std::uint64_t seed, std::size_t body_bytes, ContentMode mode) {
  Message m;
  generate_message(seed, body_bytes, mode, m);
  return m;
}

void generate_message(std::uint64_t seed, std::size_t body_bytes, ContentMode mode,
                      Message& out) {
  SplitMix64 rng(seed);
  // id mirrors the seed so a stream generated from seeds base+i carries its sequence number.
  out.id = seed;
  out.timestamp_ns = kEpochNs + static_cast<std::int64_t>(rng.below(kDayNs));
  out.kind = static_cast<std::uint32_t>(rng.below(8));
  out.symbol.assign(kSymbols[rng.below(kSymbols.size())]);
  const auto feed = rng.below(32);
  out.source.assign("feed-");
  out.source.push_back(static_cast<char>('0' + feed / 10));
  out.source.push_back(static_cast<char>('0' + feed % 10));
  // Integer ticks divided once: IEEE division is correctly rounded, hence portable.
  out.price = static_cast<double>(50'000 + rng.below(200'000)) /
              static_cast<double>(kPriceTicksPerUnit);
  out.quantity = static_cast<std::int64_t>((1 + rng.below(1000)) * 1000);

  out.body.resize(body_bytes);
  switch (mode) {
    case ContentMode::random:
      fill_random(rng, out.body);
      break;
    case ContentMode::text:
      fill_text(rng, out.body);
      break;
    case ContentMode::records:
      fill_records(rng, out.body);
      break;
  }
}

std::uint64_t checksum_bytes(std::span<const std::byte> bytes, std::uint64_t seed) noexcept {
  return XXH3_64bits_withSeed(bytes.data(), bytes.size(), seed);
}

namespace {

// The non-body fields, packed little-endian so the value does not depend on host layout,
// each string's length in front so field boundaries stay unambiguous ("ab"+"c" is not
// "a"+"bc"). The body is hashed after them, in as many pieces as it arrives in: the
// streaming state gives the same value however the bytes are split.
void hash_fields(XXH3_state_t& st, const Message& m) noexcept {
  std::array<std::byte, 52> fixed{};
  std::size_t pos = 0;
  store_le(fixed, pos, m.id, 8);
  store_le(fixed, pos, static_cast<std::uint64_t>(m.timestamp_ns), 8);
  store_le(fixed, pos, m.kind, 4);
  store_le(fixed, pos, std::bit_cast<std::uint64_t>(m.price), 8);
  store_le(fixed, pos, static_cast<std::uint64_t>(m.quantity), 8);
  store_le(fixed, pos, m.symbol.size(), 8);
  store_le(fixed, pos, m.source.size(), 8);
  (void)XXH3_64bits_reset(&st);
  (void)XXH3_64bits_update(&st, fixed.data(), fixed.size());
  (void)XXH3_64bits_update(&st, m.symbol.data(), m.symbol.size());
  (void)XXH3_64bits_update(&st, m.source.data(), m.source.size());
}

}  // namespace

std::uint64_t checksum(const Message& m) noexcept {
  XXH3_state_t st;
  hash_fields(st, m);
  (void)XXH3_64bits_update(&st, m.body.data(), m.body.size());
  return XXH3_64bits_digest(&st);
}

std::uint64_t checksum_body_only(std::span<const std::byte> first, std::span<const std::byte> second) noexcept {
  static const Message kEmpty{};
  XXH3_state_t st;
  hash_fields(st, kEmpty);
  (void)XXH3_64bits_update(&st, first.data(), first.size());
  (void)XXH3_64bits_update(&st, second.data(), second.size());
  return XXH3_64bits_digest(&st);
}

}  // namespace ipcmatrix
