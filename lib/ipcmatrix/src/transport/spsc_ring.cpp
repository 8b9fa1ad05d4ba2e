#include "spsc_ring.hpp"

#include <algorithm>
#include <bit>
#include <new>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/byte_order.hpp"
#include "small_copy.hpp"

namespace ipcmatrix::detail {

namespace {
constexpr std::uint64_t kFrameAlign = 8;
constexpr std::uint64_t kHeaderBytes = 8;
// How long one futex sleep lasts before the sleeper checks that its peer still lives.
constexpr std::int64_t kSleepSliceNs = 20'000'000;
// Spin iterations between checks of the clock (hybrid) and of the peer's liveness.
constexpr std::uint32_t kSpinBurst = 256;
constexpr std::uint32_t kLivenessEveryBursts = 1024;
// Consumer: how far ahead of the frame being copied to prefetch published lines.
constexpr std::uint64_t kPrefetchAhead = 16 * kCacheLine;
// Producer, loaning in a batch: how far past the loaned frame to claim lines for writing.
constexpr std::uint64_t kClaimAhead = 16 * kCacheLine;
// Producer: at most this many bytes are claimed at once, half of L1d. Claiming a whole
// 1 MiB loaned frame pulled every line into a cache too small to keep them, so each was
// fetched twice, by the claim and again by the stores (--api loan 1 MiB stream: 0.86x
// iceoryx's msgs/s with whole frames claimed, 1.10x with 16 KiB, interleaved pairs);
// past the claim the hardware prefetcher follows the stores.
constexpr std::uint64_t kClaimMost = 256 * kCacheLine;
// Consumer: at most this many newly published bytes are prefetched at once.
constexpr std::uint64_t kPrefetchBatch = 64 * kCacheLine;

using sys::load_le64;
using sys::store_le64;

constexpr std::uint64_t frame_bytes(std::uint64_t len) noexcept {
  return (kHeaderBytes + len + kFrameAlign - 1) & ~(kFrameAlign - 1);
}

}  // namespace

void init_ring(RingHeader* h, std::uint64_t capacity, Wait wait, std::int64_t spin_ns) {
  new (h) RingHeader{};
  h->magic = kRingMagic;
  h->version = kRingVersion;
  h->wait = static_cast<std::uint32_t>(wait);
  h->capacity = capacity;
  h->spin_ns = spin_ns;
  // An eventfd ring starts armed: the first message published makes the consumer's fd
  // readable, so an event loop may poll before it ever calls try_read().
  if (wait == Wait::eventfd) h->consumer_sleeping.store(1, std::memory_order_relaxed);
}

void check_ring(const RingHeader* h, std::size_t mapped_bytes, std::string_view name) {
  if (mapped_bytes < sizeof(RingHeader) || h->magic != kRingMagic)
    throw Error("shm", name, "not an ipc-matrix ring (bad magic)");
  if (h->version != kRingVersion)
    throw Error("shm", name, "ring layout version " + std::to_string(h->version) +
                                 ", this build speaks " + std::to_string(kRingVersion));
  const auto cap = h->capacity;
  if (cap < 64 || (cap & (cap - 1)) != 0 || cap > mapped_bytes - sizeof(RingHeader))
    throw Error("shm", name, "ring capacity does not match its mapping");
  // spin, block, hybrid and eventfd are a ring's waits; Wait::kernel (and anything later) is not.
  if (h->wait > static_cast<std::uint32_t>(Wait::eventfd) || h->wait == static_cast<std::uint32_t>(Wait::kernel))
    throw Error("shm", name, "unknown wait strategy in ring header");
}

RingEnd::RingEnd(RingHeader* h, Role role, int event_fd) noexcept
    : h_(h),
      data_(reinterpret_cast<std::byte*>(h) + sizeof(RingHeader)),
      cap_(h->capacity),
      mask_(h->capacity - 1),
      wait_(static_cast<Wait>(h->wait)),
      spin_ns_(h->spin_ns),
      producer_(role == Role::sender),
      event_fd_(wait_ == Wait::eventfd ? event_fd : -1),
      peer_(&h->live, role) {
  // relaxed: nothing else has touched the ring yet when an end opens (the coordinator
  // spawned both sides after creating it), and each counter has a single writer.
  pos_ = producer_ ? h_->tail.load(std::memory_order_relaxed) : h_->head.load(std::memory_order_relaxed);
  published_ = pos_;
  peer_cache_ = producer_ ? h_->head.load(std::memory_order_acquire) : h_->tail.load(std::memory_order_acquire);
}

RingEnd::~RingEnd() {
  if (producer_) publish();
  else release_head();
  peer_.mark_closed();
  // A peer asleep waiting for us must learn that we are gone now, not at its next slice.
  if (producer_ && event_fd_ >= 0) sys::eventfd_signal(event_fd_);
  else sys::futex_wake(producer_ ? &h_->consumer_sleeping : &h_->producer_sleeping, 1);
}

void RingEnd::copy_in(std::uint64_t pos, const std::byte* src, std::size_t n) noexcept {
  if (n == 0) return;  // src may be null for an empty message; memcpy must not see it
  const std::uint64_t off = pos & mask_;
  const std::size_t first = std::min<std::uint64_t>(n, cap_ - off);
  std::memcpy(data_ + off, src, first);
  if (n > first) std::memcpy(data_, src + first, n - first);
}

bool RingEnd::write_in_known_room(std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
  const std::uint64_t len = a.size() + b.size();
  const std::uint64_t frame = frame_bytes(len);
  // frame <= known room <= capacity: the frame fits and is written whole.
  if (cap_ - (pos_ - peer_cache_) < frame) return false;
  const std::uint64_t off = pos_ & mask_;
  // Frames start 8-aligned and capacity is a multiple of 8: the header is one store.
  store_le64(data_ + off, len);
  if (off + frame <= cap_) {
    std::byte* p = data_ + off + kHeaderBytes;
    copy_bytes(p, a.data(), a.size());
    copy_bytes(p + a.size(), b.data(), b.size());
  } else {
    copy_in(pos_ + kHeaderBytes, a.data(), a.size());
    copy_in(pos_ + kHeaderBytes + a.size(), b.data(), b.size());
  }
  pos_ += frame;
  return true;
}

void RingEnd::copy_out(std::uint64_t pos, std::byte* dst, std::size_t n) const noexcept {
  if (n == 0) return;
  const std::uint64_t off = pos & mask_;
  const std::size_t first = std::min<std::uint64_t>(n, cap_ - off);
  std::memcpy(dst, data_ + off, first);
  if (n > first) std::memcpy(dst + first, data_, n - first);
}

void RingEnd::copy_payload_in(std::uint64_t pos, std::uint64_t from, std::uint64_t n, std::span<const std::byte> a,
                              std::span<const std::byte> b) noexcept {
  if (from < a.size()) {
    const std::uint64_t k = std::min<std::uint64_t>(n, a.size() - from);
    copy_in(pos, a.data() + from, k);
    pos += k;
    from += k;
    n -= k;
  }
  if (n) copy_in(pos, b.data() + (from - a.size()), n);
}

template <class Byte>
Pieces<Byte> RingEnd::pieces_at(std::uint64_t pos, std::uint64_t n) const noexcept {
  const std::uint64_t off = pos & mask_;
  const std::uint64_t first = std::min(n, cap_ - off);
  return {{data_ + off, first}, {data_, n - first}};
}

// No lost wake-up (block/hybrid): a Dekker pairing of seq_cst operations, not fences
// (ThreadSanitizer cannot check atomic_thread_fence). The waker stores its counter
// seq_cst, then loads the sleep flag seq_cst; the sleeper (await) stores the flag seq_cst,
// then loads the counter seq_cst. In the single total order of seq_cst operations one of
// the two stores comes first, so either the waker sees the flag or the sleeper sees the
// counter. On x86 this costs what store + mfence did. A spin ring has no sleeper and
// publishes with a plain release store.
//
// --wait eventfd changes only how the consumer sleeps and is woken, not the pairing: the
// consumer_sleeping word is still the flag, stored and loaded as above; the producer, having
// seen it set and cleared it (exchange, so two publishes signal once), writes the eventfd
// instead of FUTEX_WAKE, and the consumer sleeps in ppoll() on the eventfd instead of
// FUTEX_WAIT. Walk-through of the one race that matters, the consumer going to sleep while
// the producer publishes:
//   consumer: flag = 1 (seq_cst); load tail (seq_cst); ready()? no -> ppoll(efd)
//   producer: tail = pos (seq_cst); load flag (seq_cst); 1? -> flag = 0; write(efd)
// If the producer's tail store precedes the consumer's flag store in the seq_cst order, the
// consumer's tail load sees the frame and it does not sleep. Otherwise the producer's flag
// load sees 1 and it writes the eventfd; the eventfd's count persists until read, so a write
// that lands before ppoll() is called still makes ppoll() return at once: unlike a futex
// there is no "value changed before the wait" window to close. A stale count (a write for a
// frame the consumer had already seen) costs one spurious wake-up, after which the count is
// read back to 0. The producer's own wait for room, and its wake-up by the consumer, stay
// on the futex: only the consumer's wait is what an event loop polls.
void RingEnd::store_counter(std::atomic<std::uint64_t>& counter, std::atomic<std::uint32_t>& word) noexcept {
  if (wait_ == Wait::spin) {
    counter.store(pos_, std::memory_order_release);
    return;
  }
  counter.store(pos_, std::memory_order_seq_cst);
  if (word.load(std::memory_order_seq_cst) != 0 && word.exchange(0, std::memory_order_relaxed) != 0) {
    if (producer_ && event_fd_ >= 0) sys::eventfd_signal(event_fd_);  // word is consumer_sleeping
    else sys::futex_wake(&word, 1);
  }
}

void RingEnd::publish() noexcept {
  if (published_ == pos_) return;
  published_ = pos_;
  // release (or seq_cst): the frame bytes written by copy_in become visible to the
  // consumer's acquire load of tail in read()/await().
  store_counter(h_->tail, h_->consumer_sleeping);
}

void RingEnd::release_head() noexcept {
  if (published_ == pos_) return;
  published_ = pos_;
  // release (or seq_cst): our reads of the data area happen before the producer's
  // acquire load of head lets it overwrite those bytes.
  store_counter(h_->head, h_->producer_sleeping);
}

void RingEnd::release_head_lazily() noexcept {
  // Returning space in steps of capacity/8 instead of per frame saves a store and, for
  // block/hybrid rings, a seq_cst store per message. Safe: the consumer releases everything
  // before it waits (read()), so a producer waiting for room is never left waiting on
  // bytes the consumer has already taken.
  if (pos_ - published_ >= cap_ / 8) release_head();
}

template <class Ready>
IoStatus RingEnd::await(Ready ready, const std::atomic<std::uint64_t>& watched,
                        std::atomic<std::uint32_t>& sleep_word) noexcept {
  if (ready()) return IoStatus::ok;
  // eventfd spins first exactly as hybrid does (spin_ns 0: not at all).
  const bool spins_first = wait_ == Wait::hybrid || wait_ == Wait::eventfd;
  const std::int64_t spin_until = spins_first ? sys::monotonic_ns() + spin_ns_ : 0;
  std::uint32_t bursts = 0;
  while (true) {
    const bool spinning = wait_ == Wait::spin ||
                          (spins_first && (bursts % 4 != 0 || sys::monotonic_ns() < spin_until));
    if (spinning) {
      for (std::uint32_t i = 0; i < kSpinBurst; ++i) {
        if (ready()) return IoStatus::ok;
        sys::cpu_relax();
      }
      if (++bursts % kLivenessEveryBursts == 0 && peer_.peer_gone()) return ready() ? IoStatus::ok : IoStatus::peer_closed;
      if (peer_.peer_closed()) return ready() ? IoStatus::ok : IoStatus::peer_closed;
      continue;
    }
    // seq_cst store, then seq_cst load of the awaited counter: the sleeper's half of the
    // pairing in store_counter(). ready() then reads a value at least as new.
    sleep_word.store(1, std::memory_order_seq_cst);
    (void)watched.load(std::memory_order_seq_cst);
    if (ready()) {
      sleep_word.store(0, std::memory_order_relaxed);
      return IoStatus::ok;
    }
    // The consumer of an eventfd ring sleeps on the eventfd (see store_counter()); a slice
    // that ends unsignalled is the futex's ETIMEDOUT.
    const bool timed_out = !producer_ && event_fd_ >= 0 ? !sys::eventfd_wait(event_fd_, kSleepSliceNs)
                                                        : sys::futex_wait(&sleep_word, 1, kSleepSliceNs) == ETIMEDOUT;
    if (ready()) return IoStatus::ok;
    if (timed_out || peer_.peer_closed()) {
      if (peer_.peer_gone()) return ready() ? IoStatus::ok : IoStatus::peer_closed;
    }
  }
}

IoStatus RingEnd::write(std::span<const std::byte> a, std::span<const std::byte> b, bool publish_now) noexcept {
  // Fast path: the whole frame fits in the room we already know about.
  if (write_in_known_room(a, b)) {
    if (publish_now) publish();
    return IoStatus::ok;
  }
  const std::uint64_t len = a.size() + b.size();
  const std::uint64_t frame = frame_bytes(len);
  const bool fits = frame <= cap_;
  std::byte hdr[kHeaderBytes];
  store_le64(hdr, len);
  if (peer_.peer_closed()) return IoStatus::peer_closed;

  std::uint64_t off = 0;  // progress through the frame: [0,8) header, [8,8+len) payload
  while (off < frame) {
    const std::uint64_t want = fits ? frame : std::min(frame - off, cap_ / 4);
    if (const IoStatus s = await_room(want); s != IoStatus::ok) return s;
    const std::uint64_t n = std::min(cap_ - (pos_ - peer_cache_), frame - off);
    // Copy the part of [off, off+n) that overlaps the header, then the payload.
    std::uint64_t p = pos_, o = off;
    if (o < kHeaderBytes) {
      const std::uint64_t k = std::min(kHeaderBytes - o, n);
      copy_in(p, hdr + o, k);
      p += k;
      o += k;
    }
    if (o < kHeaderBytes + len && o < off + n) {
      const std::uint64_t k = std::min(kHeaderBytes + len, off + n) - o;
      copy_payload_in(p, o - kHeaderBytes, k, a, b);
    }
    pos_ += n;  // padding bytes are skipped, not written
    off += n;
    if (!fits && off < frame) publish();
  }
  if (publish_now || !fits) publish();
  return IoStatus::ok;
}

IoStatus RingEnd::write_batch(std::span<const GatherMessage> msgs) noexcept {
  std::uint64_t total = 0;
  for (const auto& m : msgs) total += frame_bytes(m.size());
  if (cap_ - (pos_ - peer_cache_) < total) peer_cache_ = h_->head.load(std::memory_order_acquire);
  // Ask for ownership of every line the batch will fill, inside room the consumer has
  // already released, before writing any: the cross-core invalidations then proceed in
  // parallel instead of one store-buffer stall per line (perf showed the producer bound
  // by those stalls; a real PREFETCHW took 64 B streaming from 28 M to 31-34 M msgs/s). Not done for single sends: in a ping-pong the extra coherence
  // traffic would land on the critical path. Bounded by kClaimMost, as in loan().
  const std::uint64_t end = pos_ + std::min({total, cap_ - (pos_ - peer_cache_), kClaimMost});
  for (std::uint64_t a = pos_ & ~std::uint64_t{kCacheLine - 1}; a < end; a += kCacheLine)
    sys::prefetch_for_write(data_ + (a & mask_));
  for (const auto& m : msgs) {
    if (write_in_known_room(m.head, m.body)) continue;  // inlined: the common case
    if (const IoStatus s = write(m.head, m.body, false); s != IoStatus::ok) return s;
  }
  publish();  // one tail store for the whole batch
  return IoStatus::ok;
}

IoStatus RingEnd::read(std::span<std::byte> buf, std::size_t& len, std::error_code& ec) noexcept {
  len = 0;
  auto has = [&](std::uint64_t want) { return has_data(want); };
  if (peer_cache_ - pos_ >= kHeaderBytes) {
    // Fast path: a whole published frame is already known to be there (the producer
    // publishes whole frames unless they are larger than the ring).
    const std::uint64_t n = load_le64(data_ + (pos_ & mask_));
    const std::uint64_t frame = frame_bytes(n);
    if (frame <= cap_ && peer_cache_ - pos_ >= frame && n <= buf.size()) {
      // Pull published lines a few frames ahead across cores while this one is copied;
      // only published ones: prefetching a line the producer has yet to write would
      // fetch a copy it must then invalidate.
      if (peer_cache_ - pos_ >= frame + kPrefetchAhead)
        __builtin_prefetch(data_ + ((pos_ + frame + kPrefetchAhead) & mask_ & ~std::uint64_t{kCacheLine - 1}));
      const std::uint64_t at = (pos_ + kHeaderBytes) & mask_;
      if (at + n <= cap_) copy_bytes(buf.data(), data_ + at, n);
      else copy_out(pos_ + kHeaderBytes, buf.data(), n);
      pos_ += frame;
      release_head_lazily();
      len = n;
      return IoStatus::ok;
    }
  }
  if (!has(kHeaderBytes)) {
    release_head();  // never wait while holding consumed bytes the producer may need
    if (auto s = await([&] { return has(kHeaderBytes); }, h_->tail, h_->consumer_sleeping); s != IoStatus::ok)
      return s;
  }
  std::byte hdr[kHeaderBytes];
  copy_out(pos_, hdr, kHeaderBytes);
  const std::uint64_t n = load_le64(hdr);
  if (n > buf.size()) {
    ec = std::make_error_code(std::errc::message_size);
    return IoStatus::error;
  }
  const std::uint64_t frame = frame_bytes(n);
  const bool fits = frame <= cap_;
  std::uint64_t off = kHeaderBytes;
  pos_ += kHeaderBytes;
  while (off < frame) {
    const std::uint64_t want = fits ? frame - off : std::min(frame - off, cap_ / 4);
    if (!has(want)) {
      release_head();
      if (auto s = await([&] { return has(want); }, h_->tail, h_->consumer_sleeping); s != IoStatus::ok) {
        // The producer vanished mid-frame: what we hold is a truncated message.
        if (s == IoStatus::peer_closed) ec = std::make_error_code(std::errc::bad_message);
        return s == IoStatus::peer_closed ? IoStatus::error : s;
      }
    }
    const std::uint64_t k = std::min(peer_cache_ - pos_, frame - off);
    if (off < kHeaderBytes + n) {
      const std::uint64_t c = std::min(kHeaderBytes + n, off + k) - off;
      copy_out(pos_, buf.data() + (off - kHeaderBytes), c);
    }
    pos_ += k;
    off += k;
    if (!fits) release_head();
  }
  if (fits) release_head_lazily();
  len = n;
  return IoStatus::ok;
}

IoStatus RingEnd::try_read(std::span<std::byte> buf, std::size_t& len, std::error_code& ec) noexcept {
  len = 0;
  if (!has_data(kHeaderBytes)) {
    release_head();  // never leave consumed bytes unreturned while the caller goes away
    if (event_fd_ >= 0) {
      // Arm, as await() does before it sleeps, then look once more: the same seq_cst
      // pairing with store_counter(). Drained first, so a stale count cannot make the
      // caller's next poll return at once; a count written after the drain is for a frame
      // the second look sees (one spurious wake-up) or for a later one (the one needed).
      sys::eventfd_drain(event_fd_);
      h_->consumer_sleeping.store(1, std::memory_order_seq_cst);
      (void)h_->tail.load(std::memory_order_seq_cst);
    }
    if (!has_data(kHeaderBytes)) {
      if (!peer_.peer_closed()) return IoStatus::would_block;
      // The producer publishes before it marks itself closed: look again after seeing it.
      if (!has_data(kHeaderBytes)) return IoStatus::peer_closed;
    }
    if (event_fd_ >= 0) h_->consumer_sleeping.store(0, std::memory_order_relaxed);
  }
  // A frame has started: read() finishes it (waiting only while a frame larger than the
  // ring streams in, which the producer is in the middle of sending).
  return read(buf, len, ec);
}

IoStatus RingEnd::loan(std::uint64_t len, LoanedSpace& space, std::error_code& ec) noexcept {
  const std::uint64_t frame = frame_bytes(len);
  if (frame > cap_) {
    ec = std::make_error_code(std::errc::message_size);
    return IoStatus::error;
  }
  if (const IoStatus s = await_room(frame); s != IoStatus::ok) return s;
  // Claim the frame's lines (its first kClaimMost bytes) for writing now, inside room the
  // consumer has released, as write_batch() does for a batch. Mid-batch (frames committed
  // but not yet published), claim kClaimAhead further too: the next loans' invalidations
  // then run while this frame is written, where claiming only the frame itself left one
  // cross-core stall per loan (perf: 64 B loans at 8 M msgs/s, the producer's time on the
  // stores). claimed_ keeps each line to one claim. A batch's first loan claims nothing
  // ahead, so a ping-pong (publishing every commit) adds no coherence traffic to its
  // critical path.
  const std::uint64_t ahead = published_ != pos_ ? kClaimAhead : 0;
  const std::uint64_t claim_end = std::min(pos_ + std::min(frame, kClaimMost) + ahead, peer_cache_ + cap_);
  for (std::uint64_t a = std::max(claimed_, pos_) & ~std::uint64_t{kCacheLine - 1}; a < claim_end; a += kCacheLine)
    sys::prefetch_for_write(data_ + (a & mask_));
  claimed_ = std::max(claimed_, claim_end);
  space = pieces_at<std::byte>(pos_ + kHeaderBytes, len);
  loaned_ = len;
  return IoStatus::ok;
}

void RingEnd::commit(bool publish_now) noexcept {
  // The caller's writes into the loaned space and this header store become visible
  // together at the release store of tail in publish(), as write()'s copies do.
  store_le64(data_ + (pos_ & mask_), loaned_);
  pos_ += frame_bytes(loaned_);
  loaned_ = 0;
  if (publish_now) publish();
}

IoStatus RingEnd::await_room(std::uint64_t want) noexcept {
  if (cap_ - (pos_ - peer_cache_) >= want) return IoStatus::ok;
  // acquire: pairs with release_head(); the consumer is done with those bytes.
  peer_cache_ = h_->head.load(std::memory_order_acquire);
  if (cap_ - (pos_ - peer_cache_) >= want) return IoStatus::ok;
  if (peer_.peer_closed()) return IoStatus::peer_closed;
  publish();  // never sleep on unpublished bytes: the consumer could wait on them
  return await(
      [&] {
        peer_cache_ = h_->head.load(std::memory_order_acquire);
        return cap_ - (pos_ - peer_cache_) >= want;
      },
      h_->head, h_->producer_sleeping);
}

bool RingEnd::has_data(std::uint64_t want) noexcept {
  if (peer_cache_ - pos_ >= want) return true;
  const std::uint64_t seen = peer_cache_;
  // acquire: pairs with the release store in publish(); the frame bytes are visible.
  peer_cache_ = h_->tail.load(std::memory_order_acquire);
  // Newly published lines (a batch): start fetching them all across cores now, in
  // parallel, rather than one miss per line as the copies (or in-place reads) reach them.
  const std::uint64_t end = std::min(peer_cache_, seen + kPrefetchBatch);
  for (std::uint64_t a = seen & ~std::uint64_t{kCacheLine - 1}; a < end; a += kCacheLine)
    __builtin_prefetch(data_ + (a & mask_));
  return peer_cache_ - pos_ >= want;
}

IoStatus RingEnd::await_data(std::uint64_t want) noexcept {
  if (has_data(want)) return IoStatus::ok;
  release_head();  // never wait while holding consumed bytes the producer may need
  return await([&] { return has_data(want); }, h_->tail, h_->consumer_sleeping);
}

IoStatus RingEnd::peek(MessageView& view, std::vector<std::byte>& overflow, std::error_code& ec) noexcept {
  if (const IoStatus s = await_data(kHeaderBytes); s != IoStatus::ok) return s;
  const std::uint64_t n = load_le64(data_ + (pos_ & mask_));
  const std::uint64_t frame = frame_bytes(n);
  if (frame > cap_) {
    // Streamed through the ring in pieces: it cannot be shown in place.
    if (overflow.size() < n) {
      try {
        overflow.resize(n);
      } catch (...) {
        ec = std::make_error_code(std::errc::not_enough_memory);
        return IoStatus::error;
      }
    }
    std::size_t len = 0;
    if (const IoStatus s = read(overflow, len, ec); s != IoStatus::ok) return s;
    view = {{overflow.data(), len}, {}};
    peeked_ = 0;
    return IoStatus::ok;
  }
  if (const IoStatus s = await_data(frame); s != IoStatus::ok) {
    // The producer vanished mid-frame: what is there is a truncated message.
    if (s == IoStatus::peer_closed) ec = std::make_error_code(std::errc::bad_message);
    return s == IoStatus::peer_closed ? IoStatus::error : s;
  }
  view = pieces_at<const std::byte>(pos_ + kHeaderBytes, n);
  peeked_ = frame;
  return IoStatus::ok;
}

void RingEnd::release() noexcept {
  if (peeked_ == 0) return;
  pos_ += peeked_;
  peeked_ = 0;
  release_head_lazily();
}

}  // namespace ipcmatrix::detail
