#!/usr/bin/env bash
# check_abi.sh — the ABI check: compares the public ABI of a freshly built
# libsimvtp.so (functions, their parameter and return types, and every type
# reachable from them that the public headers define) with the committed
# baseline abi/libsimvtp.abi, using libabigail's abidiff.
#
#   - no change                               -> OK (exit 0)
#   - only added functions                    -> OK, with a reminder to refresh
#                                                the baseline (exit 0)
#   - anything else (a removed function, a changed parameter or return type, a
#     public struct that grew, shrank or changed a member, another soname)
#                                             -> FAIL (exit 1), unless
#     SIMVTP_VERSION_MAJOR in version.h differs from the baseline's soname
#     major: then the break is the announced one -> OK, with a note that the
#     baseline must be regenerated (exit 0)
#
# abidiff needs DWARF: LIBSIMVTP.so must carry debug info (tests/api/meson.build
# builds a -g twin of the library for this). With --update the script writes
# the baseline from LIBSIMVTP.so instead (docs/API.md, "ABI baseline").
#
# usage: check_abi.sh BASELINE.abi LIBSIMVTP.so INCLUDE_DIR/simvtp [--update]
# Exit 0 pass, 1 fail, 77 (skip) without abidiff/abidw (Debian: abigail-tools).
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ] || { [ $# -eq 4 ] && [ "$4" != --update ]; }; then
    echo "usage: $0 BASELINE.abi LIBSIMVTP.so INCLUDE_DIR/simvtp [--update]" >&2
    exit 2
fi
baseline=$1 lib=$2 incdir=$3 mode=${4:-check}
ABIDIFF=${ABIDIFF:-abidiff}
ABIDW=${ABIDW:-abidw}
READELF=${READELF:-readelf}

for tool in "$ABIDIFF" "$ABIDW" "$READELF"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool not found (Debian package abigail-tools / binutils)" >&2
        exit 77
    fi
done
[ -f "$lib" ] || { echo "FAIL: $lib does not exist" >&2; exit 1; }
[ -f "$incdir/version.h" ] || { echo "FAIL: $incdir/version.h does not exist" >&2; exit 1; }
if ! "$READELF" -S "$lib" | grep -q '\.debug_info'; then
    echo "FAIL: $lib has no DWARF (.debug_info): build it with -g for abidiff" >&2
    exit 1
fi

header_major=$(sed -n 's/^#define[[:space:]]\{1,\}SIMVTP_VERSION_MAJOR[[:space:]]\{1,\}\([0-9]\{1,\}\).*/\1/p' \
    "$incdir/version.h")
lib_soname=$("$READELF" -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ -n "$header_major" ] || { echo "FAIL: no SIMVTP_VERSION_MAJOR in $incdir/version.h" >&2; exit 1; }

# --- writing the baseline --------------------------------------------------
if [ "$mode" = --update ]; then
    mkdir -p "$(dirname "$baseline")"
    tmp=$(mktemp "$baseline.XXXXXX")
    trap 'rm -f "$tmp"' EXIT
    # Changes to types outside the public headers are not reported (the
    # headers dir); --drop-private-types is not used: libabigail 2.2 then
    # writes dangling type references that abidiff cannot read back.
    "$ABIDW" --headers-dir "$incdir" --no-corpus-path --out-file "$tmp" "$lib"
    # Source paths relative to the source root, whatever the build directory,
    # so that a refresh from another build dir does not rewrite every line.
    comp=$(sed -n "s/.*comp-dir-path='\([^']*\)'.*/\1/p" "$tmp" | head -n 1)
    srcroot=$(cd "$incdir/../.." && pwd)
    if [ -n "$comp" ] && rel=$(realpath -m --relative-to="$comp" "$srcroot" 2>/dev/null); then
        sed -i -e "s|comp-dir-path='$comp'|comp-dir-path='.'|g" -e "s|path='$rel/|path='|g" "$tmp"
    fi
    chmod 644 "$tmp"
    mv "$tmp" "$baseline"
    trap - EXIT
    echo "wrote $baseline: $(grep -c '<elf-symbol ' "$baseline") exported functions," \
         "soname $lib_soname (SIMVTP_VERSION_MAJOR $header_major)"
    exit 0
fi

# --- checking against it ---------------------------------------------------
if [ ! -f "$baseline" ]; then
    echo "FAIL: no ABI baseline $baseline; create it (docs/API.md, \"ABI baseline\"):" >&2
    echo "      meson compile -C BUILD abi-baseline" >&2
    exit 1
fi
base_soname=$(sed -n "s/.*<abi-corpus [^>]*soname='\([^']*\)'.*/\1/p" "$baseline" | head -n 1)
base_major=${base_soname##*.so.}
case $base_major in
    ''|*[!0-9]*) echo "FAIL: cannot read the soname major of $baseline (soname '$base_soname')" >&2
                 exit 1 ;;
esac
echo "baseline: $baseline ($base_soname); built: $lib ($lib_soname);" \
     "SIMVTP_VERSION_MAJOR $header_major"

# abidiff's exit status is a bit mask: 1 error, 2 usage error, 4 ABI change,
# 8 incompatible change (a removed symbol). Type changes count only for types
# of the public headers: --headers-dir1/2 (dir1 only matters for a binary; the
# baseline was written with it already). The opaque handles (`typedef struct
# simvtp_x simvtp_x;` in the headers, defined inside the library) are also
# suppressed by name: libabigail matches header-dir files by base name, and
# takes the private libsimvtp/model/model.h (struct simvtp_model) for the
# public simvtp/model.h.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
opaque=$(cat "$incdir"/*.h \
    | sed -n 's/^typedef struct \([A-Za-z_][A-Za-z0-9_]*\) \1;.*/\1/p' | LC_ALL=C sort -u | paste -sd '|' -)
if [ -n "$opaque" ]; then
    printf '[suppress_type]\n  label = opaque handles\n  type_kind = struct\n  name_regexp = ^(%s)$\n' \
        "$opaque" > "$tmp/opaque.suppr"
else
    : > "$tmp/opaque.suppr"
fi
abi_diff() {
    set +e
    "$ABIDIFF" --headers-dir1 "$incdir" --headers-dir2 "$incdir" \
        --suppressions "$tmp/opaque.suppr" "$@" "$baseline" "$lib"
    local rc=$?
    set -e
    return $rc
}
set +e
report_all=$(abi_diff 2>&1); rc_all=$?
report_break=$(abi_diff --no-added-syms 2>&1); rc_break=$?
set -e
if [ $((rc_all & 3)) -ne 0 ] || [ $((rc_break & 3)) -ne 0 ]; then
    echo "FAIL: abidiff could not compare (exit status $rc_all / $rc_break):" >&2
    printf '%s\n' "$report_all" >&2
    exit 1
fi

if [ "$rc_break" -ne 0 ]; then
    printf '%s\n' "$report_break"
    if [ "$header_major" != "$base_major" ]; then
        echo "OK: the ABI above is incompatible with the baseline, and SIMVTP_VERSION_MAJOR" \
             "($header_major) differs from the baseline's soname major ($base_major): an announced" \
             "break. The baseline must be regenerated: meson compile -C BUILD abi-baseline," \
             "then commit abi/libsimvtp.abi."
        exit 0
    fi
    echo "FAIL: incompatible ABI change against $baseline (see above). Undo it, or, for a" \
         "deliberate break, bump SIMVTP_VERSION_MAJOR in include/simvtp/version.h (new soname)" \
         "and regenerate the baseline (docs/API.md, \"ABI baseline\")." >&2
    exit 1
fi
if [ "$rc_all" -ne 0 ]; then
    printf '%s\n' "$report_all"
    echo "OK: compatible additions only. Reminder: refresh the baseline so that they are" \
         "protected too (meson compile -C BUILD abi-baseline, commit abi/libsimvtp.abi)."
    exit 0
fi
if [ "$header_major" != "$base_major" ]; then
    echo "OK: no ABI change, but SIMVTP_VERSION_MAJOR ($header_major) differs from the" \
         "baseline's soname major ($base_major): regenerate the baseline."
    exit 0
fi
echo "OK: the public ABI equals the baseline ($(grep -c '<elf-symbol ' "$baseline") functions)"
