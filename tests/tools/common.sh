# common.sh — sourced by the tests/tools scripts: tool paths, a generated
# dataset (simvtp-sample-data -> simvtp-prep), a very small model config,
# and checks. Arguments of every script: SAMPLE_DATA PREP PRETRAIN FINETUNE
# VOCAB WORKDIR HAVE_PNG.
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
