// A service that deploys what ipc-matrix measured: it loads the file `recommend --emit-config`
// wrote, opens that mechanism's channel with the measured options, and sends one message
// through it (both ends in this process: a pipe or socket holds one small message).
// Exit 0 and the mechanism's name on stdout when the message came back whole.
#include <cstdio>
#include <cstring>
#include <exception>
#include <vector>

#include "ipcmatrix/transport/deployment.hpp"
#include "ipcmatrix/transport/transport.hpp"

int main(int argc, char** argv) try {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer CONFIG\n");
    return 64;
  }
  const ipcmatrix::Deployment d = ipcmatrix::load_deployment(argv[1]);
  ipcmatrix::LocalPair pair = ipcmatrix::open_local_pair(ipcmatrix::find_transport(d.mechanism), d.channel);
  const char text[] = "measured, then deployed";
  std::vector<std::byte> out(sizeof text), in(4096);
  std::memcpy(out.data(), text, sizeof text);
  if (pair.sender->send(out) != ipcmatrix::IoStatus::ok) return 2;
  std::size_t len = 0;
  if (pair.receiver->recv(in, len) != ipcmatrix::IoStatus::ok) return 3;
  if (len != out.size() || std::memcmp(in.data(), out.data(), len) != 0) return 4;
  std::printf("%s\n", d.mechanism.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "consumer: %s\n", e.what());
  return 1;
}
