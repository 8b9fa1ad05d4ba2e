#pragma once
// Shared helpers for tests that cross real processes: deterministic payloads, a
// checksum, and snapshots of what a run could leak (/dev/shm entries, socket
// directories, unreaped children).

#include <doctest/doctest.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "ipcmatrix/sys/ipc_names.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "ipcmatrix/transport/iceoryx_roudi.hpp"

namespace ipcmatrix::test {

/// This process's resident set now, KiB (/proc/self/statm's second field, in pages): not
/// its peak, which an earlier test in the same process may have set higher.
inline std::int64_t resident_kib() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

inline std::uint64_t splitmix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// Deterministic bytes for message i of a stream: both ends can regenerate them.
inline void fill_payload(std::span<std::byte> out, std::uint64_t i) {
  std::uint64_t s = i * 0x2545f4914f6cdd1dull + out.size();
  std::size_t k = 0;
  for (; k + 8 <= out.size(); k += 8) {
    const std::uint64_t v = splitmix(s);
    for (int b = 0; b < 8; ++b) out[k + b] = static_cast<std::byte>(v >> (8 * b));
  }
  if (k < out.size()) {
    const std::uint64_t v = splitmix(s);
    std::byte tail[8];
    for (int b = 0; b < 8; ++b) tail[b] = static_cast<std::byte>(v >> (8 * b));
    std::memcpy(out.data() + k, tail, out.size() - k);
  }
}

inline bool payload_matches(std::span<const std::byte> got, std::uint64_t i) {
  std::vector<std::byte> want(got.size());
  fill_payload(want, i);
  return std::equal(got.begin(), got.end(), want.begin());
}

/// Names this test process could leave behind: its own run's ipcm-* objects, plus every
/// /dev/shm entry that is not an ipcm-* name (stricter than our prefix: a mechanism that made a
/// name of another shape would show here). Other processes' ipcm-* objects (another test under
/// ctest -j, another run of the tool) are not ours to judge, nor are RouDi's two segments,
/// which a RouDi of a test beside this one makes (the iceoryx tests check those themselves:
/// iceoryx::foreign_roudi() after their daemon stopped).
inline std::set<std::string> leak_snapshot() {
  std::set<std::string> out = sys::own_ipc_names();
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec)) {
    if (e.path().filename().string().rfind(sys::kNamePrefix, 0) != 0 && !iceoryx::is_roudi_segment(e.path().string()))
      out.insert(e.path().string());
  }
  return out;
}

/// Entries in after that were not in before.
inline std::vector<std::string> new_entries(const std::set<std::string>& before,
                                            const std::set<std::string>& after) {
  std::vector<std::string> out;
  for (const auto& s : after)
    if (!before.count(s)) out.push_back(s);
  return out;
}

/// True when this process has no child left to reap (every Child was waited for).
inline bool no_children_left() {
  int st = 0;
  return ::waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD;
}

/// Runs body, then checks that it left no IPC object of this run (nor any stray /dev/shm
/// entry) and no child unreaped.
inline void expect_leaves_nothing(const std::function<void()>& body) {
  const auto before = leak_snapshot();
  body();
  const auto leaked = new_entries(before, leak_snapshot());
  CHECK_MESSAGE(leaked.empty(), "leaked: " << (leaked.empty() ? "" : leaked.front()));
  CHECK(no_children_left());
}

/// A receiver run as an event loop: it waits only in epoll_wait() on tr.poll_fd() (30 s at
/// a time: a lost wake-up ends the loop with code 14 instead of hanging the test), drains
/// with try_recv() until would_block, and stops at peer_closed. check(message, i) judges
/// message i. Returns 0, or the code of what went wrong (10-16), for a child's exit status;
/// `messages` counts what arrived. At least one wake-up is required: the loop ran dry.
inline int run_event_loop(Transport& tr, std::size_t buf_bytes, std::uint64_t& messages,
                          const std::function<bool(std::span<const std::byte>, std::uint64_t)>& check) {
  messages = 0;
  const int fd = tr.poll_fd();
  if (fd < 0) return 10;
  const sys::Fd ep(::epoll_create1(EPOLL_CLOEXEC));
  epoll_event ev{};
  ev.events = EPOLLIN;
  if (ep.get() < 0 || ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return 11;
  std::vector<std::byte> buf(buf_bytes);
  std::uint64_t wakeups = 0;
  while (true) {
    std::size_t len = 0;
    const IoStatus s = tr.try_recv(buf, len);
    if (s == IoStatus::ok) {
      if (!check({buf.data(), len}, messages)) return 12;
      ++messages;
      continue;
    }
    if (s == IoStatus::peer_closed) break;
    if (s != IoStatus::would_block) return 13;
    epoll_event out{};
    if (::epoll_wait(ep.get(), &out, 1, 30'000) != 1) return 14;  // a lost wake-up
    ++wakeups;
  }
  return wakeups > 0 ? 0 : 16;
}

/// Sets an environment variable for one test (and the processes it forks or spawns), and
/// restores it. Not thread-safe: set it before starting threads.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace ipcmatrix::test
