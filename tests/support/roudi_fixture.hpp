#pragma once
// The RouDi a test needs for the `iceoryx` mechanism: started with the same code as the runner's
// (transport/iceoryx_roudi.hpp), with the default pools, and stopped (nothing left: no process, no
// /dev/shm entry, no socket) when the fixture goes. When this process cannot own one (another
// RouDi runs, or another test or run holds the lock) the test skips iceoryx with a MESSAGE.
// ctest serialises the tests that use iceoryx (RESOURCE_LOCK iceoryx in CMakeLists.txt), so
// under `ctest -j` they do not skip each other.
//
// iceoryx allows one runtime per process, made once; a forked child of a process that has one
// cannot use iceoryx. So a test never opens an iceoryx end in its own process: it opens them in
// forked children (spawn_pair, in_child below) or in the real tool's workers.

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <string>

#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/iceoryx_roudi.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix::test {

/// True for a mechanism that needs RouDi running.
inline bool needs_roudi(const TransportSpec& t) { return t.name == "iceoryx"; }

class RoudiFixture {
 public:
  RoudiFixture() {
    try {
      roudi_ = iceoryx::Roudi::start(iceoryx::default_config(), &why_);
    } catch (const std::exception& e) {
      why_ = e.what();
    }
  }
  [[nodiscard]] bool running() const noexcept { return roudi_ != nullptr; }
  [[nodiscard]] const std::string& why() const noexcept { return why_; }
  [[nodiscard]] iceoryx::Roudi* get() const noexcept { return roudi_.get(); }
  /// Stops the daemon now (the destructor does too).
  void stop() { roudi_.reset(); }

 private:
  std::string why_;
  std::unique_ptr<iceoryx::Roudi> roudi_;
};

/// Runs body in a forked child and returns its exit code (-1 when it hung or was killed):
/// for the checks a test would otherwise make in its own process (open_local_pair), which
/// iceoryx's one runtime per process forbids for a process that forks peers afterwards.
inline int in_child(const std::function<int()>& body) {
  sys::Child c = sys::fork_child(body);
  const auto st = c.wait_for(std::chrono::milliseconds(120'000));
  if (!st) c.kill_and_reap();
  return st && st->signal == 0 ? st->code : -1;
}

}  // namespace ipcmatrix::test
