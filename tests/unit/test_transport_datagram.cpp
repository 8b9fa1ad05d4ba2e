// The datagram mechanisms' message limit as a pure function of the kernel's values, and the
// text of the error a sender gives for a message over it.
#include <doctest/doctest.h>

#include <string>

#include "transport/datagram_socket.hpp"

using namespace ipcmatrix;
using detail::datagram_limit;
using detail::kMaxDatagramBytes;

TEST_SUITE("transport") {
  TEST_CASE("datagram limit: 2 x net.core.wmem_max less 32 B for an unprivileged sender, naming the sysctl") {
    const MessageLimit l = datagram_limit(212992, false, 1 << 20);
    CHECK(l.bytes == 2 * 212992 - 32);  // 416 KiB: Debian's default
    CHECK_MESSAGE(l.source.find("2 x net.core.wmem_max = 2 x 212992 B") != std::string::npos, l.source);
    // (1 MiB + 32) / 2, rounded up: the sysctl value that makes a buffer large enough.
    CHECK_MESSAGE(l.remedy.find("sysctl -w net.core.wmem_max=524304") != std::string::npos, l.remedy);
    // No message asked about, or one that fits: no advice.
    CHECK(datagram_limit(212992, false, 0).remedy.empty());
    CHECK(datagram_limit(212992, false, 1000).remedy.empty());
    CHECK(datagram_limit(212992, false, 1000).bytes == l.bytes);
  }

  TEST_CASE("datagram limit: the kernel's 4 MiB caps it, whatever the sysctl or the privilege") {
    // SO_SNDBUFFORCE permitted: the buffer is no limit, the kernel's largest datagram is.
    const MessageLimit forced = datagram_limit(212992, true, 8 << 20);
    CHECK(forced.bytes == kMaxDatagramBytes);
    CHECK(forced.source.find("SO_SNDBUFFORCE") != std::string::npos);
    CHECK(forced.remedy == "no setting raises it");
    // A wmem_max of 4 MiB already allows 8 MiB of buffer: the kernel's 4 MiB is the bound.
    CHECK(datagram_limit(4 << 20, false, 0).bytes == kMaxDatagramBytes);
    // Above 4 MiB, raising the sysctl would not help: the advice says so instead of naming it.
    const MessageLimit small = datagram_limit(65536, false, 8 << 20);
    CHECK(small.bytes == 2 * 65536 - 32);
    CHECK_MESSAGE(small.remedy.find("no setting carries") != std::string::npos, small.remedy);
    CHECK(datagram_limit(0, false, 0).bytes == 0);
  }

  TEST_CASE("datagram limit: a refused send's error is message_size and names the limit and the sysctl") {
    const std::error_code buffer = detail::datagram_too_large(425952);
    CHECK(buffer == std::errc::message_size);
    CHECK(static_cast<bool>(buffer));
    CHECK_MESSAGE(buffer.message().find("425952 bytes") != std::string::npos, buffer.message());
    CHECK_MESSAGE(buffer.message().find("net.core.wmem_max") != std::string::npos, buffer.message());
    CHECK_MESSAGE(buffer.message().find("never fragmented") != std::string::npos, buffer.message());
    const std::error_code kernel = detail::datagram_too_large(kMaxDatagramBytes);
    CHECK(kernel == std::errc::message_size);
    CHECK_MESSAGE(kernel.message().find("kernel's largest datagram") != std::string::npos, kernel.message());
    CHECK(static_cast<bool>(detail::datagram_too_large(0)));  // never reads as "no error"
  }
}  // TEST_SUITE
