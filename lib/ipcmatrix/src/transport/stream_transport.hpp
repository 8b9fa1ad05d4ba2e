#pragma once
// Framing for byte-stream mechanisms (pipe, unix, tcp), written once over any Boost.Asio
// synchronous stream (posix::stream_descriptor, local or tcp socket).
//
// Frame: 8-byte little-endian length, then the payload. A receiver may see any split of
// that byte stream (partial reads), and a sender may have its write cut short (partial
// writes); both loops below resume where the kernel stopped.

#include <boost/asio.hpp>
#include <cstring>
#include <memory>
#include <vector>

#include "ipcmatrix/sys/byte_order.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "small_copy.hpp"

namespace ipcmatrix::detail {

inline constexpr std::size_t kFrameHeader = 8;
inline constexpr std::size_t kReadBuffer = 256 * 1024;
inline constexpr std::size_t kStageBuffer = 256 * 1024;
/// Messages up to this size are copied into one staging buffer and written with one
/// syscall; larger ones go out with writev straight from the caller's memory.
inline constexpr std::size_t kCopyLimit = 16 * 1024;

using sys::load_le64;
using sys::store_le64;

inline std::error_code to_std(const boost::system::error_code& ec) {
  if (ec.category() == boost::system::system_category() ||
      ec.category() == boost::system::generic_category())
    return std::error_code(ec.value(), std::generic_category());
  return std::make_error_code(std::errc::io_error);
}

inline bool is_peer_gone(const boost::system::error_code& ec) {
  return ec == boost::asio::error::eof || ec == boost::asio::error::broken_pipe ||
         ec == boost::asio::error::connection_reset;
}

template <class Stream>
class StreamTransport final : public Transport {
 public:
  /// make(io) must build the Stream on io around an already open fd.
  template <class Make>
  explicit StreamTransport(Make&& make)
      : io_(std::make_unique<boost::asio::io_context>()),
        stream_(make(*io_)),
        rbuf_(kReadBuffer),
        stage_(kStageBuffer) {}

  IoStatus send(std::span<const std::byte> msg) noexcept override {
    std::span<const std::byte> one[1] = {msg};
    return send_batch(one);
  }

  IoStatus send_batch(std::span<const std::span<const std::byte>> msgs) noexcept override {
    for (auto m : msgs) {
      if (auto s = put(m, {}); s != IoStatus::ok) return s;
    }
    return flush();
  }

  IoStatus send_gather(std::span<const GatherMessage> msgs) noexcept override {
    for (const auto& m : msgs) {
      if (auto s = put(m.head, m.body); s != IoStatus::ok) return s;
    }
    return flush();
  }

  int poll_fd() noexcept override { return stream_.native_handle(); }

  IoStatus recv(std::span<std::byte> buf, std::size_t& len) noexcept override {
    len = 0;
    while (avail() < kFrameHeader) {
      if (auto s = fill(avail() == 0); s != IoStatus::ok) return s;
    }
    const std::uint64_t n = load_le64(rbuf_.data() + rpos_);
    rpos_ += kFrameHeader;
    if (n > buf.size()) return fail(std::make_error_code(std::errc::message_size));
    std::size_t got = std::min<std::size_t>(n, avail());
    copy_bytes(buf.data(), rbuf_.data() + rpos_, got);
    rpos_ += got;
    while (got < n) {
      const std::size_t want = n - got;
      if (want >= kReadBuffer / 2) {
        // Large remainder: read straight into the caller's buffer, skipping a copy.
        boost::system::error_code ec;
        const std::size_t r = stream_.read_some(boost::asio::buffer(buf.data() + got, want), ec);
        if (ec == boost::asio::error::interrupted) continue;
        if (ec) return ec == boost::asio::error::eof ? truncated() : fail(to_std(ec));
        got += r;
        continue;
      }
      if (auto s = fill(false); s != IoStatus::ok) return s;
      const std::size_t c = std::min(want, avail());
      std::memcpy(buf.data() + got, rbuf_.data() + rpos_, c);
      rpos_ += c;
      got += c;
    }
    len = n;
    return IoStatus::ok;
  }

 private:
  std::size_t avail() const noexcept { return rend_ - rpos_; }

  IoStatus truncated() noexcept { return fail(std::make_error_code(std::errc::bad_message)); }

  // Reads more bytes into rbuf_. at_boundary: an EOF here is a clean close.
  IoStatus fill(bool at_boundary) noexcept {
    if (rpos_ > 0) {
      std::memmove(rbuf_.data(), rbuf_.data() + rpos_, avail());
      rend_ -= rpos_;
      rpos_ = 0;
    }
    while (true) {
      boost::system::error_code ec;
      const std::size_t r =
          stream_.read_some(boost::asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_), ec);
      if (ec == boost::asio::error::interrupted) continue;
      if (ec) {
        if (is_peer_gone(ec)) return at_boundary ? IoStatus::peer_closed : truncated();
        return fail(to_std(ec));
      }
      rend_ += r;
      return IoStatus::ok;
    }
  }

  // One frame whose payload is a ++ b. Small frames are staged so a batch is one write;
  // large ones flush what is staged and go out with one writev straight from a and b.
  IoStatus put(std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
    const std::size_t n = a.size() + b.size();
    if (n <= kCopyLimit) {
      if (staged_ + kFrameHeader + n > stage_.size()) {
        if (auto s = flush(); s != IoStatus::ok) return s;
      }
      store_le64(stage_.data() + staged_, n);
      copy_bytes(stage_.data() + staged_ + kFrameHeader, a.data(), a.size());
      copy_bytes(stage_.data() + staged_ + kFrameHeader + a.size(), b.data(), b.size());
      staged_ += kFrameHeader + n;
      return IoStatus::ok;
    }
    if (auto s = flush(); s != IoStatus::ok) return s;
    std::byte hdr[kFrameHeader];
    store_le64(hdr, n);
    std::array<boost::asio::const_buffer, 3> bufs{boost::asio::buffer(hdr, kFrameHeader),
                                                  boost::asio::buffer(a.data(), a.size()),
                                                  boost::asio::buffer(b.data(), b.size())};
    return write_all(bufs);
  }

  IoStatus flush() noexcept {
    if (staged_ == 0) return IoStatus::ok;
    std::array<boost::asio::const_buffer, 1> b{boost::asio::buffer(stage_.data(), staged_)};
    staged_ = 0;
    return write_all(b);
  }

  template <std::size_t N>
  IoStatus write_all(std::array<boost::asio::const_buffer, N>& bufs) noexcept {
    std::size_t first = 0;
    while (first < N) {
      boost::system::error_code ec;
      std::size_t w = stream_.write_some(std::span(bufs).subspan(first), ec);
      if (ec == boost::asio::error::interrupted) continue;
      if (ec) return is_peer_gone(ec) ? IoStatus::peer_closed : fail(to_std(ec));
      // Consume w bytes from the front of the buffer sequence (partial write).
      while (first < N && w >= bufs[first].size()) w -= bufs[first++].size();
      if (first < N) bufs[first] += w;
    }
    return IoStatus::ok;
  }

  std::unique_ptr<boost::asio::io_context> io_;
  Stream stream_;
  std::vector<std::byte> rbuf_;
  std::size_t rpos_ = 0, rend_ = 0;
  std::vector<std::byte> stage_;
  std::size_t staged_ = 0;
};

}  // namespace ipcmatrix::detail
