#!/usr/bin/env bash
# Builds (Release) and runs every test. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DIPCMATRIX_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
# Serially: several tests spin on both cores, and they are quick.
ctest --test-dir build --output-on-failure --timeout 600
