#!/usr/bin/env bash
# install_test.sh — installs the build into a temporary DESTDIR, then builds
# examples/ (C and C++) the way a user would, with `pkg-config --cflags --libs
# simvtp` finding the installed simvtp.pc, and runs them against the installed
# shared library. Also runs the installed simvtp-pretrain and simvtp-retrieve
# --help when present.
# examples/video_search is built too and run with --help, and on one video
# generated with the ffmpeg CLI (when present and the build decodes video).
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

# simvtp.pc sanity: --cflags reaches the installed headers; --libs is
# -L/-lsimvtp only (no overlinking); --libs --static lists what the library
# links: each DT_NEEDED of libsimvtp.so (but the C/compiler runtime) as -l,
# and the features of this build (simvtp_build_config.h) in Requires.private.
echo "== simvtp.pc"
cflags=$("$PKG_CONFIG" --cflags simvtp)
libs=$("$PKG_CONFIG" --libs simvtp)
static=$("$PKG_CONFIG" --libs --static simvtp) || { echo "FAIL: pkg-config --libs --static simvtp" >&2; exit 1; }
reqs=$("$PKG_CONFIG" --print-requires-private simvtp | awk '{print $1}' | tr '\n' ' ')
echo "--libs --static: $static"
echo "Requires.private: $reqs"
pc_fail() { echo "FAIL: simvtp.pc: $*" >&2; exit 1; }
found_header=
for f in $cflags; do
    case $f in
        -I*) [ -f "${f#-I}/simvtp/simvtp.h" ] && found_header=${f#-I} ;;
    esac
    case $f in
        *"$build"*|*"$(cd "$examples/.." && pwd)"/*) pc_fail "--cflags names the build or source tree: $f" ;;
    esac
done
[ -n "$found_header" ] || pc_fail "no -I of --cflags ($cflags) holds simvtp/simvtp.h"
case " $libs " in *" -lsimvtp "*) ;; *) pc_fail "--libs lacks -lsimvtp: $libs" ;; esac
for f in $libs; do
    case $f in
        -L*|-lsimvtp) ;;
        *) pc_fail "--libs has more than -L/-lsimvtp (private libraries leak): $f" ;;
    esac
done
case " $static " in *" -lsimvtp "*) ;; *) pc_fail "--libs --static lacks -lsimvtp" ;; esac
case " $static " in *" -lm "*) ;; *) pc_fail "--libs --static lacks -lm" ;; esac
case " $static " in *" -fopenmp "*|*" -lgomp "*) ;; *) pc_fail "--libs --static lacks OpenMP" ;; esac
so=$(ls "$libdir"/libsimvtp.so.[0-9]* | head -n 1)
for needed in $(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[lib\([^].]*\)\.so.*\]/\1/p'); do
    case $needed in
        c|m|gomp|pthread|dl|rt|gcc_s|stdc++|asan|ubsan|lsan|tsan|ld-linux*) continue ;;
    esac
    case " $static " in
        *" -l$needed "*) ;;
        *) pc_fail "libsimvtp.so links lib$needed, but --libs --static has no -l$needed" ;;
    esac
done
bcfg=$build/simvtp_build_config.h
want=""
grep -q "SIMVTP_HAVE_CBLAS 1" "$bcfg" && want="openblas|cblas"   # -Dblas=disabled: portable GEMM, no BLAS
grep -q "SIMVTP_HAVE_VIDEO 1" "$bcfg" && want="$want libavformat libavcodec libswscale libavutil"
grep -q "SIMVTP_HAVE_ZSTD 1" "$bcfg" && want="$want libzstd"
for w in $want; do
    ok=
    for alt in ${w//|/ }; do
        case " $reqs " in *" $alt "*) ok=1 ;; esac
    done
    [ -n "$ok" ] || pc_fail "Requires.private ($reqs) lacks $w"
done

# Build in a copy, so that the source tree stays clean.
cp -r "$examples" "$tmp/examples"
targets="example video_search"
if command -v "${CXX:-c++}" >/dev/null 2>&1; then
    targets="example example-cpp video_search"
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
    if [ "$t" = video_search ]; then
        "$tmp/examples/$t" --help
    else
        "$tmp/examples/$t"
    fi
done

if command -v ffmpeg >/dev/null 2>&1 && grep -q "SIMVTP_HAVE_VIDEO 1" "$build/simvtp_build_config.h" 2>/dev/null; then
    echo "== ./video_search on a generated video (untrained tiny model)"
    ffmpeg -loglevel error -f lavfi -i testsrc=size=64x48:rate=25 -frames:v 20 -pix_fmt yuv420p "$tmp/clip.mp4"
    printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nsome\ntest\npattern\n' > "$tmp/vocab.txt"
    "$tmp/examples/video_search" tiny-random "$tmp/vocab.txt" "some test pattern" "$tmp/clip.mp4" |
        tee "$tmp/search.txt"
    grep -q "^1 .* $tmp/clip.mp4\$" "$tmp/search.txt" || { echo "FAIL: video_search found nothing" >&2; exit 1; }
fi

for name in simvtp-pretrain simvtp-retrieve; do
    tool=$(find "$dest" -path "*/bin/$name" -print -quit)
    if [ -n "$tool" ]; then
        echo "== $tool --help"
        "$tool" --help >/dev/null
    fi
done
echo "OK: installed headers, library and simvtp.pc build and run the examples"
