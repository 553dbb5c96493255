# common.sh — sourced by the tests/tools scripts: tool paths, a generated
# dataset (simvtp-sample-data -> simvtp-prep), a very small model config,
# and checks. Arguments of every script: SAMPLE_DATA PREP PRETRAIN FINETUNE
# VOCAB WORKDIR HAVE_PNG; the MPI scripts add HAVE_MPI (0|1) and MPIRUN.
set -u
abs() { readlink -f "$1"; }
GEN=$(abs "$1") PREP=$(abs "$2") PRETRAIN=$(abs "$3") FINETUNE=$(abs "$4") VOCAB=$(abs "$5")
W=$6 HAVE_PNG=$7
export OMP_NUM_THREADS=1
[ -f "$VOCAB" ] || { echo "SKIP: no $VOCAB (.ci/deps fetches it)"; exit 77; }
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1

fail() { echo "FAIL: $*" >&2; exit 1; }

# A tiny dataset: 8 WebVid clips (2 shards), MSRVTT 4 train + 4 test videos.
make_data() {
    "$GEN" --out gen --webvid-train 8 --webvid-val 0 --msrvtt-train 4 --msrvtt-test 4 \
        --width 48 --height 48 --frames 12 > /dev/null 2>&1 || fail "simvtp-sample-data"
    "$PREP" --webvid gen/webvid/results_2M_train.csv --videos gen/webvid/videos --out wv \
        --short-side 32 --records-per-shard 4 --threads 1 --quiet > /dev/null || fail "prep webvid"
    for s in train test; do
        csv=MSRVTT_train.9k.csv; [ $s = test ] && csv=MSRVTT_JSFUSION_test.csv
        "$PREP" --msrvtt gen/msrvtt/MSRVTT_data.json --split-csv gen/msrvtt/$csv --split $s \
            --videos gen/msrvtt/videos --out msr-$s --short-side 32 --threads 1 --quiet > /dev/null \
            || fail "prep msrvtt $s"
    done
    # frames 4, 32x32 (2x2x2 tubelets), width 32, depth 1, the real vocabulary size
    cat > tiny.cfg <<'CFG'
# a very small model for the tool tests (the rest is the tiny preset)
frames = 4
height = 32
width = 32
enc_width = 32
enc_depth = 1
enc_heads = 2
enc_mlp = 64
dec_width = 32
dec_depth = 1
dec_heads = 2
dec_mlp = 64
vocab_size = 30522
max_text_len = 16
CFG
}

# The common pretraining flags on the generated data.
PT_DATA() { echo --config tiny.cfg --shards wv --vocab "$VOCAB" --threads 1 --workers 1; }

# expect_fail CODE NAME cmd...: the command exits with CODE and writes exactly
# one line on stderr.
expect_fail() {
    local code=$1 name=$2 rc
    shift 2
    "$@" > "$name.out" 2> "$name.err"
    rc=$?
    [ $rc -eq "$code" ] || { cat "$name.err" >&2; fail "$name: exit $rc, expected $code"; }
    [ "$(wc -l < "$name.err")" -eq 1 ] || { cat "$name.err" >&2; fail "$name: not one line on stderr"; }
    echo "ok: $name: $(cat "$name.err")"
}

# is_png FILE: the file starts with the PNG signature.
is_png() {
    [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$1 is not a PNG"
}

# The files of a checkpoint folder, for "nothing was overwritten" checks.
snapshot() { (cd "$1" && stat -c '%n %s %.9Y' * && cat * | md5sum); }

# ---- MPI (the *_mpi.sh scripts) ----------------------------------------
HAVE_MPI=${8:-0} MPIRUN_EXE=${9:-}

# Skip (77) when libsimvtp has no MPI or mpirun is missing; without MPI,
# first check that --dist mpi says so in one line (exit 1).
mpi_require() {
    if [ "$HAVE_MPI" != 1 ]; then
        expect_fail 1 dist-mpi-without-mpi "$PRETRAIN" --dist mpi --synthetic --steps 1
        grep -qi 'mpi' dist-mpi-without-mpi.err || fail "the message does not say MPI"
        echo "SKIP: libsimvtp was built without MPI (-Dmpi); checked the --dist mpi error"; exit 77
    fi
    if [ -z "$MPIRUN_EXE" ] || ! command -v "$MPIRUN_EXE" > /dev/null 2>&1; then
        echo "SKIP: mpirun not found (apt-get install openmpi-bin)"; exit 77
    fi
    # as tests/distributed/run_ddp.sh: root, no ssh, no ptrace, busy 2-core machines
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_MCA_plm_rsh_agent= OMPI_MCA_btl_vader_single_copy_mechanism=none
    export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
    export OPENBLAS_NUM_THREADS=1
    MPI_CMD=("$MPIRUN_EXE" --allow-run-as-root --oversubscribe --bind-to none
             -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS)
}

# mpirun_np N cmd...: N ranks on this machine ("${MPI_CMD[@]}" -np N under timeout).
mpirun_np() { "${MPI_CMD[@]}" -np "$@"; }

# close A B TOL: |A - B| <= TOL * max(|A|, |B|, 1e-3).
close() {
    awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a;
        n = b < 0 ? -b : b; if (n > m) m = n; if (m < 1e-3) m = 1e-3; exit !(d <= t * m) }'
}

# metric FILE STEP KEY: the number KEY of the metrics.jsonl line of update STEP.
metric() {
    grep "^{\"step\":$2," "$1" | head -1 | sed -n "s/.*\"$3\":\([-0-9.e+]*\).*/\1/p"
}
