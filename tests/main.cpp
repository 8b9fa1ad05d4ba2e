// One test binary. It can also play a worker process for the integration tests that
// exec real workers (the same way the ipc-matrix tool does).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

int main(int argc, char** argv) {
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
