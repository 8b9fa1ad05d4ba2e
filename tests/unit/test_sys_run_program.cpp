// run_program: real programs, no shell; every child reaped, a hung one killed at its timeout.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/run_program.hpp"

using ipcmatrix::sys::ProgramOptions;
using ipcmatrix::sys::ProgramResult;
using ipcmatrix::sys::run_program;

namespace {

/// No child of this process is left unreaped (waitpid(-1) finds none to wait for).
bool no_child_left() {
  int status = 0;
  return ::waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD;
}

ProgramOptions capture() {
  ProgramOptions o;
  o.capture_stdout = true;
  return o;
}

}  // namespace

TEST_SUITE("sys run_program") {
  TEST_CASE("run_program: captures stdout, argv passed as is, no shell") {
    const ProgramResult r = run_program({"/bin/echo", "hello", "$HOME 'quoted' ; two words"}, capture());
    CHECK(r.ok());
    CHECK(r.end == ProgramResult::End::exited);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "hello $HOME 'quoted' ; two words\n");
    CHECK_FALSE(r.out_truncated);
    CHECK(no_child_left());
  }

  TEST_CASE("run_program: a program on PATH, output discarded unless asked for") {
    const ProgramResult r = run_program({"echo", "discarded"});
    CHECK(r.ok());
    CHECK(r.out.empty());
  }

  TEST_CASE("run_program: captured output beyond the limit is dropped, not blocked on") {
    ProgramOptions o = capture();
    o.max_output_bytes = 4;
    const ProgramResult r = run_program({"/bin/echo", "0123456789"}, o);
    CHECK(r.ok());
    CHECK(r.out == "0123");
    CHECK(r.out_truncated);
  }

  TEST_CASE("run_program: a non-zero exit is a result, not an error") {
    const ProgramResult r = run_program({"/bin/sh", "-c", "exit 3"});
    CHECK_FALSE(r.ok());
    CHECK(r.end == ProgramResult::End::exited);
    CHECK(r.exit_code == 3);
    CHECK(r.describe() == "exited with code 3");
    CHECK(run_program({"/bin/false"}).exit_code == 1);
    CHECK(no_child_left());
  }

  TEST_CASE("run_program: a program ended by a signal says which") {
    const ProgramResult r = run_program({"/bin/sh", "-c", "kill -TERM $$"});
    CHECK(r.end == ProgramResult::End::signalled);
    CHECK(r.signal == SIGTERM);
    CHECK(r.describe().find("killed by signal 15") == 0);
  }

  TEST_CASE("run_program: a missing program is an Error naming it") {
    for (const char* missing : {"/nonexistent/ipcmatrix-no-such-program", "ipcmatrix-no-such-program"}) {
      try {
        (void)run_program({missing, "arg"});
        FAIL("no error for " << missing);
      } catch (const ipcmatrix::Error& e) {
        CHECK(e.code() == std::errc::no_such_file_or_directory);
        CHECK(std::string(e.what()).find(missing) != std::string::npos);
        CHECK(std::string(e.what()).find("cannot start") != std::string::npos);
      }
    }
    CHECK_THROWS_AS((void)run_program({}), ipcmatrix::Error);
    CHECK(no_child_left());
  }

  TEST_CASE("run_program: a program past its timeout is killed and reaped") {
    ProgramOptions o = capture();
    o.timeout = std::chrono::milliseconds(200);
    const ProgramResult r = run_program({"sleep", "30"}, o);
    CHECK(r.timed_out());
    CHECK(r.end == ProgramResult::End::timed_out);
    CHECK_FALSE(r.ok());
    CHECK(r.describe() == "timed out and was killed");
    CHECK(no_child_left());
  }
}  // TEST_SUITE
