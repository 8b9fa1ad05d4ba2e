#pragma once
// Shared helpers for tests that cross real processes: deterministic payloads, a
// checksum, and snapshots of what a run could leak (/dev/shm entries, socket
// directories, unreaped children).

#include <sys/wait.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "ipcmatrix/sys/ipc_names.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/transport/iceoryx_roudi.hpp"

namespace ipcmatrix::test {

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
