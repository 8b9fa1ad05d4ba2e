#pragma once
// The framing of the queue mechanisms (bipc-mq, posix-mq), whose queue messages have a
// maximum size (the chunk): a message goes out as chunks, the first starting with the
// 8-byte little-endian total length, the rest raw bytes; a zero-length chunk is the sender's
// clean close. Written once here for both; each mechanism brings its put and take.

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>
#include <system_error>

#include "ipcmatrix/sys/byte_order.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix::detail {

inline constexpr std::size_t kChunkLenBytes = 8;

/// Sends m (a head and a body, second may be empty) as chunks of at most `chunk` bytes
/// through put(const std::byte*, std::size_t) -> IoStatus. The first chunk (length, then the
/// start of the message) is staged in `stage` (at least `chunk` bytes); later chunks go
/// straight from the caller's memory unless one straddles the two pieces.
template <class Put>
IoStatus send_chunked(MessageView m, std::span<std::byte> stage, std::size_t chunk, Put&& put) noexcept {
  const std::size_t n = m.size();
  sys::store_le64(stage.data(), n);
  const std::size_t first = std::min(n, chunk - kChunkLenBytes);
  m.read(0, stage.data() + kChunkLenBytes, first);
  if (auto st = put(stage.data(), kChunkLenBytes + first); st != IoStatus::ok) return st;
  for (std::size_t off = first; off < n;) {
    const std::size_t k = std::min(chunk, n - off);
    const std::byte* p = stage.data();
    if (off + k <= m.first.size())
      p = m.first.data() + off;
    else if (off >= m.first.size())
      p = m.second.data() + (off - m.first.size());
    else
      m.read(off, stage.data(), k);
    if (auto st = put(p, k); st != IoStatus::ok) return st;
    off += k;
  }
  return IoStatus::ok;
}

/// Receives one message into buf through take(std::byte* dst, std::size_t& got) -> IoStatus,
/// where dst always has room for a whole chunk (the queues insist on it): straight into buf
/// while a chunk fits there, else through `stage`. Returns take's status when it fails,
/// peer_closed on the clean-close marker, and IoStatus::error with `framing` set for a
/// message larger than buf (message_size) or chunks that do not add up (bad_message, also
/// when the sender goes away between the chunks of one message).
template <class Take>
IoStatus recv_chunked(std::span<std::byte> buf, std::size_t& len, std::span<std::byte> stage, std::size_t chunk,
                      Take&& take, std::error_code& framing) noexcept {
  len = 0;
  const auto bad = [&framing](std::errc e) {
    framing = std::make_error_code(e);
    return IoStatus::error;
  };
  std::size_t got = 0;
  if (auto st = take(stage.data(), got); st != IoStatus::ok) return st;
  if (got == 0) return IoStatus::peer_closed;
  if (got < kChunkLenBytes) return bad(std::errc::bad_message);
  const std::uint64_t n = sys::load_le64(stage.data());
  if (n > buf.size()) return bad(std::errc::message_size);
  std::size_t have = got - kChunkLenBytes;
  if (have > n) return bad(std::errc::bad_message);
  if (have) std::memcpy(buf.data(), stage.data() + kChunkLenBytes, have);
  while (have < n) {
    const bool direct = buf.size() - have >= chunk;
    std::byte* dst = direct ? buf.data() + have : stage.data();
    if (auto st = take(dst, got); st != IoStatus::ok) {
      return st == IoStatus::peer_closed ? bad(std::errc::bad_message) : st;
    }
    if (got == 0 || have + got > n) return bad(std::errc::bad_message);
    if (!direct) std::memcpy(buf.data() + have, stage.data(), got);
    have += got;
  }
  len = n;
  return IoStatus::ok;
}

}  // namespace ipcmatrix::detail
