// One test binary. It can also play a worker process for the integration tests that
// exec real workers (the same way the ipc-matrix tool does).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "ipcmatrix/runner/worker.hpp"

int main(int argc, char** argv) {
  // The zygote's tests (test_runner_zygote.cpp) start this binary as a zygote, and its
  // workers run here.
  if (const int rc = ipcmatrix::maybe_run_worker(argc, argv); rc >= 0) return rc;
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
