#include "ipcmatrix/runner/control.hpp"

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/byte_order.hpp"
#include "ipcmatrix/sys/posix.hpp"

namespace ipcmatrix {

void send_record(int fd, const nlohmann::json& j) {
  const std::string body = j.dump();
  if (body.size() > kMaxControlRecord) throw Error("control", "record", "control record too large to send");
  std::byte hdr[4];
  sys::store_le32(hdr, static_cast<std::uint32_t>(body.size()));
  sys::write_all(fd, hdr, 4, "record header");
  sys::write_all(fd, body.data(), body.size(), "record");
}

std::optional<nlohmann::json> recv_record(int fd, std::int64_t timeout_ms, bool* timed_out) {
  if (timed_out) *timed_out = false;
  const std::int64_t start = sys::monotonic_ns();
  std::byte hdr[4];
  if (!sys::read_exact(fd, hdr, 4, timeout_ms, "record header")) {
    if (timed_out) *timed_out = (sys::monotonic_ns() - start) / 1'000'000 >= timeout_ms;
    return std::nullopt;
  }
  const std::uint32_t n = sys::load_le32(hdr);
  if (n > kMaxControlRecord) throw Error("control", "record", "oversized control record");
  std::string body(n, '\0');
  const std::int64_t left = std::max<std::int64_t>(1000, timeout_ms - (sys::monotonic_ns() - start) / 1'000'000);
  if (!sys::read_exact(fd, body.data(), n, left, "record"))
    throw Error("control", "record", "control record cut short");
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    throw Error("control", "record", std::string("malformed control record: ") + e.what());
  }
}

}  // namespace ipcmatrix
