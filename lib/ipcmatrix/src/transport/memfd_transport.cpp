// `memfd`: large messages handed over as file descriptors. The channel is a connected
// AF_UNIX SOCK_SEQPACKET socketpair made by the coordinator; the workers inherit one end
// each (as a pipe's), so there is no name to leak, and the kernel tells each end of the
// other's death (EOF, EPIPE) as it does for a pipe: no wait slices or liveness block needed.
// One record is one seqpacket message, so boundaries are kept without framing
// (memfd_wire.hpp has the records).
//
// Messages up to wire::kInlineMaxBytes (16 KiB) travel inline, in the record. A larger one
// is written into a buffer of the sender's pool: a memfd (MFD_CLOEXEC | MFD_ALLOW_SEALING),
// sized to a power of two >= max(message, 64 KiB), its pages allocated (posix_fallocate, so
// memory running out is an error there, not a fault mid-message), mapped read-write once by
// the sender, then sealed F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL.
//   - The first message in a buffer passes its fd with SCM_RIGHTS in a record {id, length,
//     capacity}. The receiver checks the seals (size fixed, write-sealed: an unsealed or
//     unsealable fd is refused with EPERM and never mapped) and that fstat's size is the
//     stated capacity, maps it PROT_READ | MAP_SHARED once, keeps the mapping by id and
//     closes the fd. Later messages in that buffer are a 24-byte record {id, length}: no fd
//     and no mmap per message.
//   - When the receiver is done with a message (recv() copied it out, or release() after
//     peek()) it writes a "free" record back on the same socket (a socketpair is two-way).
//     The sender reads them when it finds no free buffer that fits (without waiting), and
//     waits for one only when every buffer is in flight.
//   - At most wire::kMaxPoolBuffers (4) buffers, 256 MiB together (wire::kPoolBudgetBytes),
//     unless one message alone needs more. A new buffer is made while there is room; a free
//     one that is too small, or stands in the way of the budget, is retired first (a record
//     tells the receiver to unmap it), so neither end ever maps more than four.
//
// Why F_SEAL_FUTURE_WRITE and not F_SEAL_WRITE: F_SEAL_WRITE makes a memfd immutable for
// good (and cannot even be added while a writable shared mapping exists), so a buffer
// sealed with it could never carry a second message: a steady stream would make, fill, map
// and unmap a memfd per message. F_SEAL_FUTURE_WRITE (Linux 5.1) refuses write(2) and any
// new writable mapping from then on, while the sender's mapping made before the seal keeps
// working: that is what lets a buffer be reused. The receiver can therefore neither write
// nor map the buffer writable, and since its size is sealed too, it can never be cut short
// under the receiver's mapping (no SIGBUS). What the seals do not give: the sender can still
// change a buffer's bytes while the receiver reads them. Our sender writes a buffer only
// after its "free" record; a receiver that does not trust its sender copies (recv()).
//
// Copies: send() copies into the buffer and recv() out of it (one copy each side, no
// syscall per 64 KiB); loan() lends the buffer itself and peek() shows the read-only
// mapping in place: zero copies, one 24-byte record each way per message.
// Waits: in the kernel (blocking sendmsg/recvmsg, Wait::kernel); SIGPIPE is ignored and
// MSG_NOSIGNAL set, so a dead peer is EPIPE / ECONNRESET / EOF: peer_closed.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cstring>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "fd_pair_channel.hpp"
#include "memfd_wire.hpp"

namespace ipcmatrix {
namespace {

namespace wire = detail::memfd;
using wire::Record;
using wire::RecordKind;

constexpr std::string_view kName = "memfd";
constexpr std::size_t kMaxMessageBytes = std::size_t{1} << 30;
// What /proc/PID/maps and /proc/PID/fd show for a buffer ("/memfd:ipcm-memfd (deleted)").
constexpr const char* kMemfdName = "ipcm-memfd";
// MFD_NOEXEC_SEAL (Linux 6.3, include/uapi/linux/memfd.h; not in glibc 2.36's headers): asked
// for first, so that a kernel set to vm.memfd_noexec = 2 (no executable memfds) accepts ours;
// an older kernel refuses the flag with EINVAL and is asked again without it.
constexpr unsigned kMfdNoexecSeal = 0x0008U;
constexpr int kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;
// Inline messages handed to one sendmmsg (send_batch / send_gather); their records and
// iovecs are arrays in the sender, sized once, so no call allocates.
constexpr std::size_t kBatch = 64;

bool peer_gone(int e) noexcept { return e == EPIPE || e == ECONNRESET || e == ENOTCONN; }

std::error_code code(std::errc e) noexcept { return std::make_error_code(e); }

/// A new memfd of `capacity` bytes, its pages allocated: returns the fd or -errno.
int make_memfd(std::size_t capacity) noexcept {
  int fd = ::memfd_create(kMemfdName, MFD_CLOEXEC | MFD_ALLOW_SEALING | kMfdNoexecSeal);
  if (fd < 0 && errno == EINVAL) fd = ::memfd_create(kMemfdName, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -errno;
  sys::Fd owned(fd);
  if (sys::retry_eintr([&] { return ::ftruncate(fd, static_cast<off_t>(capacity)); }) != 0) return -errno;
  int e = EINTR;
  for (int i = 0; i < sys::kEintrRetries && e == EINTR; ++i) e = ::posix_fallocate(fd, 0, static_cast<off_t>(capacity));
  if (e != 0) return -e;
  return owned.release();
}

class MemfdSender final : public Transport {
 public:
  explicit MemfdSender(sys::Fd sock) : sock_(std::move(sock)), stage_(wire::kInlineMaxBytes) {}
  MemfdSender(const MemfdSender&) = delete;
  MemfdSender& operator=(const MemfdSender&) = delete;
  // The receiver's mappings keep the memfds alive for what it still has to read.
  ~MemfdSender() override {
    for (Buffer& b : pool_) unmap(b);
  }

  IoStatus send(std::span<const std::byte> msg) noexcept override {
    const GatherMessage m{msg, {}};
    return send_gather({&m, 1});
  }

  IoStatus send_batch(std::span<const std::span<const std::byte>> msgs) noexcept override {
    for (std::size_t i = 0; i < msgs.size(); i += kBatch) {
      std::array<GatherMessage, kBatch> chunk;
      const std::size_t n = std::min(kBatch, msgs.size() - i);
      for (std::size_t k = 0; k < n; ++k) chunk[k] = {msgs[i + k], {}};
      if (const IoStatus s = send_gather({chunk.data(), n}); s != IoStatus::ok) return s;
    }
    return IoStatus::ok;
  }

  IoStatus send_gather(std::span<const GatherMessage> msgs) noexcept override {
    std::size_t i = 0;
    while (i < msgs.size()) {
      if (msgs[i].size() > wire::kInlineMaxBytes) {
        if (const IoStatus s = put_pooled(msgs[i]); s != IoStatus::ok) return s;
        ++i;
        continue;
      }
      std::size_t n = 1;
      while (n < kBatch && i + n < msgs.size() && msgs[i + n].size() <= wire::kInlineMaxBytes) ++n;
      if (const IoStatus s = put_inline(msgs.subspan(i, n)); s != IoStatus::ok) return s;
      i += n;
    }
    return IoStatus::ok;
  }

  IoStatus loan(std::size_t len, LoanedSpace& space) noexcept override {
    if (len > kMaxMessageBytes) return fail(code(std::errc::message_size));
    loaned_len_ = len;
    loaned_ = nullptr;
    if (len <= wire::kInlineMaxBytes) {
      space = {{stage_.data(), len}, {}};
      return IoStatus::ok;
    }
    if (const IoStatus s = acquire(len, loaned_); s != IoStatus::ok) return s;
    space = {{loaned_->base, len}, {}};
    return IoStatus::ok;
  }

  // Sent at once whatever `publish` says: the record is all there is to publish, and the
  // receiver may as well start on it.
  IoStatus commit(bool) noexcept override {
    if (loaned_ == nullptr) {
      const GatherMessage m{{stage_.data(), loaned_len_}, {}};
      return put_inline({&m, 1});
    }
    return hand_over(*std::exchange(loaned_, nullptr), loaned_len_);
  }

  // One-directional: this end only sends.
  IoStatus recv(std::span<std::byte>, std::size_t& len) noexcept override {
    len = 0;
    return fail(code(std::errc::operation_not_supported));
  }

 private:
  struct Buffer {
    std::uint32_t id = 0;
    sys::Fd fd;  ///< until the receiver has been passed it
    std::byte* base = nullptr;
    std::size_t capacity = 0;
    bool in_flight = false;  ///< the receiver has a message in it and has not freed it yet
    bool announced = false;  ///< the receiver has its fd
    [[nodiscard]] bool used() const noexcept { return base != nullptr; }
  };

  IoStatus gone_or_fail(int e) noexcept { return peer_gone(e) ? IoStatus::peer_closed : fail_errno(e); }

  // Up to kBatch inline messages, one record each, in one sendmmsg.
  IoStatus put_inline(std::span<const GatherMessage> msgs) noexcept {
    for (std::size_t k = 0; k < msgs.size(); ++k) {
      records_[k] = Record{RecordKind::inline_message, 0, msgs[k].size(), 0};
      iov_[k][0] = {&records_[k], sizeof(Record)};
      iov_[k][1] = {const_cast<std::byte*>(msgs[k].head.data()), msgs[k].head.size()};
      iov_[k][2] = {const_cast<std::byte*>(msgs[k].body.data()), msgs[k].body.size()};
      mmsg_[k] = {};
      mmsg_[k].msg_hdr.msg_iov = iov_[k].data();
      mmsg_[k].msg_hdr.msg_iovlen = iov_[k].size();
    }
    std::size_t done = 0;
    while (done < msgs.size()) {
      // A blocking socket: sendmmsg returns short only when a later record met an error,
      // which the next call reports.
      const int sent =
          ::sendmmsg(sock_.get(), mmsg_.data() + done, static_cast<unsigned>(msgs.size() - done), MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EINTR) continue;
        return gone_or_fail(errno);
      }
      done += static_cast<std::size_t>(sent);
    }
    return IoStatus::ok;
  }

  IoStatus put_pooled(const GatherMessage& m) noexcept {
    if (m.size() > kMaxMessageBytes) return fail(code(std::errc::message_size));
    Buffer* b = nullptr;
    if (const IoStatus s = acquire(m.size(), b); s != IoStatus::ok) return s;
    if (!m.head.empty()) std::memcpy(b->base, m.head.data(), m.head.size());
    if (!m.body.empty()) std::memcpy(b->base + m.head.size(), m.body.data(), m.body.size());
    return hand_over(*b, m.size());
  }

  // The record for a message of `len` bytes at the start of b; its fd the first time.
  IoStatus hand_over(Buffer& b, std::size_t len) noexcept {
    const Record r{b.announced ? RecordKind::buffer_reuse : RecordKind::buffer_new, b.id, len,
                   b.announced ? 0 : b.capacity};
    const long sent = b.announced ? sys::retry_eintr([&] { return ::send(sock_.get(), &r, sizeof r, MSG_NOSIGNAL); })
                                  : sys::send_with_fd(sock_.get(), &r, sizeof r, b.fd.get());
    if (sent < 0) return gone_or_fail(errno);
    b.in_flight = true;
    if (!b.announced) {
      b.announced = true;
      b.fd.reset();  // the receiver has its own now; our mapping keeps the memfd
    }
    return IoStatus::ok;
  }

  // A free buffer of at least len bytes: an existing one, a new one, or one that comes back.
  IoStatus acquire(std::size_t len, Buffer*& out) noexcept {
    bool drained = false;
    for (;;) {
      Buffer* smallest_free = nullptr;
      Buffer* empty = nullptr;
      out = nullptr;
      for (Buffer& b : pool_) {
        if (!b.used()) {
          if (empty == nullptr) empty = &b;
        } else if (!b.in_flight) {
          if (b.capacity >= len && (out == nullptr || b.capacity < out->capacity)) out = &b;
          if (smallest_free == nullptr || b.capacity < smallest_free->capacity) smallest_free = &b;
        }
      }
      if (out != nullptr) return IoStatus::ok;
      // Frees that arrived since: read them before growing the pool.
      if (!drained) {
        drained = true;
        if (const IoStatus s = read_frees(false); s != IoStatus::ok) return s;
        continue;
      }
      const std::size_t want = std::bit_ceil(std::max(len, wire::kMinBufferBytes));
      if (empty != nullptr && (pooled_bytes_ == 0 || pooled_bytes_ + want <= wire::kPoolBudgetBytes)) {
        if (const IoStatus s = create(*empty, want); s != IoStatus::ok) return s;
        out = empty;
        return IoStatus::ok;
      }
      // No room: a free buffer (too small for this message) makes some.
      if (smallest_free != nullptr) {
        if (const IoStatus s = retire(*smallest_free); s != IoStatus::ok) return s;
        continue;
      }
      // Every buffer is in flight: wait until the receiver frees one.
      if (const IoStatus s = read_frees(true); s != IoStatus::ok) return s;
    }
  }

  IoStatus create(Buffer& b, std::size_t capacity) noexcept {
    const int fd = make_memfd(capacity);
    if (fd < 0) return fail_errno(-fd);
    sys::Fd owned(fd);
    void* p = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) return fail_errno(errno);
    // After the mapping: F_SEAL_FUTURE_WRITE refuses new writable mappings but leaves ours.
    if (::fcntl(fd, F_ADD_SEALS, kSeals) != 0) {
      const int e = errno;
      ::munmap(p, capacity);
      return fail_errno(e);
    }
    b.id = next_id_++;
    b.fd = std::move(owned);
    b.base = static_cast<std::byte*>(p);
    b.capacity = capacity;
    b.in_flight = false;
    b.announced = false;
    pooled_bytes_ += capacity;
    return IoStatus::ok;
  }

  IoStatus retire(Buffer& b) noexcept {
    if (b.announced) {
      const Record r{RecordKind::buffer_retire, b.id, 0, 0};
      if (sys::retry_eintr([&] { return ::send(sock_.get(), &r, sizeof r, MSG_NOSIGNAL); }) < 0)
        return gone_or_fail(errno);
    }
    unmap(b);
    return IoStatus::ok;
  }

  void unmap(Buffer& b) noexcept {
    if (!b.used()) return;
    ::munmap(b.base, b.capacity);
    pooled_bytes_ -= b.capacity;
    b = Buffer{};
  }

  // Reads the receiver's "free" records: those waiting (wait = false), or at least one.
  IoStatus read_frees(bool wait) noexcept {
    for (;;) {
      Record r{};
      // No control buffer: an fd a receiver might send along is closed by the kernel.
      const ssize_t n = sys::retry_eintr([&] { return ::recv(sock_.get(), &r, sizeof r, wait ? 0 : MSG_DONTWAIT); });
      if (n < 0) {
        if (!wait && (errno == EAGAIN || errno == EWOULDBLOCK)) return IoStatus::ok;
        return gone_or_fail(errno);
      }
      if (n == 0) return IoStatus::peer_closed;
      if (static_cast<std::size_t>(n) != sizeof r || r.kind != RecordKind::buffer_free)
        return fail(code(std::errc::bad_message));
      Buffer* b = find(r.id);
      if (b == nullptr || !b->in_flight) return fail(code(std::errc::bad_message));
      b->in_flight = false;
      wait = false;  // one came back: take the rest that wait, then stop
    }
  }

  Buffer* find(std::uint32_t id) noexcept {
    for (Buffer& b : pool_)
      if (b.used() && b.id == id) return &b;
    return nullptr;
  }

  sys::Fd sock_;
  std::array<Buffer, wire::kMaxPoolBuffers> pool_;
  std::size_t pooled_bytes_ = 0;
  std::uint32_t next_id_ = 1;
  std::vector<std::byte> stage_;  // loan() of an inline message
  Buffer* loaned_ = nullptr;      // loan(): the pooled buffer lent, or nullptr for stage_
  std::size_t loaned_len_ = 0;
  std::array<Record, kBatch> records_{};
  std::array<std::array<iovec, 3>, kBatch> iov_{};
  std::array<mmsghdr, kBatch> mmsg_{};
};

class MemfdReceiver final : public Transport {
 public:
  explicit MemfdReceiver(sys::Fd sock) : sock_(std::move(sock)), stage_(wire::kInlineMaxBytes) {}
  MemfdReceiver(const MemfdReceiver&) = delete;
  MemfdReceiver& operator=(const MemfdReceiver&) = delete;
  ~MemfdReceiver() override {
    for (Mapping& m : maps_) unmap(m);
  }

  int poll_fd() noexcept override { return sock_.get(); }

  // One-directional: this end only receives (its writes are the "free" records).
  IoStatus send(std::span<const std::byte>) noexcept override { return fail(code(std::errc::operation_not_supported)); }

  IoStatus recv(std::span<std::byte> buf, std::size_t& len) noexcept override {
    len = 0;
    release();
    Incoming in;
    // An inline message is read straight into buf.
    if (const IoStatus s = next(buf, in); s != IoStatus::ok) return s;
    if (!in.pooled) {
      len = in.len;
      return IoStatus::ok;
    }
    if (in.len > buf.size()) {
      (void)send_free(in.id);
      return fail(code(std::errc::message_size));
    }
    std::memcpy(buf.data(), in.data, in.len);
    len = in.len;
    return send_free(in.id);
  }

  IoStatus peek(MessageView& msg) noexcept override {
    release();
    Incoming in;
    if (const IoStatus s = next(stage_, in); s != IoStatus::ok) return s;
    msg = {{in.data, in.len}, {}};
    if (in.pooled) {
      held_ = in.id;
      holding_ = true;
    }
    return IoStatus::ok;
  }

  // A sender that is gone needs no free record; any other failure shows at the next call.
  void release() noexcept override {
    if (!holding_) return;
    holding_ = false;
    (void)send_free(held_);
  }

 private:
  struct Mapping {
    std::uint32_t id = 0;
    const std::byte* base = nullptr;
    std::size_t capacity = 0;
  };
  struct Incoming {
    const std::byte* data = nullptr;
    std::size_t len = 0;
    std::uint32_t id = 0;
    bool pooled = false;
  };

  // The next message: inline (its bytes in `into`) or in a mapped buffer. Retire records
  // on the way are handled and skipped.
  IoStatus next(std::span<std::byte> into, Incoming& in) noexcept {
    for (;;) {
      Record r{};
      std::size_t extra = 0;
      bool truncated = false;
      sys::Fd passed;
      if (const IoStatus s = read_record(r, into, extra, truncated, passed); s != IoStatus::ok) return s;
      // Only a new buffer brings an fd, and only an inline message brings bytes.
      if (r.kind != RecordKind::buffer_new && passed.valid()) return fail(code(std::errc::bad_message));
      if (r.kind != RecordKind::inline_message && (extra != 0 || truncated)) return fail(code(std::errc::bad_message));
      switch (r.kind) {
        case RecordKind::inline_message:
          if (truncated) return fail(code(std::errc::message_size));  // longer than `into`
          if (r.len != extra) return fail(code(std::errc::bad_message));
          in = {into.data(), extra, 0, false};
          return IoStatus::ok;
        case RecordKind::buffer_new:
          if (const IoStatus s = map_new(r, std::move(passed)); s != IoStatus::ok) return s;
          [[fallthrough]];
        case RecordKind::buffer_reuse: {
          const Mapping* m = find(r.id);
          if (m == nullptr || r.len > m->capacity) return fail(code(std::errc::bad_message));
          in = {m->base, r.len, r.id, true};
          return IoStatus::ok;
        }
        case RecordKind::buffer_retire: {
          Mapping* m = find(r.id);
          if (m == nullptr) return fail(code(std::errc::bad_message));
          unmap(*m);
          continue;
        }
        case RecordKind::buffer_free:
          break;
      }
      return fail(code(std::errc::bad_message));
    }
  }

  // One record; `extra` message bytes landed in `into`, `passed` holds an fd sent with it.
  IoStatus read_record(Record& r, std::span<std::byte> into, std::size_t& extra, bool& truncated,
                       sys::Fd& passed) noexcept {
    std::array<iovec, 2> iov{{{&r, sizeof r}, {into.data(), into.size()}}};
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
    msghdr mh{};
    ssize_t got = 0;
    for (;;) {
      mh = {};
      mh.msg_iov = iov.data();
      mh.msg_iovlen = iov.size();
      mh.msg_control = ctl;
      mh.msg_controllen = sizeof ctl;
      got = ::recvmsg(sock_.get(), &mh, MSG_CMSG_CLOEXEC);
      if (got >= 0) break;
      if (errno == EINTR) continue;
      // A sender that closes with records of ours unread (the last "free"s) leaves ECONNRESET
      // on this socket, reported once, ahead of what it sent before closing; the read that
      // reported it consumed it, and the next one returns those messages, then EOF.
      if (errno == ECONNRESET) continue;
      return fail_errno(errno);
    }
    const bool more_fds = sys::take_passed_fds(mh, passed) > 1;
    // More fds than a record carries (the kernel closed those that did not fit).
    if (more_fds || (mh.msg_flags & MSG_CTRUNC) != 0) return fail(code(std::errc::bad_message));
    if (got == 0) return IoStatus::peer_closed;
    if (static_cast<std::size_t>(got) < sizeof r) return fail(code(std::errc::bad_message));
    extra = static_cast<std::size_t>(got) - sizeof r;
    truncated = (mh.msg_flags & MSG_TRUNC) != 0;
    return IoStatus::ok;
  }

  // Maps a buffer the sender passed, after checking it cannot change size or be written by
  // anyone but the sender; the fd is closed on return (the mapping keeps the memfd).
  IoStatus map_new(const Record& r, sys::Fd fd) noexcept {
    if (!fd.valid()) return fail(code(std::errc::bad_message));
    // -1 (EINVAL): not a memfd or shmem file at all; F_SEAL_SEAL alone: a memfd made without
    // MFD_ALLOW_SEALING. Either way, or seals missing: refused, never mapped.
    const int seals = ::fcntl(fd.get(), F_GET_SEALS);
    if (seals < 0 || (seals & wire::kRequiredSizeSeals) != wire::kRequiredSizeSeals ||
        (seals & wire::kAcceptedWriteSeals) == 0)
      return fail(code(std::errc::operation_not_permitted));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_errno(errno);
    if (r.capacity == 0 || r.capacity > kMaxMessageBytes || static_cast<std::uint64_t>(st.st_size) != r.capacity ||
        r.len > r.capacity || find(r.id) != nullptr)
      return fail(code(std::errc::bad_message));
    Mapping* slot = nullptr;
    for (Mapping& m : maps_)
      if (m.base == nullptr) {
        slot = &m;
        break;
      }
    if (slot == nullptr) return fail(code(std::errc::bad_message));  // more buffers than a pool holds
    const std::size_t capacity = static_cast<std::size_t>(r.capacity);
    void* p = ::mmap(nullptr, capacity, PROT_READ, MAP_SHARED | MAP_POPULATE, fd.get(), 0);
    if (p == MAP_FAILED) return fail_errno(errno);
    *slot = {r.id, static_cast<const std::byte*>(p), capacity};
    return IoStatus::ok;
  }

  // Never waits: a sender keeps at most kMaxPoolBuffers frees unread, far below the socket's
  // buffer, so a full one means a sender that does not read them.
  IoStatus send_free(std::uint32_t id) noexcept {
    if (sender_gone_) return IoStatus::ok;
    const Record r{RecordKind::buffer_free, id, 0, 0};
    if (sys::retry_eintr([&] { return ::send(sock_.get(), &r, sizeof r, MSG_NOSIGNAL | MSG_DONTWAIT); }) >= 0)
      return IoStatus::ok;
    if (peer_gone(errno)) {
      sender_gone_ = true;  // what it sent before is still readable; then EOF
      return IoStatus::ok;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return fail(code(std::errc::bad_message));
    return fail_errno(errno);
  }

  Mapping* find(std::uint32_t id) noexcept {
    for (Mapping& m : maps_)
      if (m.base != nullptr && m.id == id) return &m;
    return nullptr;
  }

  static void unmap(Mapping& m) noexcept {
    if (m.base == nullptr) return;
    ::munmap(const_cast<std::byte*>(m.base), m.capacity);
    m = Mapping{};
  }

  sys::Fd sock_;
  std::array<Mapping, wire::kMaxPoolBuffers> maps_;
  std::vector<std::byte> stage_;  // peek() of an inline message
  std::uint32_t held_ = 0;        // peek(): the buffer to free at release()
  bool holding_ = false;
  bool sender_gone_ = false;
};

std::unique_ptr<Channel> create(const ChannelOptions&) {
  int sv[2];
  sys::check_errno(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), "socketpair", kName);
  return std::make_unique<detail::FdPairChannel>(kName, sys::Fd(sv[0]), sys::Fd(sv[1]));
}

std::unique_ptr<Transport> open(const ChannelSpec& s, Role role) {
  if (s.fd < 0) throw Error(kName, "fd", "channel spec carries no inherited fd");
  sys::Fd sock(s.fd);
  int type = 0;
  socklen_t type_len = sizeof type;
  if (::getsockopt(sock.get(), SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type != SOCK_SEQPACKET)
    throw Error(kName, "fd " + std::to_string(s.fd), "not the channel's SOCK_SEQPACKET socket");
  sys::ignore_sigpipe();
  sys::set_cloexec(sock.get(), true);  // do not leak into processes this one spawns
  if (role == Role::sender) return std::make_unique<MemfdSender>(std::move(sock));
  return std::make_unique<MemfdReceiver>(std::move(sock));
}

/// A kernel without F_SEAL_FUTURE_WRITE (before 5.1) or without memfd_create (3.17) cannot
/// run it: said before anything is spawned, by trying both on a one-page memfd.
std::string preflight(const ChannelOptions&) {
  const int fd = make_memfd(4096);
  if (fd < 0)
    return "memfd_create failed (" + std::string(std::strerror(-fd)) + "): the memfd mechanism needs Linux 3.17";
  const sys::Fd owned(fd);
  if (::fcntl(fd, F_ADD_SEALS, kSeals) != 0)
    return "this kernel refuses F_SEAL_FUTURE_WRITE (" + std::string(std::strerror(errno)) +
           "): the memfd mechanism needs Linux 5.1 or later";
  return {};
}

}  // namespace

extern const TransportSpec kMemfdTransport{
    "memfd",
    "sealed memfd buffers passed with SCM_RIGHTS over a Unix seqpacket socketpair (inherited fds); a pool of up "
    "to 4 buffers reused by id, messages up to 16 KiB inline; --api loan writes and reads them in place",
    Capabilities{.max_msg_bytes = kMaxMessageBytes, .loan = true},
    &create,
    &open,
    &preflight,
    SemanticsCard{
        .pollable = Pollable::fd,
        .poll_note = "the receiver's end of the socketpair: readable when a record (an inline message, or a "
                     "message in a buffer) waits",
        .boundaries = Boundaries::kept,
        .when_full = WhenFull::blocks,
        .dead_peer = "the kernel closes the socket: the receiver reads what was sent, then EOF; the sender's send "
                     "or its wait for a free buffer fails with EPIPE or ECONNRESET (SIGPIPE ignored, "
                     "MSG_NOSIGNAL): peer_closed at once. Buffers have no name and go with their last fd or "
                     "mapping; their size is sealed, so a buffer the receiver still maps can never shrink under "
                     "it (no SIGBUS) whatever the sender does",
        .visibility = Visibility::fd_only,
        .access = "only the two processes holding the socketpair's ends; buffers are memfds passed with SCM_RIGHTS, "
                  "sealed F_SEAL_SHRINK|GROW|FUTURE_WRITE: the receiver maps them read-only and cannot write, map "
                  "writable or resize them, and refuses an fd without those seals. Not F_SEAL_WRITE: it makes a "
                  "memfd immutable for good, so a pooled buffer could not carry a second message. The sender can "
                  "still change a buffer's bytes (it writes one again only after the receiver freed it); a "
                  "receiver that does not trust it copies (recv)",
        .limits = "buffers are shared memory charged to the sender's memory cgroup (Shmem), not /dev/shm: up to 4 "
                  "a channel, 256 MiB together unless one message needs a larger power-of-two buffer (up to "
                  "1 GiB); each costs a mapping at both ends (vm.max_map_count); F_SEAL_FUTURE_WRITE needs Linux "
                  "5.1; socket buffers (inline messages) up to net.core.wmem_max",
    }};

}  // namespace ipcmatrix
