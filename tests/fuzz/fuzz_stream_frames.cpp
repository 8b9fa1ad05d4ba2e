// Fuzz target: the length framing of the stream mechanisms (pipe, unix, tcp share it), read
// through a real pipe by the pipe transport's receiver. Contract checked: every recv() ends in
// ok with len <= the buffer, peer_closed or error; never a crash or an out-of-bounds write.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/transport/transport.hpp"

using namespace ipcmatrix;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 16)) return 0;  // one pipe buffer: the write never blocks
  const TransportSpec& pipe = find_transport("pipe");
  auto ch = pipe.create({});
  ChannelSpec tx = ch->take(Role::sender);
  const ChannelSpec rx = ch->take(Role::receiver);
  sys::write_all(tx.fd, data, size, "fuzz input");
  { sys::Fd close_writer(tx.fd); }
  auto receiver = pipe.open(rx, Role::receiver);
  std::vector<std::byte> buf(4096);
  for (int i = 0; i < 1024; ++i) {
    std::size_t len = 0;
    const IoStatus st = receiver->recv(buf, len);
    if (st != IoStatus::ok) break;
    if (len > buf.size()) std::abort();
  }
  return 0;
}
