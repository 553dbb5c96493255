#!/bin/sh
# run_parity.sh DUMPER KIND REF.py — write a dump with libsimvtp, check it in PyTorch.
# Exit 77 (skip) only when Debian's python3-torch is missing; CI installs it.
set -e
dumper=$1 kind=$2 ref=$3
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "python3-torch missing: skipped"; exit 77; }
out=$(mktemp /tmp/svtp-parity-XXXXXX.dump)
trap 'rm -f "$out"' EXIT
"$dumper" "$kind" "$out"
/usr/bin/python3 "$ref" "$out"
