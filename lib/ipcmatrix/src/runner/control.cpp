#include "ipcmatrix/runner/control.hpp"

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/posix.hpp"

namespace ipcmatrix {

void send_record(int fd, const nlohmann::json& j) {
  const std::string body = j.dump();
  unsigned char hdr[4];
  for (int i = 0; i < 4; ++i) hdr[i] = static_cast<unsigned char>(body.size() >> (8 * i));
  sys::write_all(fd, hdr, 4, "record header");
  sys::write_all(fd, body.data(), body.size(), "record");
}

std::optional<nlohmann::json> recv_record(int fd, std::int64_t timeout_ms, bool* timed_out) {
  if (timed_out) *timed_out = false;
  const std::int64_t start = sys::monotonic_ns();
  unsigned char hdr[4];
  if (!sys::read_exact(fd, hdr, 4, timeout_ms, "record header")) {
    if (timed_out) *timed_out = (sys::monotonic_ns() - start) / 1'000'000 >= timeout_ms;
    return std::nullopt;
  }
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= std::uint32_t{hdr[i]} << (8 * i);
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
