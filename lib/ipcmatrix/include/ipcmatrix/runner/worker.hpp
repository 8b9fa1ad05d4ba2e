#pragma once
/// @file worker.hpp
/// The process side of a cell. The coordinator's zygote (src/runner/zygote.hpp), itself this
/// binary re-executed as
///   <exe> --ipcmatrix-zygote <socket-fd> <coordinator-pid>
/// forks each worker (where it cannot, the coordinator re-executes its binary as
///   <exe> --ipcmatrix-worker <control-fd> <coordinator-pid>
/// instead), and the worker then: receives its task (role, cell parameters, channel specs), opens
/// its sending ends and then its receiving ends (sending ends never block, so two
/// workers cannot wait on each other), pins itself, reports "ready", waits for "start",
/// runs its role loop, and sends back one report (histograms, per-channel counts and
/// checksums, CPU and memory usage).

#include <string_view>

namespace ipcmatrix {

inline constexpr std::string_view kWorkerFlag = "--ipcmatrix-worker";

/// Entry point for a binary that can play a worker (or the zygote that forks them): call
/// first thing in main(). Returns the process exit code when argv asks for either role, or
/// -1 when it does not.
int maybe_run_worker(int argc, char** argv);

}  // namespace ipcmatrix
