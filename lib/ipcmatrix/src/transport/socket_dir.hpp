#pragma once
// The private directory a socket file lives in (unix, zmq, nng): $TMPDIR/<name>, mode 0700,
// where <name> is ChannelOptions::name or a fresh run-scoped sys::unique_ipc_name(), holding
// one socket file `s` (the one shape sys::cleanup_orphans accepts in a socket directory). A
// stranger cannot reach the socket: the directory is this user's alone and its name cannot
// be guessed.

#include <sys/un.h>

#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/ipc_names.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix::detail {

/// Why `path` cannot be a Unix socket's address, as a sentence naming the fix; empty when it
/// fits in sun_path (107 bytes and the terminating NUL).
inline std::string socket_path_problem(const std::string& path) {
  constexpr std::size_t kMax = sizeof(sockaddr_un::sun_path) - 1;
  if (path.size() <= kMax) return {};
  return "the socket path '" + path + "' is " + std::to_string(path.size()) + " bytes, over the " +
         std::to_string(kMax) + " a Unix socket address holds: set TMPDIR to a shorter directory";
}

/// A socket directory and the path of the socket in it. Owns both: the destructor (or
/// remove()) unlinks the socket, if something bound it, and removes the directory.
class SocketDir {
 public:
  SocketDir() = default;
  /// Makes the directory. Throws Error: filename_too_long before anything is made when the
  /// socket path would not fit; EEXIST when the name is taken (left alone: not ours).
  SocketDir(std::string_view mechanism, const ChannelOptions& o) {
    std::string dir = sys::temp_dir() + "/" + (o.name.empty() ? sys::unique_ipc_name() : o.name);
    std::string path = dir + "/s";
    if (const std::string problem = socket_path_problem(path); !problem.empty())
      throw Error(std::make_error_code(std::errc::filename_too_long), mechanism, dir, problem);
    sys::make_private_dir(dir);
    dir_ = std::move(dir);
    path_ = std::move(path);
  }
  SocketDir(SocketDir&& o) noexcept : dir_(std::exchange(o.dir_, {})), path_(std::exchange(o.path_, {})) {}
  SocketDir& operator=(SocketDir&& o) noexcept {
    if (this != &o) {
      remove();
      dir_ = std::exchange(o.dir_, {});
      path_ = std::exchange(o.path_, {});
    }
    return *this;
  }
  SocketDir(const SocketDir&) = delete;
  SocketDir& operator=(const SocketDir&) = delete;
  ~SocketDir() { remove(); }

  [[nodiscard]] const std::string& dir() const noexcept { return dir_; }
  /// The socket file's path (`<dir>/s`); empty for a default-constructed one.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  void remove() noexcept {
    if (!dir_.empty()) sys::remove_quietly(path_, dir_);
    dir_.clear();
    path_.clear();
  }

  /// What a socket directory made now would run into (a $TMPDIR too long for a socket
  /// address), for a mechanism's preflight; empty when fine.
  [[nodiscard]] static std::string preflight() {
    return socket_path_problem(sys::temp_dir() + "/" + sys::unique_ipc_name() + "/s");
  }

 private:
  std::string dir_;
  std::string path_;
};

}  // namespace ipcmatrix::detail
