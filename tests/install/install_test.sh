#!/usr/bin/env bash
# Install like a library, from the build tree this ctest runs in:
#   1. `cmake --install` into a temporary prefix puts the tool, its presets, the headers, the
#      static libraries, the find_package config and the pkg-config file in place, and the
#      installed tool finds its presets there;
#   2. the installed tool measures a small cell and `recommend --emit-config` writes its
#      settings; a consumer project (tests/install/consumer) builds against the prefix with
#      find_package(ipcmatrix), loads that file and sends a message through the channel;
#   3. `cpack -G DEB` makes a .deb whose unpacked tree runs `ipc-matrix list`.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ipcmatrix-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_test: $*" >&2; exit 1; }

prefix="$tmp/prefix"
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
for f in bin/ipc-matrix share/ipc-matrix/presets/quick.json include/ipcmatrix/transport/deployment.hpp \
         lib/libipcmatrix.a lib/libipcmatrix_core.a lib/cmake/ipcmatrix/ipcmatrixConfig.cmake \
         lib/cmake/ipcmatrix/ipcmatrixConfigVersion.cmake lib/cmake/ipcmatrix/ipcmatrixTargets.cmake \
         lib/pkgconfig/ipcmatrix.pc; do
  [[ -e "$prefix/$f" ]] || fail "not installed: $f"
done
grep -q "^prefix=$prefix\$" "$prefix/lib/pkgconfig/ipcmatrix.pc" || fail "ipcmatrix.pc does not name the prefix it was installed into"
if command -v pkg-config > /dev/null; then
  PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --exists --print-errors ipcmatrix || fail "pkg-config cannot read ipcmatrix.pc"
  PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --libs ipcmatrix | grep -q -- "-lipcmatrix " || fail "pkg-config --libs lacks -lipcmatrix"
fi

# The installed tool, run from elsewhere, finds presets beside it: a preset that exists only
# in the prefix is offered (the binary also knows this checkout's bench/presets).
tool="$prefix/bin/ipc-matrix"
(cd "$tmp" && "$tool" list) | grep -q "^ *shm" || fail "installed ipc-matrix list does not list shm"
cp "$prefix/share/ipc-matrix/presets/quick.json" "$prefix/share/ipc-matrix/presets/installedonly.json"
(cd "$tmp" && "$tool" --help) | grep -q "installedonly" || fail "installed ipc-matrix does not search <prefix>/share/ipc-matrix/presets"

# A measured cell, and its settings emitted for a service.
(cd "$tmp" && "$tool" --mechanisms pipe --patterns stream --sizes 64 --serializers raw --duration 0.05 \
   --race 0 --out "$tmp/run") > "$tmp/run.log" 2>&1 || { cat "$tmp/run.log" >&2; fail "installed ipc-matrix run failed"; }
"$tool" recommend "$tmp/run/results.json" --pattern stream --size 64 --emit-config "$tmp/ipc.json" > /dev/null \
  || fail "recommend --emit-config failed"

# A service's build: find_package against the prefix only (the checkout's headers are not on
# its include path), then it opens the emitted channel.
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
cmake -S "$src/tests/install/consumer" -B "$tmp/consumer" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log" >&2; fail "consumer configure failed"; }
cmake --build "$tmp/consumer" -j 2 >> "$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log" >&2; fail "consumer build failed"; }
got=$("$tmp/consumer/consumer" "$tmp/ipc.json") || fail "the consumer could not use the emitted config"
[[ "$got" == pipe ]] || fail "the consumer opened '$got', not the measured pipe"

# The .deb: built from the same tree, unpacked (not installed into this system), runs.
if command -v dpkg-deb > /dev/null && command -v dpkg-shlibdeps > /dev/null; then
  (cd "$build" && cpack -G DEB -B "$tmp/deb") > "$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log" >&2; fail "cpack -G DEB failed"; }
  deb=$(ls "$tmp"/deb/*.deb | head -1)
  [[ -n "$deb" ]] || fail "cpack made no .deb"
  dpkg-deb -f "$deb" Depends | grep -q libzmq5 || fail ".deb does not depend on libzmq5: $(dpkg-deb -f "$deb" Depends)"
  dpkg-deb -x "$deb" "$tmp/debroot"
  (cd "$tmp" && "$tmp/debroot/usr/bin/ipc-matrix" list) | grep -q "^ *shm" || fail "the .deb's ipc-matrix list does not list shm"
  [[ -e "$tmp/debroot/usr/share/ipc-matrix/presets/quick.json" ]] || fail "the .deb lacks the presets"
else
  echo "install_test: dpkg-deb or dpkg-shlibdeps missing: the .deb was not built" >&2
fi
echo "install_test: ok"
