#pragma once
// Runs the real ipc-matrix binary from a test: in the foreground (run_tool) or in the
// background (ToolProcess) so a test can signal it. Output goes to files in a private
// directory; every run is waited for with a bound and reaped.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"

namespace ipcmatrix::test {

namespace fs = std::filesystem;

inline std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

/// A private scratch directory, removed at the end of the test.
inline void write_file(const fs::path& p, std::string_view text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("ipcmatrix-test-" + sys::random_id());
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

struct ToolRun {
  int code = -1;  ///< exit code, or 128 + signal
  std::string out, err;
  int pid = 0;
};

using Env = std::vector<std::pair<std::string, std::string>>;

/// The tool started in the background; its stdout and stderr go to files under dir.
class ToolProcess {
 public:
  /// program: what to exec (default the tool); args are its argv[1..].
  ToolProcess(const std::vector<std::string>& args, const TempDir& dir, const Env& env = {},
              std::string tag = "tool", std::string program = IPCMATRIX_TOOL_PATH)
      : out_(dir.path / (tag + ".stdout")), err_(dir.path / (tag + ".stderr")) {
    const fs::path out = out_, err = err_;
    child_ = sys::fork_child([&] {
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(o, 1);
      ::dup2(e, 2);
      std::vector<std::string> copy = args;
      std::vector<char*> argv;
      std::string tool = program;
      argv.push_back(tool.data());
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(tool.c_str(), argv.data());
      return 127;
    });
  }
  [[nodiscard]] int pid() const { return child_.pid(); }
  void signal(int sig) { child_.kill(sig); }
  [[nodiscard]] std::string err_so_far() const { return slurp(err_); }
  /// Waits at most timeout; a tool still running then is killed and the test fails.
  ToolRun wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(300'000)) {
    auto st = child_.wait_for(timeout);
    if (!st) child_.kill_and_reap();
    REQUIRE_MESSAGE(st.has_value(), "ipc-matrix did not finish in time");
    ToolRun r;
    r.code = st->signal ? 128 + st->signal : st->code;
    r.out = slurp(out_);
    r.err = slurp(err_);
    r.pid = child_.pid();
    return r;
  }

 private:
  fs::path out_, err_;
  sys::Child child_;
};

inline ToolRun run_tool(const std::vector<std::string>& args, const TempDir& dir, const Env& env = {}) {
  ToolProcess p(args, dir, env);
  return p.wait();
}

}  // namespace ipcmatrix::test
