#!/usr/bin/env bash
# Builds and runs every test. This is what CI runs (.ci/run).
#   1. the Release build (warnings are errors) and its full suite under ctest;
#   2. the shm ring under ThreadSanitizer (two threads in one process), in a TSan build;
#   3. the whole suite again (fuzz corpus replays included) under AddressSanitizer and
#      UndefinedBehaviorSanitizer, the real binary too, in an ASan build.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DIPCMATRIX_WERROR=ON >/dev/null
cmake --build build -j "$jobs"

cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIPCMATRIX_TSAN=ON \
      -DIPCMATRIX_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsan -j "$jobs" --target ipcmatrix_tests
# halt_on_error: any race fails the run, not just a report on stderr.
TSAN_OPTIONS="halt_on_error=1" build-tsan/ipcmatrix_tests --test-suite=ring

# Serially: several tests spin on both cores, and they are quick.
ctest --test-dir build --output-on-failure --timeout 600

# -O1 -g1: half the compile time of -O2 -g, still line numbers in every report.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DIPCMATRIX_ASAN=ON \
      -DIPCMATRIX_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"
# detect_leaks=0: workers and the test binary's forked children _exit() on purpose.
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  ctest --test-dir build-asan --output-on-failure --timeout 600
