#!/usr/bin/env bash
# ctest: the results files the real tool writes validate against docs/results.schema.json.
# A tiny matrix covers every pattern, open loop (uncorrected latency), pipeline hops and
# repetitions (spreads), so every optional part of a cell is present at least once.
# Usage: results_schema_test.sh IPC_MATRIX SOURCE_DIR
set -euo pipefail
tool=$1
src=$2
python=/usr/bin/python3  # Debian's, which python3-jsonschema installs into
dir=$(mktemp -d "${TMPDIR:-/tmp}/ipcmatrix-schema-test.XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$tool" --sizes 64 --patterns all --mechanisms pipe,shm --serializers raw --procs 3 \
        --messages 200 --warmup 20 --repetitions 2 --json "$dir/closed.json" --quiet
"$tool" --sizes 64 --patterns stream,pipeline --mechanisms pipe --serializers binary \
        --messages 200 --warmup 20 --rate 20000 --json "$dir/open.json" --quiet
# Not exec: that would replace this shell before its EXIT trap runs, leaving $dir behind.
# Under set -e a failure exits at once with python's status; the trap still removes $dir.
"$python" "$src/tests/schema/validate_results.py" "$src/docs/results.schema.json" \
  "$dir/closed.json" "$dir/open.json" "$src/tests/fixtures/results_small.json"
