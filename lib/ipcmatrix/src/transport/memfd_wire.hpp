#pragma once
// The records the memfd mechanism's two ends exchange over their SOCK_SEQPACKET socketpair
// (memfd_transport.cpp), and the pool's bounds. Here rather than in the .cpp so that a test
// can play a hostile or a raw peer through a channel's fd with the same layout.
//
// One record is one seqpacket message: a Record, then (inline only) the message's bytes.
// Both ends are processes of one host, so fields are in host byte order.

#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace ipcmatrix::detail::memfd {

enum class RecordKind : std::uint32_t {
  inline_message = 1,  ///< sender -> receiver: `len` message bytes follow the record
  buffer_new = 2,      ///< sender -> receiver: buffer `id` (memfd passed with SCM_RIGHTS, size
                       ///< `capacity`) holds a message of `len` bytes at its start
  buffer_reuse = 3,    ///< sender -> receiver: buffer `id`, already mapped, holds `len` bytes
  buffer_retire = 4,   ///< sender -> receiver: buffer `id` is out of the pool: unmap it
  buffer_free = 5,     ///< receiver -> sender: done with the message in buffer `id`
};

struct Record {
  RecordKind kind;
  std::uint32_t id;
  std::uint64_t len;       ///< message bytes
  std::uint64_t capacity;  ///< buffer_new: the memfd's size; 0 otherwise
};
static_assert(std::is_trivially_copyable_v<Record>);
static_assert(sizeof(Record) == 24);

/// Messages up to this size travel inside the record. Below it, copying through the socket
/// costs less than writing into a pooled mapping and handing back a "free" record; at it,
/// the record is still far below the socket's default send buffer (net.core.wmem_default,
/// 208 KiB), which caps one seqpacket message. The stream mechanisms' writev limit too.
inline constexpr std::size_t kInlineMaxBytes = 16 * 1024;
/// Most buffers one sender keeps (in flight or free): enough for a stream to keep the
/// receiver busy while the sender fills the next one; the receiver maps at most this many.
inline constexpr std::size_t kMaxPoolBuffers = 4;
/// Their total size: four 64 MiB buffers. A message that needs more gets a buffer of its
/// own once the others are back (retired to make room).
inline constexpr std::size_t kPoolBudgetBytes = std::size_t{256} << 20;
/// The smallest buffer: a power of two above kInlineMaxBytes, so sizes near it share one.
inline constexpr std::size_t kMinBufferBytes = std::size_t{64} << 10;

/// What a receiver requires before it maps a buffer: a size that can never change (so a
/// read can never fault past the end: no SIGBUS), and a write seal, so the buffer is
/// read-only to every process but the sender, through the mapping it made before sealing.
inline constexpr int kRequiredSizeSeals = F_SEAL_SHRINK | F_SEAL_GROW;
inline constexpr int kAcceptedWriteSeals = F_SEAL_FUTURE_WRITE | F_SEAL_WRITE;

}  // namespace ipcmatrix::detail::memfd
