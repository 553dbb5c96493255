#!/usr/bin/env bash
# test_retrieve.sh — simvtp-retrieve end to end on a generated MSRVTT-layout
# set: sample data -> simvtp-prep (test split) -> a tiny random retrieval
# model -> evaluate (JSON fields and ranges; also with the pretraining
# model), tk_evaluate's clip averaging against an independent computation,
# index (from shards and from video files), query --text / --video, query
# --serve (3 requests, the middle one malformed), and the error exits.
#
# usage: test_retrieve.sh RETRIEVE SAMPLE_DATA PREP HELPER VOCAB WORKDIR
set -euo pipefail
retrieve=$1 gen=$2 prep=$3 helper=$4 vocab=$5 dir=$6
videos=6

fail() { echo "FAIL: $*" >&2; exit 1; }
[ -f "$vocab" ] || fail "no BERT vocabulary at $vocab (run tools/get-bert-vocab.sh)"
command -v python3 >/dev/null || { echo "SKIP: python3 (JSON checks) not found"; exit 77; }
rm -rf "$dir"
mkdir -p "$dir"

echo "== data, shards, models"
"$gen" --out "$dir/gen" --webvid-train 0 --webvid-val 0 --msrvtt-train 1 --msrvtt-test $videos \
    --width 64 --height 48 --frames 24 > /dev/null
msr=$dir/gen/msrvtt
"$prep" --msrvtt "$msr/MSRVTT_data.json" --split-csv "$msr/MSRVTT_JSFUSION_test.csv" --split test \
    --videos "$msr/videos" --out "$dir/test" --short-side 48 --records-per-shard 4 --quiet > /dev/null
"$helper" make tiny "$dir/ret.svtp" "$dir/pre.svtp"
"$helper" make small "$dir/small-ret.svtp" "$dir/small-pre.svtp"

echo "== evaluate (retrieval model)"
"$retrieve" evaluate --model "$dir/ret.svtp" --shards "$dir/test" --vocab "$vocab" --clips 2 --crops 3 \
    --json "$dir/eval.json" | tee "$dir/eval.txt"
grep -q "retrieval model" "$dir/eval.txt" || fail "evaluate does not name the model kind"
grep -q "^text->video" "$dir/eval.txt" && grep -q "^video->text" "$dir/eval.txt" || fail "no table"
python3 - "$dir/eval.json" $videos <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[2])
assert r["videos"] == n and r["captions"] == n, r
assert abs(r["chance_r1"] - 100.0 / n) < 1e-3, r
for d in ("t2v", "v2t"):
    m = r[d]
    assert m["queries"] == n, m
    for k in ("r1", "r5", "r10"):
        assert 0 <= m[k] <= 100, (d, k, m)
    assert m["r1"] <= m["r5"] <= m["r10"], m
    assert 1 <= m["median_rank"] <= n and 1 <= m["mean_rank"] <= n, m
print("eval.json ok")
EOF

echo "== evaluate (pretraining model: zero-shot VTC features)"
"$retrieve" evaluate --model "$dir/pre.svtp" --shards "$dir/test" --vocab "$vocab" --clips 1 --crops 1 \
    --quiet > "$dir/eval-pre.txt"
grep -q "pretraining model" "$dir/eval-pre.txt" || fail "evaluate does not say the model is a pretraining one"

echo "== tk_evaluate clip averaging vs an independent computation"
"$helper" check-avg "$dir/ret.svtp" "$dir/test" "$vocab"

echo "== index from shards"
"$retrieve" index --model "$dir/ret.svtp" --shards "$dir/test" --out "$dir/shards.svtpi" --clips 2 --crops 1
"$helper" index-info "$dir/shards.svtpi" > "$dir/shards-info.txt"
[ "$(head -1 "$dir/shards-info.txt")" = "$videos 128" ] || fail "shards index: $(head -1 "$dir/shards-info.txt")"
tail -n +2 "$dir/shards-info.txt" | sort > "$dir/ids.txt"
cut -d, -f3 "$msr/MSRVTT_JSFUSION_test.csv" | tail -n +2 | tr -d '\r' | sort | cmp -s - "$dir/ids.txt" ||
    fail "index ids differ from the test split's video ids"

echo "== index from video files"
for f in "$msr"/videos/*.mp4; do printf '%s\tunused caption\n' "$(basename "$f")"; done > "$dir/list.tsv"
echo "missing.mp4	gone" >> "$dir/list.tsv"
"$retrieve" index --model "$dir/ret.svtp" --list "$dir/list.tsv" --videos "$msr/videos" \
    --out "$dir/files.svtpi" --clips 1 --crops 1 2> "$dir/index-files.err"
grep -q "warning: skipping missing: SIMVTP_ERR_IO: .*missing.mp4" "$dir/index-files.err" ||
    fail "a missing video is not reported: $(cat "$dir/index-files.err")"
nfiles=$(ls "$msr"/videos/*.mp4 | wc -l)
[ "$("$helper" index-info "$dir/files.svtpi" | head -1)" = "$nfiles 128" ] || fail "file index size"

echo "== query --text / --video"
"$retrieve" query --model "$dir/ret.svtp" --index "$dir/shards.svtpi" --vocab "$vocab" \
    --text "a red square moves to the left" --k 3 > "$dir/q.txt"
cat "$dir/q.txt"
[ "$(wc -l < "$dir/q.txt")" -eq 3 ] || fail "query --k 3 printed $(wc -l < "$dir/q.txt") lines"
cut -f1 "$dir/q.txt" | while read -r id; do grep -qx "$id" "$dir/ids.txt" || fail "unknown id $id"; done
first=$(ls "$msr"/videos/*.mp4 | head -1)
"$retrieve" query --model "$dir/ret.svtp" --index "$dir/files.svtpi" --video "$first" --k 100 --clips 1 --crops 1 \
    > "$dir/qv.txt"
[ "$(wc -l < "$dir/qv.txt")" -eq "$nfiles" ] || fail "k larger than the index: expected $nfiles lines"
[ "$(head -1 "$dir/qv.txt" | cut -f1)" = "$(basename "$first" .mp4)" ] || fail "a video is not its own best match"

echo "== query --serve"
printf '%s\n' '{"text": "a blue circle on a white background", "k": 2}' '{"text": "unterminated' \
    "{\"video\": \"$first\", \"k\": 4}" |
    "$retrieve" query --model "$dir/ret.svtp" --index "$dir/shards.svtpi" --vocab "$vocab" --serve --clips 1 \
    > "$dir/serve.txt"
cat "$dir/serve.txt"
python3 - "$dir/serve.txt" "$dir/ids.txt" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
ids = set(open(sys.argv[2]).read().split())
assert len(lines) == 3, lines
a, b, c = (json.loads(l) for l in lines)
assert len(a["results"]) == 2 and "error" in b and len(c["results"]) == 4, lines
for r in a["results"] + c["results"]:
    assert r["id"] in ids and -1.0001 <= r["score"] <= 1.0001, r
print("serve ok")
EOF
printf '%s\n' '{"text": "caf\u00e9 \ud83d\ude00 \"q\"", "k": 1}' '{"k": 1.5, "text": "x"}' '[1]' \
    '{"text": "a", "extra": 1}' '{"video": "/no/such.mp4"}' '{"text": "a",}' '{"text"' |
    "$retrieve" query --model "$dir/ret.svtp" --index "$dir/shards.svtpi" --vocab "$vocab" --serve > "$dir/serve2.txt"
python3 - "$dir/serve2.txt" <<'EOF'
import json, sys
out = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
assert len(out) == 7 and len(out[0]["results"]) == 1, out
assert all("error" in o for o in out[1:]), out
print("serve errors ok:", [o["error"] for o in out[1:]])
EOF

echo "== error exits"
expect() { # expect CODE MESSAGE-PATTERN command...
    local code=$1 pat=$2 rc=0; shift 2
    "$@" > /dev/null 2> "$dir/err.txt" || rc=$?
    [ "$rc" -eq "$code" ] || fail "exit $rc, expected $code: $* ($(cat "$dir/err.txt"))"
    [ "$(wc -l < "$dir/err.txt")" -eq 1 ] && grep -q "$pat" "$dir/err.txt" ||
        fail "expected one line matching '$pat': $(cat "$dir/err.txt")"
}
expect 2 "unknown subcommand" "$retrieve" search --model x
expect 2 "unknown flag" "$retrieve" index --model "$dir/ret.svtp" --shards "$dir/test" --out x --frobnicate
expect 1 "no model file" "$retrieve" query --model "$dir/none.svtp" --index "$dir/shards.svtpi" --text a --vocab "$vocab"
expect 1 "no index file" "$retrieve" query --model "$dir/ret.svtp" --index "$dir/none.svtpi" --text a --vocab "$vocab"
expect 1 "holds 128-d embeddings but the model" \
    "$retrieve" query --model "$dir/small-ret.svtp" --index "$dir/shards.svtpi" --text a --vocab "$vocab"
expect 1 "loading the model failed" "$retrieve" query --model "$dir/shards.svtpi" --index "$dir/shards.svtpi" --video "$first"
expect 1 "no shard" "$retrieve" evaluate --model "$dir/ret.svtp" --shards "$dir/gen" --vocab "$vocab"
rm -rf "$dir"
echo "OK"
