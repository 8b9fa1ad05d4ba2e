#!/usr/bin/env bash
# Installs what is missing, builds (Release), and runs the main job: the quick matrix,
# which writes reports/PERFORMANCE_REPORT.md plus results.json / results.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs" --target ipc-matrix
exec build/ipc-matrix --preset quick --out reports/quick "$@"
