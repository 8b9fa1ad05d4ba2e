#!/usr/bin/env bash
# clang-format and clang-tidy (Debian 12's, version 14) over a listed set of files, not the
# whole tree: the sources that predate .clang-format are not reformatted, so only code
# written to it is held to it. To hold more code to it, format the files
# (`clang-format -i FILE`), fix what clang-tidy says, and add their folders below.
#   format_paths: every .hpp/.cpp under these folders must be clang-format clean;
#   tidy_paths:   every .cpp among these files and under these folders that the build
#                 compiles is run through clang-tidy (.clang-tidy: the checks; warnings are
#                 errors). A few seconds per file, mostly parsing: keep this list short.
# A path that does not exist (yet) is skipped.
# Usage: tools/lint.sh [BUILD_DIR]   (default build; needs BUILD_DIR/compile_commands.json,
# which tools/test.sh asks CMake for with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
jobs=$(nproc 2>/dev/null || echo 2)

format_paths=(
  lib/ipcmatrix/include/ipcmatrix/model
  lib/ipcmatrix/src/model
  lib/ipcmatrix/src/transport/datagram_socket.hpp
  lib/ipcmatrix/src/transport/datagram_socket.cpp
  lib/ipcmatrix/src/transport/unix_seqpacket_transport.cpp
  lib/ipcmatrix/src/transport/unix_dgram_transport.cpp
  lib/ipcmatrix/src/transport/socket_dir.hpp
  lib/ipcmatrix/src/transport/library_transport.hpp
  lib/ipcmatrix/src/transport/zmq_transport.cpp
  lib/ipcmatrix/src/transport/nng_transport.cpp
  bench/bare_libraries.hpp
  bench/bare_libraries.cpp
  tests/integration/test_transport_library.cpp
  lib/ipcmatrix/src/transport/iceoryx_transport.cpp
  lib/ipcmatrix/src/transport/iceoryx_roudi.cpp
  lib/ipcmatrix/include/ipcmatrix/transport/iceoryx_roudi.hpp
  lib/ipcmatrix/src/runner/roudi_for_run.hpp
  lib/ipcmatrix/src/runner/roudi_for_run.cpp
  lib/ipcmatrix/include/ipcmatrix/runner/race.hpp
  lib/ipcmatrix/src/runner/race.cpp
  lib/ipcmatrix/src/runner/zygote.cpp
  tests/unit/test_runner_race.cpp
  tests/unit/test_sys_fd_passing.cpp
  tests/unit/test_runner_ceiling.cpp
  lib/ipcmatrix/src/runner/zygote.hpp
  lib/ipcmatrix/src/runner/zygote.cpp
  tests/integration/test_runner_zygote.cpp
  lib/ipcmatrix/include/ipcmatrix/report/export.hpp
  lib/ipcmatrix/src/report/export.cpp
  tests/unit/test_report_export.cpp
  lib/ipcmatrix/include/ipcmatrix/runner/shard.hpp
  lib/ipcmatrix/src/runner/shard.cpp
  tests/unit/test_runner_shard.cpp
  tests/unit/test_runner_verify.cpp
  lib/ipcmatrix/include/ipcmatrix/report/merge.hpp
  lib/ipcmatrix/src/report/merge.cpp
  lib/ipcmatrix/include/ipcmatrix/report/fleet.hpp
  lib/ipcmatrix/src/report/fleet.cpp
  tests/unit/test_report_merge.cpp
  lib/ipcmatrix/include/ipcmatrix/runner/dev_shm.hpp
  lib/ipcmatrix/src/runner/dev_shm.cpp
  tests/install/consumer
  bench/bare_iceoryx.hpp
  lib/ipcmatrix/src/pattern/roles/steady_rate.hpp
  tests/unit/test_util_json_file.cpp
  tests/unit/test_runner_floor.cpp
)
tidy_paths=(
  lib/ipcmatrix/src/model
  # Small, pure files that already pass, so that the check runs on something before model/.
  lib/ipcmatrix/src/stats/statistics.cpp
  lib/ipcmatrix/src/stats/significance.cpp
  lib/ipcmatrix/src/transport/datagram_socket.cpp
  lib/ipcmatrix/src/transport/unix_seqpacket_transport.cpp
  lib/ipcmatrix/src/transport/unix_dgram_transport.cpp
  lib/ipcmatrix/src/transport/zmq_transport.cpp
  lib/ipcmatrix/src/transport/nng_transport.cpp
  lib/ipcmatrix/src/transport/iceoryx_transport.cpp
  lib/ipcmatrix/src/transport/iceoryx_roudi.cpp
  lib/ipcmatrix/src/runner/roudi_for_run.cpp
  lib/ipcmatrix/src/runner/race.cpp
  lib/ipcmatrix/src/runner/zygote.cpp
  lib/ipcmatrix/src/report/export.cpp
  lib/ipcmatrix/src/runner/shard.cpp
  lib/ipcmatrix/src/report/merge.cpp
  lib/ipcmatrix/src/report/fleet.cpp
  lib/ipcmatrix/src/runner/dev_shm.cpp
)

# The files among the paths that exist, sorted; $1 is the find -name pattern.
list() {
  local pattern=$1
  shift
  local paths=()
  for d in "$@"; do [ -e "$d" ] && paths+=("$d"); done
  [ ${#paths[@]} -eq 0 ] || find "${paths[@]}" -type f \( -name "$pattern" \) | LC_ALL=C sort
}

for tool in clang-format clang-tidy; do
  command -v "$tool" >/dev/null || { echo "lint: $tool not found (tools/setup.sh installs it)" >&2; exit 1; }
done

# A test name with a ';' is two names to CMake's doctest_discover_tests, whose filters then
# match no test: ctest reports it passed without running it.
if grep -rnE 'TEST_CASE\(\s*"[^"]*;' tests; then
  echo "lint: the test names above contain ';', which ctest splits (the test would never run)" >&2
  exit 1
fi

mapfile -t fmt_files < <(list '*.[ch]pp' "${format_paths[@]}")
if [ ${#fmt_files[@]} -gt 0 ]; then
  clang-format --dry-run --Werror "${fmt_files[@]}" ||
    { echo "lint: not clang-format clean: run clang-format -i on the files named above" >&2; exit 1; }
fi

[ -f "$build/compile_commands.json" ] || { echo "lint: $build/compile_commands.json missing" >&2; exit 1; }
# Only translation units the build compiles: a file not in the database would be checked
# with guessed flags.
mapfile -t tidy_files < <(list '*.cpp' "${tidy_paths[@]}" | while read -r f; do
  grep -qF "\"file\": \"$PWD/$f\"" "$build/compile_commands.json" && echo "$f" || true
done)
if [ ${#tidy_files[@]} -gt 0 ]; then
  # -Wno-unknown-warning-option: the flags are g++'s (-Wno-restrict), not all known to clang.
  # One file per clang-tidy, $jobs at a time: parsing dominates, a few seconds per file.
  # Its output only when it fails: on success it is just a count of system-header warnings.
  printf '%s\0' "${tidy_files[@]}" |
    xargs -0 -n 1 -P "$jobs" bash -c 'out=$(clang-tidy -p "$0" --quiet --extra-arg=-Wno-unknown-warning-option "$1" 2>&1) ||
      { printf "%s\n" "$out" | grep -v "warnings generated\.$" >&2; echo "lint: clang-tidy: $1" >&2; exit 1; }' "$build"
fi
echo "lint: ${#fmt_files[@]} files clang-format clean, ${#tidy_files[@]} translation units clang-tidy clean"
