#pragma once
/// @file run_program.hpp
/// The one way this library runs another program (gnuplot for the charts; nvidia-smi and git
/// for the environment). Contract:
///   - argv goes to the program as given, never through a shell: nothing is quoted, split or
///     expanded. argv[0] without a '/' is looked up in PATH.
///   - The child's stdin is /dev/null and its stderr is discarded; its stdout is captured or
///     discarded. It starts with no signal blocked and every signal at its default action,
///     whatever the caller had blocked or ignored (InterruptWatch, ignore_sigpipe).
///   - A child still running at the timeout is killed (SIGKILL). Every child is reaped before
///     run_program returns or throws, so none is left behind as a zombie.
/// Thread-safe for concurrent calls, provided nothing else in the process reaps children it
/// did not start (waitpid(-1)); nothing in this library does.
/// Implemented in src/sys/linux/run_program.cpp, which the portable ipcmatrix_core builds:
/// its charts need it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ipcmatrix::sys {

/// How long a program may run, and what to keep of its output.
struct ProgramOptions {
  /// Killed (SIGKILL) and reaped when still running after this long.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  /// Keep the program's stdout in ProgramResult::out; otherwise it goes to /dev/null.
  bool capture_stdout = false;
  /// At most this many bytes of stdout are kept; the rest is read and dropped, so a chatty
  /// program never blocks on a full pipe (ProgramResult::out_truncated says so).
  std::size_t max_output_bytes = std::size_t{16} << 20;
};

/// How a program run by run_program() ended, and what it wrote.
struct ProgramResult {
  enum class End : std::uint8_t {
    exited,     ///< it exited by itself: exit_code
    signalled,  ///< a signal ended it (not ours): signal
    timed_out,  ///< still running at the timeout: killed with SIGKILL and reaped
  };
  End end = End::exited;
  int exit_code = -1;  ///< when exited
  int signal = 0;      ///< when signalled
  std::string out;     ///< its stdout, when captured (also what it wrote before a timeout)
  bool out_truncated = false;  ///< stdout exceeded ProgramOptions::max_output_bytes

  /// Exited with code 0.
  [[nodiscard]] bool ok() const noexcept { return end == End::exited && exit_code == 0; }
  [[nodiscard]] bool timed_out() const noexcept { return end == End::timed_out; }
  /// "exited with code 2", "killed by signal 9 (Killed)", "timed out and was killed".
  [[nodiscard]] std::string describe() const;
};

/// Runs argv[0] with argv and waits for it, at most options.timeout.
/// @throws ipcmatrix::Error when the program cannot be started, naming it and why: an empty
///         argv, a program not found (ENOENT) or not executable (EACCES), or a failing pipe,
///         open or spawn. A program that starts and then fails is a ProgramResult, not an
///         error: its caller decides what its exit status means.
[[nodiscard]] ProgramResult run_program(const std::vector<std::string>& argv, const ProgramOptions& options = {});

}  // namespace ipcmatrix::sys
