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
# The library directory is GNUInstallDirs' (lib, or lib/<multiarch> for a /usr prefix).
archive=$(find "$prefix" -name libipcmatrix.a | head -n 1)
[[ -n "$archive" ]] || fail "not installed: libipcmatrix.a"
libdir=$(dirname "$archive")
for f in "$prefix/bin/ipc-matrix" "$prefix/share/ipc-matrix/presets/quick.json" \
         "$prefix/include/ipcmatrix/transport/deployment.hpp" "$libdir/libipcmatrix_core.a" \
         "$libdir/cmake/ipcmatrix/ipcmatrixConfig.cmake" "$libdir/cmake/ipcmatrix/ipcmatrixConfigVersion.cmake" \
         "$libdir/cmake/ipcmatrix/ipcmatrixTargets.cmake" "$libdir/pkgconfig/ipcmatrix.pc"; do
  [[ -e "$f" ]] || fail "not installed: ${f#"$prefix"/}"
done
# pkg-config finds the headers and libraries where they were installed (the file is relocatable).
if command -v pkg-config > /dev/null; then
  export PKG_CONFIG_PATH="$libdir/pkgconfig"
  pkg-config --exists --print-errors ipcmatrix || fail "pkg-config cannot read ipcmatrix.pc"
  [[ -e "$(pkg-config --variable=includedir ipcmatrix)/ipcmatrix/transport/deployment.hpp" ]] \
    || fail "ipcmatrix.pc's includedir is not the installed headers: $(pkg-config --variable=includedir ipcmatrix)"
  [[ -e "$(pkg-config --variable=libdir ipcmatrix)/libipcmatrix.a" ]] \
    || fail "ipcmatrix.pc's libdir is not the installed libraries: $(pkg-config --variable=libdir ipcmatrix)"
  unset PKG_CONFIG_PATH
fi

# The installed tool, run from elsewhere, finds presets beside it: a preset that exists only
# in the prefix is offered (the binary also knows this checkout's bench/presets).
tool="$prefix/bin/ipc-matrix"
# (Output captured, then searched: grep -q leaving a pipe early would kill the tool with SIGPIPE.)
listing=$(cd "$tmp" && "$tool" list) || fail "installed ipc-matrix list failed"
grep -q "^ *shm" <<< "$listing" || fail "installed ipc-matrix list does not list shm"
cp "$prefix/share/ipc-matrix/presets/quick.json" "$prefix/share/ipc-matrix/presets/installedonly.json"
help=$(cd "$tmp" && "$tool" --help) || fail "installed ipc-matrix --help failed"
grep -q "installedonly" <<< "$help" || fail "installed ipc-matrix does not search <prefix>/share/ipc-matrix/presets"

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
  debs=("$tmp"/deb/*.deb)
  [[ -e "${debs[0]}" ]] || fail "cpack made no .deb"
  deb=${debs[0]}
  dpkg-deb -f "$deb" Depends | grep -q libzmq5 || fail ".deb does not depend on libzmq5: $(dpkg-deb -f "$deb" Depends)"
  dpkg-deb -x "$deb" "$tmp/debroot"
  listing=$(cd "$tmp" && "$tmp/debroot/usr/bin/ipc-matrix" list) || fail "the .deb's ipc-matrix list failed"
  grep -q "^ *shm" <<< "$listing" || fail "the .deb's ipc-matrix list does not list shm"
  [[ -e "$tmp/debroot/usr/share/ipc-matrix/presets/quick.json" ]] || fail "the .deb lacks the presets"
else
  echo "install_test: dpkg-deb or dpkg-shlibdeps missing: the .deb was not built" >&2
fi
echo "install_test: ok"
