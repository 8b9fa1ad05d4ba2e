#pragma once
// The single-producer single-consumer byte ring behind the `shm` mechanism.
//
// Shared layout (RingHeader, then `capacity` data bytes; capacity a power of two):
//   line 0  constants written once by the creator (magic, version, capacity, wait)
//   line 1  head: bytes consumed, written only by the consumer
//   line 2  tail: bytes published, written only by the producer
//   line 3  consumer_sleeping, line 4 producer_sleeping: futex words (with --wait eventfd
//           consumer_sleeping is the flag that tells the producer to write the eventfd)
//   line 5  LivenessBlock
// head and tail are free-running 64-bit byte counters (they never wrap in practice:
// 2^64 bytes at 100 GB/s is 5 years); a position maps to data[pos & (capacity - 1)].
//
// Invariants: head <= tail <= head + capacity. Every frame starts 8-byte aligned and is
// an 8-byte little-endian length followed by the payload, padded to a multiple of 8, so
// a frame header never straddles the end of the data area.
//
// Each side keeps a process-local cached copy of the peer's counter and reloads it only
// when the cached value says "no room" / "no data": in steady streaming the producer
// rarely touches the head line and the consumer rarely the tail line.
//
// A frame that fits (frame <= capacity) is written whole and published with one store.
// A larger frame is streamed: each side moves chunks of at least capacity/4 bytes (or
// what is left), publishing after each chunk. No deadlock: a producer blocked for
// room has published everything it wrote and sees more than 3/4 of the ring used, so the
// consumer always has at least capacity/4 bytes to take, and vice versa.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "ipcmatrix/transport/transport.hpp"
#include "liveness.hpp"

namespace ipcmatrix::detail {

inline constexpr std::uint64_t kRingMagic = 0x49504d52494e4731ull;  // "IPMRING1"
inline constexpr std::uint32_t kRingVersion = 1;

struct RingHeader {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t wait;  // Wait, shared so both ends agree
  std::uint64_t capacity;
  std::int64_t spin_ns;
  alignas(kCacheLine) std::atomic<std::uint64_t> head;
  alignas(kCacheLine) std::atomic<std::uint64_t> tail;
  alignas(kCacheLine) std::atomic<std::uint32_t> consumer_sleeping;
  alignas(kCacheLine) std::atomic<std::uint32_t> producer_sleeping;
  LivenessBlock live;
};
static_assert(offsetof(RingHeader, head) % kCacheLine == 0);
static_assert(offsetof(RingHeader, tail) % kCacheLine == 0);
static_assert(offsetof(RingHeader, tail) - offsetof(RingHeader, head) >= kCacheLine);
static_assert(sizeof(RingHeader) % kCacheLine == 0);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint32_t>) == 4, "futex words must be 32-bit");
static_assert(std::is_trivially_destructible_v<RingHeader>);

/// Initialises a header in freshly zeroed shared memory (creator only).
void init_ring(RingHeader* h, std::uint64_t capacity, Wait wait, std::int64_t spin_ns);
/// Validates a mapped header against the mapping size; throws Error.
void check_ring(const RingHeader* h, std::size_t mapped_bytes, std::string_view name);

/// One end of the ring. Not thread-safe: one thread per end.
class RingEnd {
 public:
  /// event_fd: for a Wait::eventfd ring, the channel's eventfd (not owned): the consumer
  /// sleeps on it, the producer writes it. Ignored for the other waits.
  RingEnd(RingHeader* h, Role role, int event_fd = -1) noexcept;
  ~RingEnd();
  RingEnd(const RingEnd&) = delete;
  RingEnd& operator=(const RingEnd&) = delete;

  /// Producer: one message whose payload is `a` followed by `b` (either may be empty).
  /// publish=false defers the tail store (batching); publish() makes it visible.
  [[nodiscard]] IoStatus write(std::span<const std::byte> a, std::span<const std::byte> b, bool publish) noexcept;
  void publish() noexcept;
  /// Producer: writes every message (payload head then body), then publishes once.
  [[nodiscard]] IoStatus write_batch(std::span<const GatherMessage> msgs) noexcept;
  /// Producer, zero-copy: waits for room for a frame of `len` payload bytes and returns the
  /// payload area in place. message_size (in ec) when the frame is larger than the ring.
  [[nodiscard]] IoStatus loan(std::uint64_t len, LoanedSpace& space, std::error_code& ec) noexcept;
  /// Producer: writes the loaned frame's header and moves past it; publish as in write().
  void commit(bool publish) noexcept;
  /// Consumer. ec is set when, and only when, IoStatus::error is returned (also for loan, peek).
  [[nodiscard]] IoStatus read(std::span<std::byte> buf, std::size_t& len,
                              std::error_code& ec) noexcept;
  /// Consumer, for event loops: a message if a frame has been published, else would_block
  /// without waiting. On an eventfd ring it first arms the eventfd, so it becomes readable
  /// when the next frame is published: poll it, then call try_read() until would_block.
  [[nodiscard]] IoStatus try_read(std::span<std::byte> buf, std::size_t& len, std::error_code& ec) noexcept;
  /// Consumer, zero-copy: the next message in place, held until release(). A frame larger
  /// than the ring is streamed into `overflow` (grown as needed) and viewed there.
  [[nodiscard]] IoStatus peek(MessageView& view, std::vector<std::byte>& overflow, std::error_code& ec) noexcept;
  /// Consumer: gives the peeked frame's space back (lazily, as read() does).
  void release() noexcept;
  PeerWatch& peer() noexcept { return peer_; }

 private:
  template <class Ready>
  IoStatus await(Ready ready, const std::atomic<std::uint64_t>& watched,
                 std::atomic<std::uint32_t>& sleep_word) noexcept;
  void store_counter(std::atomic<std::uint64_t>& counter, std::atomic<std::uint32_t>& word) noexcept;
  void copy_in(std::uint64_t pos, const std::byte* src, std::size_t n) noexcept;
  /// Producer: writes the frame a ++ b whole, unpublished, if it fits in the room already
  /// known (peer_cache_); false, having written nothing, otherwise. write()'s fast path,
  /// inlined into write_batch().
  [[gnu::always_inline]] inline bool write_in_known_room(std::span<const std::byte> a,
                                                         std::span<const std::byte> b) noexcept;
  /// Copies payload bytes [from, from + n) of a message whose payload is a ++ b to pos.
  void copy_payload_in(std::uint64_t pos, std::uint64_t from, std::uint64_t n, std::span<const std::byte> a,
                       std::span<const std::byte> b) noexcept;
  /// The n bytes at pos as one or two pieces (two when they wrap past the end).
  template <class Byte>
  Pieces<Byte> pieces_at(std::uint64_t pos, std::uint64_t n) const noexcept;
  /// Producer: waits until `want` bytes past pos_ are free (publishing first).
  IoStatus await_room(std::uint64_t want) noexcept;
  /// Consumer: waits until `want` bytes past pos_ are published (releasing first).
  IoStatus await_data(std::uint64_t want) noexcept;
  bool has_data(std::uint64_t want) noexcept;
  void copy_out(std::uint64_t pos, std::byte* dst, std::size_t n) const noexcept;
  void release_head() noexcept;
  void release_head_lazily() noexcept;

  RingHeader* h_;
  std::byte* data_;
  std::uint64_t cap_;
  std::uint64_t mask_;
  Wait wait_;
  std::int64_t spin_ns_;
  bool producer_;
  int event_fd_;              // Wait::eventfd: the consumer sleeps on it, the producer writes it
  std::uint64_t pos_;         // own counter (tail for producer, head for consumer)
  std::uint64_t published_;   // last value of our counter made visible (tail or head)
  std::uint64_t peer_cache_;  // cached copy of the peer's counter
  std::uint64_t loaned_ = 0;  // producer: payload bytes of the loaned, uncommitted frame
  std::uint64_t claimed_ = 0; // producer: lines before this position were claimed for writing by loan()
  std::uint64_t peeked_ = 0;  // consumer: frame bytes of the peeked, unreleased frame
  PeerWatch peer_;
};

}  // namespace ipcmatrix::detail
