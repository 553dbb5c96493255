#!/bin/bash
# Data-parallel simvtp-finetune (--dist mpi) under mpirun -np 2: with
# --global-vtc, 2 ranks x 2 clips log the loss of one process on 4 clips
# (no dropout; the same clips and crops) and without it they do not (the
# control); the ranks share the evaluation (= one process's numbers), rank 0
# prints and writes best.svtp; stop and
# --resume at 2 ranks = straight; a complete run resumed does nothing.
# (Captions are cut to 6 tokens so that every micro-batch pads alike.)
# Skipped (77) without MPI or mpirun.
. "$(dirname "$0")/common.sh"
mpi_require
make_data
T0=$(date +%s)

# a pretraining checkpoint without text dropout (fine-tuning adds --drop-path 0),
# and captions cut to 6 tokens: the model pads each micro-batch's captions to
# its longest, and the text features are means over that width, so ranks
# match one big batch only when their longest captions are as long as its
sed 's/^max_text_len = 16/max_text_len = 6\ntext_dropout = 0/' tiny.cfg > nodrop.cfg
"$PRETRAIN" --config nodrop.cfg --shards wv --vocab "$VOCAB" --threads 1 --workers 1 --batch 2 --steps 2 \
    --quiet --out pre > /dev/null || fail "pretrain"
ft="--init pre/model.svtp --train-shards msr-train --test-shards msr-test --vocab $VOCAB --drop-path 0
    --num-clips 1 --num-crops 1 --eval-batch 1 --threads 1 --workers 1 --seed 5 --log-every 1 --steps 2"

# 1. the contrastive loss over the global batch: 2 ranks x 2 clips = 1 process x 4 clips
# (rank r takes the epoch's positions r, r+2, ...: the two local batches are
# the 4 clips of the big one, with the same crops; the default lr follows
# the global batch, 4 in both)
"$FINETUNE" $ft --batch 4 --quiet --out big > /dev/null || fail "1 process, batch 4"
mpirun_np 2 "$FINETUNE" --dist mpi --global-vtc $ft --batch 2 --out gvtc > gvtc.out 2> gvtc.err \
    || { cat gvtc.err; fail "2 ranks --global-vtc"; }
mpirun_np 2 "$FINETUNE" --dist mpi $ft --batch 2 --quiet --out local > /dev/null || fail "2 ranks, local VTC"
for step in 1 2; do
    a=$(metric gvtc/metrics.jsonl $step vtc) b=$(metric big/metrics.jsonl $step vtc)
    close "$a" "$b" 2e-5 || fail "update $step: 2 ranks --global-vtc $a, 1 process x 4 clips $b"
done
c=$(metric local/metrics.jsonl 1 vtc) b=$(metric big/metrics.jsonl 1 vtc)
close "$c" "$b" 1e-2 && fail "without --global-vtc the loss ($c) equals the big batch's ($b)"
echo "ok: --global-vtc: update 1 vtc $(metric gvtc/metrics.jsonl 1 vtc) = batch 4's $b (local VTC: $c)"
grep -q '^global-vtc = 1$' gvtc/run.txt && grep -q '^world-size = 2$' gvtc/run.txt || fail "gvtc/run.txt"
grep -q '^lr = 4.6875e-06$' gvtc/run.txt || fail "the default lr is not 3e-4 x (2 x 1 x 2) / 256"

# 2. rank 0 alone evaluates and prints (an epoch is one update: after each of
# the 2): two tables, two evaluation lines, best.svtp
[ "$(grep -c '^text->video ' gvtc.out)" -eq 2 ] || { cat gvtc.out; fail "not two result tables"; }
[ "$(grep -c '"eval":1' gvtc/metrics.jsonl)" -eq 2 ] || fail "not two evaluations in metrics.jsonl"
[ "$(grep -c '"vtc":' gvtc/metrics.jsonl)" -eq 2 ] || fail "not two loss lines in metrics.jsonl"
[ "$(grep -c 'batch 2 x accum 1 x 2 mpi ranks = 4 clips' gvtc.out)" -eq 1 ] || fail "start line"
for f in model.svtp state.svtpt best.svtp eval.json; do [ -s gvtc/$f ] || fail "no gvtc/$f"; done
grep -q 'evaluating' gvtc.err || fail "no evaluation progress on stderr"
grep -q 'rank 1' gvtc.err && fail "rank 1 spoke: $(cat gvtc.err)"
# the evaluation was shared by the 2 ranks (each encoded every other batch of
# clips and captions): the same numbers as one process evaluating best.svtp
# (1 clip x 1 crop per video, one clip per batch: rank r encodes the videos
# r, r+2, ..., each embedding comes whole from one rank)
"$SIMVTP_RETRIEVE" evaluate --model gvtc/best.svtp --shards msr-test --vocab "$VOCAB" --clips 1 --crops 1 \
    --batch 1 --workers 1 --json alone.json > /dev/null || fail "simvtp-retrieve evaluate"
# the JSON without "seconds" (its one line that may differ)
[ "$(grep -v '"seconds"' gvtc/eval.json)" = "$(grep -v '"seconds"' alone.json)" ] \
    || { diff gvtc/eval.json alone.json; fail "the shared evaluation differs from one process's"; }
echo "ok: the shared evaluation = one process's: $(grep '"t2v"' alone.json | tr -s ' ')"

# 3. stop and --resume at 2 ranks = straight; a complete run resumed does nothing
mpirun_np 2 "$FINETUNE" --dist mpi --global-vtc $ft --batch 2 --quiet --out split --stop-at 1 > /dev/null \
    || fail "stop at 1"
mpirun_np 2 "$FINETUNE" --out split --resume --quiet > resume.out || fail "resume"
[ "$(grep -c 'resuming after update 1 of 2' resume.out)" -eq 1 ] || fail "resume message: $(cat resume.out)"
cmp gvtc/model.svtp split/model.svtp || fail "model.svtp differs after the 2-rank resume"
cmp gvtc/best.svtp split/best.svtp || fail "best.svtp differs after the 2-rank resume"
mpirun_np 2 "$FINETUNE" --out split --resume > again.out || fail "resume of a complete run"
[ "$(grep -c 'is complete' again.out)" -eq 1 ] || fail "complete run: $(cat again.out)"
echo "ok: 2-rank stop at 1 + resume = straight; a complete run is left alone"
echo "finetune mpi: ok ($(( $(date +%s) - T0 )) s)"
rm -rf "$W"
