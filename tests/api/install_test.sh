#!/usr/bin/env bash
# install_test.sh — installs the build into a temporary DESTDIR, then builds
# examples/ (C and C++) the way a user would, with `pkg-config --cflags --libs
# simvtp` finding the installed simvtp.pc, and runs them against the installed
# shared library. Also runs the installed simvtp-pretrain --help when present.
#
# usage: install_test.sh BUILD_DIR EXAMPLES_DIR [MESON]
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR EXAMPLES_DIR [MESON]" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
examples=$(cd "$2" && pwd)
MESON=${3:-meson}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}

for tool in "$PKG_CONFIG" make "${CC:-cc}"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool not found" >&2
        exit 77
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/simvtp-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest

echo "== meson install --destdir $dest"
"$MESON" install -C "$build" --destdir "$dest" --quiet

pc=$(find "$dest" -name simvtp.pc -print -quit)
if [ -z "$pc" ]; then
    echo "FAIL: no simvtp.pc was installed under $dest" >&2
    exit 1
fi
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
echo "installed: $pc"
if ! ls "$libdir"/libsimvtp.so* >/dev/null 2>&1; then
    echo "FAIL: no libsimvtp.so next to the pkgconfig directory ($libdir)" >&2
    exit 1
fi
for h in simvtp.h version.h export.h status.h config.h model.h optim.h; do
    if [ -z "$(find "$dest" -path "*/include/simvtp/$h" -print -quit)" ]; then
        echo "FAIL: public header simvtp/$h was not installed" >&2
        exit 1
    fi
done

# The .pc file names the real prefix (e.g. /usr/local); the sysroot variable
# makes pkg-config prepend the DESTDIR to its -I and -L paths.
export PKG_CONFIG_PATH=$pcdir
export PKG_CONFIG_SYSROOT_DIR=$dest
echo "pkg-config --cflags --libs simvtp: $("$PKG_CONFIG" --cflags --libs simvtp)"
"$PKG_CONFIG" --exists --print-errors simvtp

# Build in a copy, so that the source tree stays clean.
cp -r "$examples" "$tmp/examples"
targets=example
if command -v "${CXX:-c++}" >/dev/null 2>&1; then
    targets="example example-cpp"
else
    echo "note: no C++ compiler (${CXX:-c++}); building the C example only"
fi
echo "== make $targets"
make -C "$tmp/examples" --no-print-directory $targets

export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for t in $targets; do
    echo "== ./$t"
    # It must use the installed library, not the one in the build tree.
    deps=$(ldd "$tmp/examples/$t")
    case $deps in
        *"$libdir/libsimvtp.so"*) ;;
        *)
            echo "FAIL: $t does not resolve libsimvtp.so from $libdir:" >&2
            echo "$deps" >&2
            exit 1
            ;;
    esac
    "$tmp/examples/$t"
done

tool=$(find "$dest" -path '*/bin/simvtp-pretrain' -print -quit)
if [ -n "$tool" ]; then
    echo "== $tool --help"
    "$tool" --help >/dev/null
fi
echo "OK: installed headers, library and simvtp.pc build and run the examples"
