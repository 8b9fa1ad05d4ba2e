#!/usr/bin/env bash
# Builds and runs every test. This is what CI runs (.ci/run).
#   0. the lint (tools/lint.sh): clang-format and clang-tidy over the files it lists;
#   1. the Release build (warnings are errors) and its full suite under ctest;
#   2. the shm ring under ThreadSanitizer (two threads in one process), in a TSan build;
#   3. the whole suite again (fuzz corpus replays included) under AddressSanitizer and
#      UndefinedBehaviorSanitizer, the real binary too, in an ASan build.
# Each phase prints the time since the start, so a slow CI run shows where the time went.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
jobs=$(nproc 2>/dev/null || echo 2)
src=$(pwd)

SECONDS=0
phase() { printf '== test.sh [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

# What every build tree gets: Ninja and ccache where installed (tools/setup.sh installs both).
common=(-DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
if command -v ccache >/dev/null; then
  # Three trees of about 60 translation units each are most of the time of a run; with ccache
  # a second run on the same machine compiles only what changed. CI clones into a new
  # directory each time: BASEDIR makes the cached paths relative to the checkout, and
  # NOHASHDIR keeps the checkout's path out of the hash of the -g builds. The few translation
  # units that embed an absolute path (IPCMATRIX_SOURCE_DIR, IPCMATRIX_TOOL_PATH) still miss.
  export CCACHE_BASEDIR="$src" CCACHE_NOHASHDIR=true
  common+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# configure DIR ARGS...: a new tree uses Ninja when present; an existing one keeps its
# generator (CMake refuses to switch generators in place).
configure() {
  local dir=$1
  shift
  local gen=()
  if [ ! -f "$dir/CMakeCache.txt" ] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
  cmake -S . -B "$dir" "${gen[@]}" "${common[@]}" "$@" >/dev/null
}

phase "lint"
configure build -DCMAKE_BUILD_TYPE=Release -DIPCMATRIX_WERROR=ON
tools/lint.sh build

phase "Release build"
cmake --build build -j "$jobs"
phase "Release tests"
# Side by side, as every test must pass (no assertion on a time, bounded waits, only IPC
# objects of its own): ctest -j2 took the ASan suite from 415 s to 280 s on the 2-core VM.
# What cannot share the machine says so itself: RESOURCE_LOCK (iceoryx's RouDi, peak memory)
# and RUN_SERIAL (the per-user message-queue limit), in CMakeLists.txt.
ctest --test-dir build --output-on-failure --timeout 600 -j "$jobs"

# Only the test binary, and -O1 -g1 instead of RelWithDebInfo's -O2 -g: less compile time,
# every atomic and plain access still instrumented, line numbers in every report.
phase "TSan build"
configure build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
          -DIPCMATRIX_TSAN=ON -DIPCMATRIX_BUILD_BENCH=OFF
cmake --build build-tsan -j "$jobs" --target ipcmatrix_tests
phase "TSan ring tests"
# halt_on_error: any race fails the run, not just a report on stderr.
TSAN_OPTIONS="halt_on_error=1" build-tsan/ipcmatrix_tests --test-suite=ring

# -O1 -g1: half the compile time of -O2 -g, still line numbers in every report.
phase "ASan+UBSan build"
configure build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DIPCMATRIX_ASAN=ON \
          -DIPCMATRIX_BUILD_BENCH=OFF
cmake --build build-asan -j "$jobs"
phase "ASan+UBSan tests"
# detect_leaks=0: workers and the test binary's forked children _exit() on purpose.
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  ctest --test-dir build-asan --output-on-failure --timeout 600 -j "$jobs"
phase "done"
