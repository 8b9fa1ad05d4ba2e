#!/bin/bash
# Submits the array and its merge: the merge starts only after every task ended ok.
set -euo pipefail
cd "$(dirname "$0")"
array=$(sbatch --parsable ipc-matrix-array.sbatch)
sbatch --dependency="afterok:${array}" ipc-matrix-merge.sbatch
