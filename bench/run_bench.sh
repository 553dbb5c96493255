#!/bin/sh
# bench/run_bench.sh — libsimvtp vs PyTorch, training-step throughput (builds nothing).
#
#   bench/run_bench.sh [PATH/TO/bench_step]
#
# Runs bench_step (C, public API) and bench/torch_step.py (Debian's python3-torch) with the
# same preset, batch, thread count and caption-length stream, for the pretraining step and
# the retrieval fine-tuning step, and prints their RESULT lines and a table of clips/s and
# the ratio libsimvtp/pytorch, from the mean and from the median step time.
# Environment (defaults in brackets):
#   PRESET [small]  BATCH [8]  THREADS [2]  WARMUP [3]
#   STEPS_PRETRAIN [80]  STEPS_FINETUNE [100]   (about a minute per side on 2 EPYC cores)
#   ROUNDS [1]      run each pair ROUNDS times, alternating C and PyTorch, and keep each
#                   side's round with the shortest median step (for shared, noisy machines)
#   PYTHON [/usr/bin/python3]   an interpreter with torch
# The C side runs with OMP_NUM_THREADS=THREADS OPENBLAS_NUM_THREADS=1 (and --threads);
# PyTorch with OMP_NUM_THREADS=THREADS and torch.set_num_threads(THREADS).
# Each RESULT line carries others_cpu: the share of the machine's CPU that other processes
# used during the timed steps; a value well above 0 means that number was disturbed.
# Exit status: 0, or 1 when a side failed; 77 (meson's "skipped") when no bench_step is found.
set -u

here=$(cd "$(dirname "$0")" && pwd)
bench=${1:-}
if [ -z "$bench" ]; then
    for c in "$here/../build/bench/bench_step" "$here/../builddir/bench/bench_step" \
             /tmp/bb/bench/bench_step "$(command -v bench_step 2>/dev/null || true)"; do
        if [ -n "$c" ] && [ -x "$c" ]; then bench=$c; break; fi
    done
fi
if [ -z "$bench" ] || [ ! -x "$bench" ]; then
    echo "run_bench.sh: bench_step not found; pass its path (BUILD/bench/bench_step)" >&2
    exit 77
fi

PRESET=${PRESET:-small}
BATCH=${BATCH:-8}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-3}
STEPS_PRETRAIN=${STEPS_PRETRAIN:-80}
STEPS_FINETUNE=${STEPS_FINETUNE:-100}
ROUNDS=${ROUNDS:-1}
PYTHON=${PYTHON:-/usr/bin/python3}

have_torch=1
if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    echo "run_bench.sh: $PYTHON has no torch: PyTorch side skipped" >&2
    have_torch=0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/simvtp_bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0

echo "# machine: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'), $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo "# settings: preset=$PRESET batch=$BATCH threads=$THREADS warmup=$WARMUP rounds=$ROUNDS"
echo "# bench_step: $bench"

# run_c MODE STEPS FLAG -> appends RESULT line to $tmp/c_MODE
run_c() {
    OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=1 "$bench" --preset "$PRESET" --batch "$BATCH" \
        --threads "$THREADS" --steps "$2" --warmup "$WARMUP" ${3:+"$3"} >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -ne 0 ] || ! grep -q '^RESULT' "$tmp/out"; then
        echo "run_bench.sh: bench_step ($1) failed (exit $rc):" >&2
        cat "$tmp/err" >&2
        status=1
        return
    fi
    grep '^RESULT' "$tmp/out" | tee -a "$tmp/c_$1"
}

run_py() {
    [ $have_torch -eq 1 ] || return
    OMP_NUM_THREADS=$THREADS "$PYTHON" "$here/torch_step.py" --preset "$PRESET" --batch "$BATCH" \
        --threads "$THREADS" --steps "$2" --warmup "$WARMUP" ${3:+"$3"} >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -ne 0 ] || ! grep -q '^RESULT' "$tmp/out"; then
        echo "run_bench.sh: torch_step.py ($1) failed (exit $rc):" >&2
        cat "$tmp/err" >&2
        status=1
        return
    fi
    grep '^RESULT' "$tmp/out" | tee -a "$tmp/py_$1"
}

r=1
while [ $r -le "$ROUNDS" ]; do
    run_c pretrain "$STEPS_PRETRAIN" ""
    run_py pretrain "$STEPS_PRETRAIN" ""
    run_c finetune "$STEPS_FINETUNE" "--finetune"
    run_py finetune "$STEPS_FINETUNE" "--finetune"
    r=$((r + 1))
done

# best FILE -> "mean_clips median_clips others_cpu" of the round with the shortest median
# step ("- - -" if none). The median step time is robust to short bursts of other load.
best() {
    if [ -s "$1" ]; then
        awk -v B="$BATCH" '{ c = ""; m = ""; o = "";
               for (i = 1; i <= NF; i++) {
                   split($i, kv, "=");
                   if (kv[1] == "clips_per_sec") c = kv[2];
                   if (kv[1] == "median_sec") m = kv[2];
                   if (kv[1] == "others_cpu") o = kv[2];
               }
               if (m != "" && m + 0 > 0 && (bm == "" || m + 0 < bm + 0)) { bm = m; bc = c; bo = o } }
             END { if (bm == "") print "- - -"; else printf "%s %.3f %s\n", bc, B / bm, bo }' "$1"
    else
        echo "- - -"
    fi
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

echo
echo "clips/s = batch / (mean step time) and batch / (median step time); ratio = libsimvtp / pytorch"
printf '%-9s | %9s %9s %6s | %9s %9s %6s | %s\n' "" "libsimvtp" "pytorch" "" "libsimvtp" "pytorch" "" "others_cpu"
printf '%-9s | %9s %9s %6s | %9s %9s %6s | %s\n' "step" "mean" "mean" "ratio" "median" "median" "ratio" "C / torch"
for mode in pretrain finetune; do
    # shellcheck disable=SC2046  # split the fields into positional parameters
    set -- $(best "$tmp/c_$mode") $(best "$tmp/py_$mode")
    printf '%-9s | %9s %9s %6s | %9s %9s %6s | %s / %s\n' "$mode" "$1" "$4" "$(ratio "$1" "$4")" \
        "$2" "$5" "$(ratio "$2" "$5")" "$3" "$6"
done
exit $status
