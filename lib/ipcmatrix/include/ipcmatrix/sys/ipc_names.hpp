#pragma once
/// @file ipc_names.hpp
/// Names of the IPC objects this tool creates (shared-memory segments and queues in /dev/shm,
/// POSIX message queues, socket directories in $TMPDIR), and who owns them.
///
/// Contract:
///   - Every name is `ipcm-<run>-<pid>-<start>-<random>[-suffix]`: the creating process's run
///     id (8 hex, random per process), its pid and its start time (clock ticks since boot,
///     /proc/<pid>/stat field 22; pid and start time together survive pid reuse), then 8 random
///     hex characters. A mechanism may append "-<suffix>" for a companion object.
///   - A run only ever checks for leaks in, and removes, names that carry its own run id
///     (own_ipc_names()); another run's objects, live or dead, are never touched by a run.
///   - `cleanup` (remove_if_orphaned) removes a name only when its owner process is gone, and
///     only an entry of the shape this tool makes: a regular file in /dev/shm, a queue in
///     /dev/mqueue (removed with mq_unlink), or a directory in $TMPDIR owned by this user
///     holding nothing but one socket `s`. Anything else is left alone with the reason.
///   - POSIX message queues are visible only where the mqueue filesystem is mounted at
///     /dev/mqueue (mqueue_mounted()); elsewhere a queue cannot be listed, and posix-mq relies
///     on unlinking its queues itself (at open, and in its Channel's destructor).

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ipcmatrix::sys {

/// Every name this library creates starts with this prefix.
inline constexpr std::string_view kNamePrefix = "ipcm-";
/// Where Linux shows POSIX message queues, when the mqueue filesystem is mounted there.
inline constexpr const char* kMqueueDir = "/dev/mqueue";

/// True when kMqueueDir is an mqueue filesystem (statfs), so queues can be listed there.
[[nodiscard]] bool mqueue_mounted() noexcept;

/// The process that created a named object, parsed from the name.
struct IpcOwner {
  std::string run_id;
  int pid = 0;
  unsigned long long start_ticks = 0;
};

/// This process's run id: 8 lowercase hex characters, drawn once per process.
[[nodiscard]] const std::string& run_id();
/// A fresh name for one IPC object of this process's run (see the contract above).
[[nodiscard]] std::string unique_ipc_name();
/// The owner encoded in a name (a path's last component or a bare name); nullopt when the
/// name is not of this tool's current shape.
[[nodiscard]] std::optional<IpcOwner> ipc_name_owner(std::string_view name_or_path);
/// True while the owning process runs: the pid exists and has the recorded start time.
[[nodiscard]] bool owner_alive(const IpcOwner& owner);

/// Paths of every ipcm-* object that exists now, whoever made it: /dev/shm/ipcm-*,
/// /dev/mqueue/ipcm-* (where mounted) and $TMPDIR/ipcm-*.
[[nodiscard]] std::set<std::string> ipc_names();
/// The subset of ipc_names() that this process's run created.
[[nodiscard]] std::set<std::string> own_ipc_names();
/// The subset of ipc_names() created by process `pid` (any run id): what a test checks after a
/// child run of the tool exits.
[[nodiscard]] std::set<std::string> ipc_names_of(int pid);

/// Removes one of this tool's objects: a /dev/shm file, a /dev/mqueue queue (mq_unlink), or a
/// socket directory with its socket.
/// Refuses (returns false and says why in *why) anything of another shape. Never throws.
bool remove_ipc_object(const std::string& path, std::string* why = nullptr) noexcept;

/// What cleanup decided for one name.
struct CleanupEntry {
  std::string path;
  bool removed = false;    ///< removed (or, with dry_run, would be)
  std::string reason;      ///< why it was (or was not) removed
};
/// Examines every ipcm-* name: removes those whose owner is dead and whose shape is ours,
/// leaves the rest and says why. With dry_run nothing is removed.
[[nodiscard]] std::vector<CleanupEntry> cleanup_orphans(bool dry_run);

}  // namespace ipcmatrix::sys
