#!/usr/bin/env bash
# check_symbols.sh — the exported-symbol check: the functions libsimvtp.so
# exports (nm -D --defined-only) must be exactly the names listed in the
# linker version script, which must be exactly the SIMVTP_API declarations of
# the public headers. Any difference fails with a diff.
#
# usage: check_symbols.sh LIBSIMVTP.so libsimvtp.map INCLUDE_DIR/simvtp
# Exit 0 when the three sets agree, 1 when they differ, 77 (skip) without nm.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 LIBSIMVTP.so libsimvtp.map INCLUDE_DIR/simvtp" >&2
    exit 2
fi
lib=$1 map=$2 incdir=$3
NM=${NM:-nm}

if ! command -v "$NM" >/dev/null 2>&1; then
    echo "SKIP: $NM not found" >&2
    exit 77
fi
for f in "$lib" "$map"; do
    [ -f "$f" ] || { echo "FAIL: $f does not exist" >&2; exit 1; }
done
[ -d "$incdir" ] || { echo "FAIL: $incdir is not a directory" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. What the shared object exports. Versioned names print as name@@NODE;
#    the version nodes themselves are absolute (A) symbols and not exports.
"$NM" -D --defined-only "$lib" \
    | awk 'NF >= 3 && $2 != "A" { sub(/@.*/, "", $3); print $3 }' \
    | LC_ALL=C sort -u > "$tmp/exported"

# 2. The names in the version script's global: section (comments removed).
sed -e 's:/\*.*\*/::g' -e '/\/\*/,/\*\//d' "$map" \
    | sed -n '/global:/,/local:/p' \
    | grep -o '[A-Za-z_][A-Za-z0-9_]*[[:space:]]*;' \
    | tr -d '; \t' \
    | LC_ALL=C sort -u > "$tmp/map"

# 3. The SIMVTP_API declarations of the public headers (the name is on the
#    line that starts with SIMVTP_API, right before its opening parenthesis).
cat "$incdir"/*.h \
    | sed -n 's/^[[:space:]]*SIMVTP_API[^(]*[[:space:]*]\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*(.*/\1/p' \
    | LC_ALL=C sort -u > "$tmp/headers"

status=0
for f in exported map headers; do
    if [ ! -s "$tmp/$f" ]; then
        echo "FAIL: no names found in the $f set" >&2
        status=1
    fi
done

if ! diff -u --label "version script ($map)" --label "exported by $(basename "$lib")" \
        "$tmp/map" "$tmp/exported"; then
    echo "FAIL: the exported symbols differ from the version script" \
         "(+ exported but not listed, - listed but not exported)" >&2
    status=1
fi
if ! diff -u --label "SIMVTP_API in $incdir/*.h" --label "version script ($map)" \
        "$tmp/headers" "$tmp/map"; then
    echo "FAIL: the version script differs from the SIMVTP_API declarations" \
         "(+ listed but not declared, - declared but not listed)" >&2
    status=1
fi

if [ $status -eq 0 ]; then
    echo "OK: $(wc -l < "$tmp/exported") exported functions, version script and headers agree"
fi
exit $status
