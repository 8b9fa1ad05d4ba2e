#pragma once
/// @file protocol.hpp
/// The worker protocol, in one place: what the coordinator and a worker process say to
/// each other over the inherited control socket (control.hpp frames the records).
///
///   coordinator -> worker   WorkerTask         what to run, on which channels
///   worker -> coordinator   ready              every channel end is open
///   coordinator -> worker   start              all workers are ready: go
///   worker -> coordinator   WorkerReport       counts, histograms, CPU and memory
///   worker -> coordinator   failure            instead of ready or the report
///
/// Each record is {"type": "<one of the above>", "body": {...}}; the body's JSON mapping of
/// each struct is declared once, in protocol.cpp, and tested by a round trip. Both ends are
/// the same binary, so any mismatch is a bug: readers throw Error on a missing key or a
/// value of the wrong type instead of defaulting.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ipcmatrix/pattern/roles.hpp"
#include "ipcmatrix/sys/clock.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {

/// What a worker is asked to do.
enum class TaskKind : std::uint8_t {
  role,        ///< run params.role over its channels and report figures
  idle_probe,  ///< wait on ins[0] with no traffic until the sender closes; report CPU used
};

struct WorkerTask {
  TaskKind kind = TaskKind::role;
  RoleParams params;                   ///< the role loop's parameters (kind == role)
  int cpu = -1;                        ///< pin to this CPU first; -1 leaves it unpinned
  sys::ClockCalibration clock;         ///< the run's clock conversion, shared by all workers
  std::vector<ChannelSpec> outs, ins;  ///< sending and receiving ends, in topology order
};

/// One worker's figures, sent once after its role loop (or idle wait) ends.
struct WorkerReport {
  RoleReport role;   ///< per-channel counts, histograms, serialization samples, error
  sys::Usage usage;  ///< CPU time and context switches over the loop; peak RSS of the process
  int cpu = -1;      ///< the CPU it was pinned to (role) or last ran on (idle probe)
  double wall_s = 0; ///< wall time of the loop or idle wait, seconds
};

/// What the coordinator receives from a worker.
struct WorkerReply {
  enum class Kind : std::uint8_t { ready, report, failure };
  Kind kind = Kind::failure;
  int pid = 0;          ///< ready: the worker's pid
  WorkerReport report;  ///< report
  std::string error;    ///< failure: what went wrong, for the cell's error
};

// Coordinator side.
/// Sends the task. Throws Error on I/O failure.
void send_task(int fd, const WorkerTask& task);
/// Releases a ready worker. Throws Error on I/O failure.
void send_start(int fd);
/// The next reply within timeout_ms; nullopt on EOF or timeout (timed_out says which).
/// Throws Error on a malformed record.
[[nodiscard]] std::optional<WorkerReply> recv_reply(int fd, std::int64_t timeout_ms, bool* timed_out = nullptr);

// Worker side.
/// The task within timeout_ms; nullopt on EOF or timeout. Throws Error on a malformed record.
[[nodiscard]] std::optional<WorkerTask> recv_task(int fd, std::int64_t timeout_ms);
/// True when "start" arrives within timeout_ms; false on EOF, timeout or any other record.
[[nodiscard]] bool recv_start(int fd, std::int64_t timeout_ms);
void send_ready(int fd);
void send_report(int fd, const WorkerReport& report);
void send_failure(int fd, std::string_view error);

// The JSON mapping (nlohmann's to_json/from_json, found by ADL); exposed for the round-trip test.
void to_json(nlohmann::json& j, const WorkerTask& t);
void from_json(const nlohmann::json& j, WorkerTask& t);
void to_json(nlohmann::json& j, const WorkerReport& r);
void from_json(const nlohmann::json& j, WorkerReport& r);

}  // namespace ipcmatrix
