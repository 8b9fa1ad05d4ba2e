#!/usr/bin/env bash
# Installs the Debian 12 packages ipc-matrix builds with, only those missing.
# Idempotent and non-interactive; needs root or sudo only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  ninja-build           # tools/test.sh builds with Ninja where present
  ccache                # tools/test.sh: a second run on the same machine recompiles only what changed
  libboost-dev          # Boost.Interprocess, Boost.Asio (header-only parts)
  nlohmann-json3-dev
  libzstd-dev
  libxxhash-dev         # XXH3 message checksums
  doctest-dev
  libcli11-dev
  libfmt-dev
  libzmq3-dev cppzmq-dev  # the zmq mechanism: libzmq and its C++ binding
  libnng-dev            # the nng mechanism
  iceoryx libiceoryx-posh-dev  # the iceoryx mechanism: its daemon iox-roudi and libiceoryx_posh (2.0)
  libbenchmark-dev      # bench/ micro-benchmarks (optional for the tool itself)
  python3-jsonschema    # tests: results files validate against docs/results.schema.json
  gnuplot-nox           # the report's SVG charts (skipped, and said so, without it)
  clang-format          # tools/lint.sh (Debian 12: version 14)
  clang-tidy
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
