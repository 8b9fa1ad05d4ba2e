#include "ipcmatrix/sys/ipc_names.hpp"

#include <mqueue.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"

namespace ipcmatrix::sys {

namespace {

constexpr std::size_t kRunIdChars = 8;
constexpr std::size_t kRandomChars = 8;
constexpr std::string_view kSocketFile = "s";  // the unix transport's socket in its directory
// statfs f_type of the mqueue filesystem (ipc/mqueue.c; not in the uapi headers).
constexpr long kMqueueMagic = 0x19800202;

/// Field 22 of /proc/<pid>/stat: start time in clock ticks after boot; nullopt when the
/// process does not exist. Parsed after the last ')', since the command name may hold spaces.
std::optional<unsigned long long> start_ticks(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const auto paren = line.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(paren + 1));
  std::string field;
  // After ')' come field 3 (state) onwards; start time is field 22.
  for (int i = 3; i <= 22; ++i)
    if (!(fields >> field)) return std::nullopt;
  unsigned long long v = 0;
  const auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (ec != std::errc{} || p != field.data() + field.size()) return std::nullopt;
  return v;
}

bool all_hex(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

template <class T>
bool parse_decimal(std::string_view s, T& out) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

std::string_view next_field(std::string_view& rest) {
  const auto dash = rest.find('-');
  const std::string_view f = rest.substr(0, dash);
  rest = dash == std::string_view::npos ? std::string_view{} : rest.substr(dash + 1);
  return f;
}

struct Self {
  std::string run_id;
  int pid = 0;
  unsigned long long start = 0;
  std::string prefix;  // "ipcm-<run>-<pid>-<start>-"
};

/// Drawn once per process, on first use (in the coordinator, before any cell).
const Self& self() {
  static const Self s = [] {
    Self v;
    v.run_id = random_id().substr(0, kRunIdChars);
    v.pid = current_pid();
    v.start = start_ticks(v.pid).value_or(0);
    v.prefix = std::string(kNamePrefix) + v.run_id + "-" + std::to_string(v.pid) + "-" + std::to_string(v.start) + "-";
    return v;
  }();
  return s;
}

}  // namespace

const std::string& run_id() { return self().run_id; }

std::string unique_ipc_name() { return self().prefix + random_id().substr(0, kRandomChars); }

std::optional<IpcOwner> ipc_name_owner(std::string_view name) {
  if (const auto slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  if (name.substr(0, kNamePrefix.size()) != kNamePrefix) return std::nullopt;
  std::string_view rest = name.substr(kNamePrefix.size());
  IpcOwner o;
  const std::string_view run = next_field(rest);
  const std::string_view pid = next_field(rest);
  const std::string_view start = next_field(rest);
  const std::string_view random = next_field(rest);
  if (run.size() != kRunIdChars || !all_hex(run) || random.size() != kRandomChars || !all_hex(random)) return std::nullopt;
  if (!parse_decimal(pid, o.pid) || o.pid <= 0 || !parse_decimal(start, o.start_ticks)) return std::nullopt;
  o.run_id = std::string(run);
  return o;
}

bool owner_alive(const IpcOwner& owner) {
  const auto ticks = start_ticks(owner.pid);
  // Start time 0: the owner could not read its own (no /proc): the pid alone decides, erring
  // on the side of leaving the object.
  if (owner.start_ticks == 0) return ticks.has_value() || (::kill(owner.pid, 0) == 0 || errno == EPERM);
  return ticks && *ticks == owner.start_ticks;
}

bool mqueue_mounted() noexcept {
  struct statfs st {};
  return ::statfs(kMqueueDir, &st) == 0 && static_cast<long>(st.f_type) == kMqueueMagic;
}

std::set<std::string> ipc_names() {
  std::set<std::string> out;
  std::vector<std::string> dirs{kShmDir, temp_dir()};
  // Only a mounted mqueue filesystem lists queues; a plain directory of that name is not one.
  if (mqueue_mounted()) dirs.emplace_back(kMqueueDir);
  for (const std::string& dir : dirs) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      const auto name = e.path().filename().string();
      if (name.rfind(kNamePrefix, 0) == 0) out.insert(e.path().string());
    }
  }
  return out;
}

std::set<std::string> own_ipc_names() {
  std::set<std::string> out;
  for (const auto& n : ipc_names()) {
    const auto slash = n.rfind('/');
    if (n.compare(slash + 1, self().prefix.size(), self().prefix) == 0) out.insert(n);
  }
  return out;
}

std::set<std::string> ipc_names_of(int pid) {
  std::set<std::string> out;
  for (const auto& n : ipc_names()) {
    const auto owner = ipc_name_owner(n);
    if (owner && owner->pid == pid) out.insert(n);
  }
  return out;
}

namespace {

/// A queue in the mounted mqueue filesystem: removed with mq_unlink, not unlink.
bool in_mqueue_dir(const std::string& path) {
  return std::filesystem::path(path).parent_path() == kMqueueDir && mqueue_mounted();
}

/// Whether `path` has the shape of one of our objects: a regular file (a /dev/shm segment or
/// Boost queue, or a POSIX queue in /dev/mqueue), or a directory of this user holding nothing
/// but our socket. Says why not.
bool ours(const std::string& path, const struct stat& st, std::string& why) {
  if (S_ISREG(st.st_mode)) {
    // Segments and queues live in /dev/shm or /dev/mqueue; a regular file elsewhere was not
    // made by us.
    if (std::filesystem::path(path).parent_path() == kShmDir || in_mqueue_dir(path)) return true;
    why = "a regular file outside " + std::string(kShmDir) + " and " + kMqueueDir + ": not made by ipc-matrix";
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    why = "not a regular file or directory: not made by ipc-matrix";
    return false;
  }
  if (st.st_uid != ::geteuid()) {
    why = "a directory owned by another user";
    return false;
  }
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
    struct stat est {};
    if (e.path().filename() != kSocketFile || ::lstat(e.path().c_str(), &est) != 0 || !S_ISSOCK(est.st_mode)) {
      why = "the directory holds '" + e.path().filename().string() + "': not a socket directory of ipc-matrix";
      return false;
    }
  }
  if (ec) {
    why = "cannot list the directory: " + ec.message();
    return false;
  }
  return true;
}

bool check_object(const std::string& path, bool remove, std::string* why) noexcept {
  std::string reason;
  const auto refuse = [&](std::string s) {
    if (why) *why = std::move(s);
    return false;
  };
  try {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return refuse("already gone");
    if (!ours(path, st, reason)) return refuse(reason);
    if (!remove) return true;
    if (S_ISDIR(st.st_mode)) {
      const std::string sock = path + "/" + std::string(kSocketFile);
      if (::unlink(sock.c_str()) != 0 && errno != ENOENT) return refuse("unlink failed: " + std::string(std::strerror(errno)));
      if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return refuse("rmdir failed: " + std::string(std::strerror(errno)));
    } else if (in_mqueue_dir(path)) {
      const std::string queue = "/" + std::filesystem::path(path).filename().string();
      if (::mq_unlink(queue.c_str()) != 0 && errno != ENOENT)
        return refuse("mq_unlink failed: " + std::string(std::strerror(errno)));
    } else if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return refuse("unlink failed: " + std::string(std::strerror(errno)));
    }
    return true;
  } catch (const std::exception& e) {
    return refuse(e.what());
  }
}

}  // namespace

bool remove_ipc_object(const std::string& path, std::string* why) noexcept { return check_object(path, true, why); }

std::vector<CleanupEntry> cleanup_orphans(bool dry_run) {
  std::vector<CleanupEntry> out;
  for (const auto& path : ipc_names()) {
    CleanupEntry e;
    e.path = path;
    const auto owner = ipc_name_owner(path);
    if (!owner) {
      e.reason = "left alone: the name does not carry an owner (made by something else, or an older ipc-matrix)";
    } else if (owner_alive(*owner)) {
      e.reason = "left alone: its run (pid " + std::to_string(owner->pid) + ", run " + owner->run_id + ") is alive";
    } else {
      std::string why;
      e.removed = check_object(path, !dry_run, &why);
      const std::string gone = "its run (pid " + std::to_string(owner->pid) + ", run " + owner->run_id + ") is gone";
      e.reason = !e.removed ? "left alone: " + why : (dry_run ? "would remove: " : "removed: ") + gone;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace ipcmatrix::sys
