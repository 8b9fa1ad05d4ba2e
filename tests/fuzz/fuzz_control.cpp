// Fuzz target: the control channel's frame parser (4-byte length + JSON record) and the
// worker protocol's typed records on top of it, as the coordinator reads a worker's replies.
// Contract checked: any byte stream yields records, a clean end, or an ipcmatrix::Error;
// never a crash, a hang or another exception type.
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/runner/protocol.hpp"
#include "ipcmatrix/sys/posix.hpp"

using namespace ipcmatrix;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 16)) return 0;  // stays within one socket buffer: the write never blocks
  sys::Fd a, b;
  sys::make_socketpair(a, b);
  sys::write_all(a.get(), data, size, "fuzz input");
  ::shutdown(a.get(), SHUT_WR);
  try {
    for (int i = 0; i < 64; ++i) {
      if (!recv_reply(b.get(), 100)) break;
    }
  } catch (const Error&) {
  }
  return 0;
}
