#!/bin/bash
# simvtp-pretrain -> simvtp-finetune on MSRVTT-layout shards: evaluation
# after every epoch (1 clip x 1 crop), best.svtp / eval.json, metrics,
# resume equivalence, and --init that is not a pretraining checkpoint.
. "$(dirname "$0")/common.sh"
make_data
"$PRETRAIN" $(PT_DATA) --batch 2 --steps 2 --quiet --out pre > /dev/null || fail "pretrain"
ft="--init pre/model.svtp --train-shards msr-train --test-shards msr-test --vocab $VOCAB --batch 2
    --num-clips 1 --num-crops 1 --threads 1 --workers 1 --seed 5"

# 4 training videos in batches of 2: 2 updates per epoch, 2 epochs
$FINETUNE $ft --epochs 2 --out ft > ft.out 2> ft.err || { cat ft.err; fail "finetune exit $?"; }
cat ft.out
for f in model.svtp state.svtpt run.txt metrics.jsonl best.svtp eval.json; do [ -s ft/$f ] || fail "no ft/$f"; done
[ "$(grep -c '"eval":1' ft/metrics.jsonl)" -eq 2 ] || fail "expected 2 evaluations in metrics.jsonl"
grep -q '^{"step":2,"epoch":1,"eval":1,' ft/metrics.jsonl || fail "no evaluation after epoch 1"
[ "$(grep -c '^text->video ' ft.out)" -eq 2 ] || fail "expected 2 result tables"
grep -q '"t2v": {"queries": 4' ft/eval.json || fail "eval.json"
grep -q '^lr = 2.34375e-06$' ft/run.txt || fail "lr is not 3e-4 x 2 / 256"
[ "$HAVE_PNG" = 1 ] && is_png ft/loss.png

# resume equivalence: stop mid-epoch 1 and at the end of epoch 1
for stop in 1 2; do
    $FINETUNE $ft --epochs 2 --quiet --out ft-$stop --stop-at $stop > /dev/null || fail "stop at $stop"
    $FINETUNE --out ft-$stop --resume --quiet > /dev/null || fail "resume after $stop"
    cmp ft/model.svtp ft-$stop/model.svtp || fail "model.svtp differs after a resume at $stop"
    cmp ft/best.svtp ft-$stop/best.svtp || fail "best.svtp differs after a resume at $stop"
    [ "$(grep -c '"eval":1' ft-$stop/metrics.jsonl)" -eq 2 ] || fail "evaluations after a resume at $stop"
done

expect_fail 1 init-retrieval "$FINETUNE" --init ft/best.svtp --train-shards msr-train --test-shards msr-test --vocab "$VOCAB"
grep -q 'retrieval' init-retrieval.err || fail "message does not say retrieval"
head -c 4096 /dev/urandom > random.svtp
expect_fail 1 init-random "$FINETUNE" --init random.svtp --train-shards msr-train --test-shards msr-test --vocab "$VOCAB"
expect_fail 2 unknown-flag "$FINETUNE" --bogus
before=$(snapshot ft)
expect_fail 2 resume-contradicting-batch "$FINETUNE" --out ft --resume --batch 4
[ "$(snapshot ft)" = "$before" ] || fail "the checkpoint folder changed"
echo "finetune workflow: ok"
rm -rf "$W"
