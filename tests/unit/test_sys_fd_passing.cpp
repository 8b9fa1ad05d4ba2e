// Passing fds over a Unix socket (sys/posix.hpp send_with_fds(), take_passed_fds()), which the
// zygote's spawn requests and the memfd and library transports use: every fd sent arrives in
// order, those beyond what the receiver keeps are closed, and bad counts are refused.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <filesystem>
#include <span>
#include <vector>

#include "ipcmatrix/sys/posix.hpp"

using namespace ipcmatrix;

namespace {

// Receives one message on `sock` and the fds it passed, keeping up to keep.size().
std::size_t receive(int sock, std::span<int> keep) {
  char byte = 0;
  iovec iov{&byte, 1};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * sys::kMaxPassedFds)] = {};
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof ctl;
  REQUIRE(::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) == 1);
  return sys::take_passed_fds(mh, keep);
}

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

ino_t inode_of(int fd) {
  struct stat st {};
  REQUIRE(::fstat(fd, &st) == 0);
  return st.st_ino;
}

}  // namespace

TEST_SUITE("sys") {
  TEST_CASE("fd passing: every fd arrives in order, those beyond what is kept are closed, bad counts refused") {
    sys::Fd a, b;
    sys::make_socketpair(a, b, SOCK_SEQPACKET);
    std::array<int, 6> pipe_ends{};
    for (std::size_t i = 0; i < pipe_ends.size(); i += 2) REQUIRE(::pipe(&pipe_ends[i]) == 0);
    const char byte = 'x';

    // Three sent, two kept: the first two, in order, close-on-exec; the third is closed here
    // (the process holds exactly two fds more than before).
    REQUIRE(sys::send_with_fds(a.get(), &byte, 1, std::span<const int>(pipe_ends.data(), 3)) == 1);
    const std::size_t open_before = open_fds();
    std::array<int, 2> kept{-1, -1};
    CHECK(receive(b.get(), kept) == 3);
    CHECK(open_fds() == open_before + 2);
    CHECK(inode_of(kept[0]) == inode_of(pipe_ends[0]));
    CHECK(inode_of(kept[1]) == inode_of(pipe_ends[1]));
    CHECK((::fcntl(kept[1], F_GETFD) & FD_CLOEXEC) != 0);
    for (const int fd : kept) ::close(fd);

    // One fd into an Fd, through the same two functions.
    REQUIRE(sys::send_with_fd(a.get(), &byte, 1, pipe_ends[4]) == 1);
    sys::Fd first;
    char got = 0;
    CHECK(sys::recv_with_fd(b.get(), &got, 1, first, 0) == 1);
    REQUIRE(first.valid());
    CHECK(inode_of(first.get()) == inode_of(pipe_ends[4]));

    // No fd, or more than one message carries: refused before anything is sent.
    errno = 0;
    CHECK(sys::send_with_fds(a.get(), &byte, 1, {}) == -1);
    CHECK(errno == EINVAL);
    const std::vector<int> many(sys::kMaxPassedFds + 1, pipe_ends[0]);
    errno = 0;
    CHECK(sys::send_with_fds(a.get(), &byte, 1, many) == -1);
    CHECK(errno == EINVAL);
    for (const int fd : pipe_ends) ::close(fd);
  }
}
