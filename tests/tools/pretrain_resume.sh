#!/bin/bash
# Resume equivalence through the tool: N updates straight vs N/2, stop,
# --resume: byte-identical model.svtp and state.svtpt (with gradient
# accumulation and an epoch boundary on the way); the same with activation
# checkpointing, whole blocks or selective.
. "$(dirname "$0")/common.sh"
make_data
args="$(PT_DATA) --batch 2 --accum 2 --steps 4 --seed 7 --quiet"

"$PRETRAIN" $args --out straight > /dev/null || fail "straight run"
"$PRETRAIN" $args --out split --stop-at 2 > stop.out || fail "run stopped at 2"
grep -q 'stopped after update 2/4' stop.out || fail "no stop message"
"$PRETRAIN" --out split --resume --quiet > resume.out || fail "resume"
grep -q 'resuming after update 2 of 4' resume.out || fail "did not resume after update 2"
cmp straight/model.svtp split/model.svtp || fail "model.svtp differs after resume"
cmp straight/state.svtpt split/state.svtpt || fail "state.svtpt differs after resume"
[ "$(wc -l < split/metrics.jsonl)" -eq 4 ] || fail "metrics.jsonl of the resumed run: $(wc -l < split/metrics.jsonl) lines"
# activation checkpointing changes memory and time, not the training: the
# same files bit for bit (stored in run.txt: the resume keeps it on)
"$PRETRAIN" $args --checkpoint-activations --out ckpt --stop-at 2 > /dev/null || fail "--checkpoint-activations"
grep -q '^checkpoint-activations = 1$' ckpt/run.txt || fail "run.txt does not record --checkpoint-activations"
"$PRETRAIN" --out ckpt --resume --quiet > /dev/null || fail "resume with --checkpoint-activations"
cmp straight/model.svtp ckpt/model.svtp || fail "model.svtp differs with --checkpoint-activations"
cmp straight/state.svtpt ckpt/state.svtpt || fail "state.svtpt differs with --checkpoint-activations"
"$PRETRAIN" $args --checkpoint-selective --out ckptsel > /dev/null || fail "--checkpoint-selective"
grep -q '^checkpoint-selective = 1$' ckptsel/run.txt || fail "run.txt does not record --checkpoint-selective"
cmp straight/model.svtp ckptsel/model.svtp || fail "model.svtp differs with --checkpoint-selective"
cmp straight/state.svtpt ckptsel/state.svtpt || fail "state.svtpt differs with --checkpoint-selective"
"$PRETRAIN" $args --checkpoint-activations --checkpoint-selective > both.out 2>&1
[ $? -eq 2 ] && grep -q 'exclude each other' both.out || fail "both checkpointing flags were not refused"

# resuming a finished run does nothing; flags equal to the run's are fine
"$PRETRAIN" --out split --resume --batch 2 --steps 4 --config tiny.cfg | grep -q 'is complete' \
    || fail "a complete run was not recognized"
# a crash inside a checkpoint save: half a pair (model only) is dropped, a
# complete pair (both *.new files) is finished on --resume
"$PRETRAIN" $args --out crash --stop-at 1 > /dev/null || fail "run stopped at 1"
cp crash/model.svtp crash/model.svtp.new
"$PRETRAIN" --out crash --resume --stop-at 2 --quiet | grep -q 'resuming after update 1 of 4' \
    || fail "half a checkpoint pair was not dropped"
[ -e crash/model.svtp.new ] && fail "model.svtp.new left behind"
# ... and when that half pair was the first checkpoint, nothing is left to resume
mkdir first && cp crash/run.txt first/ && cp crash/model.svtp first/model.svtp.new
"$PRETRAIN" --out first --resume --quiet > first.out 2>&1 && fail "resumed from half of the first checkpoint"
grep -q 'first checkpoint was interrupted' first.out || fail "no clear message for half a first checkpoint: $(cat first.out)"
[ -e first/model.svtp.new ] && fail "half of the first checkpoint left behind"
"$PRETRAIN" $args --out crash3 --stop-at 3 > /dev/null || fail "run stopped at 3"
cp crash3/model.svtp crash/model.svtp.new && cp crash3/state.svtpt crash/state.svtpt.new
"$PRETRAIN" --out crash --resume --quiet | grep -q 'resuming after update 3 of 4' \
    || fail "a complete checkpoint pair was not finished"
cmp straight/model.svtp crash/model.svtp || fail "model.svtp differs after the recovered resume"
echo "pretrain resume: ok"
rm -rf "$W"
