#!/bin/bash
# generated clips -> simvtp-prep -> simvtp-pretrain (custom tiny config, real
# vocabulary): exit status, outputs, checkpoint files, metrics.jsonl, pictures.
. "$(dirname "$0")/common.sh"
make_data

"$PRETRAIN" $(PT_DATA) --batch 2 --steps 5 --log-every 2 --save-every 2 --seed 3 --out run \
    > run.out 2> run.err || { cat run.err; fail "pretrain exit $?"; }
cat run.out run.err
for f in model.svtp state.svtpt run.txt metrics.jsonl; do [ -s run/$f ] || fail "no run/$f"; done
ls run | grep -q '\.new\|\.tmp' && fail "temporary files left in run/"
# logged updates: 1 (first), 2, 4, 5 (last)
[ "$(wc -l < run/metrics.jsonl)" -eq 4 ] || fail "metrics.jsonl: $(wc -l < run/metrics.jsonl) lines, expected 4"
for k in step epoch total video_mse mlm vtc vtm lr clips_per_s; do
    grep -q "\"$k\":" run/metrics.jsonl || fail "metrics.jsonl lacks $k"
done
grep -q '^{"step":5,' run/metrics.jsonl || fail "no metrics entry for the last update"
grep -q '^step 5/5 epoch 1.25  loss [0-9.]* (video [0-9.]* mlm [0-9.]* vtc [0-9.]* vtm [0-9.]*)  lr .* clips/s  ETA' run.err \
    || fail "no progress line for update 5/5"
grep -q 'simvtp-pretrain: 5 updates of 2 clips done' run.out || fail "no summary line"
grep -q '^batch = 2$' run/run.txt && grep -q '^steps = 5$' run/run.txt && grep -q '^warmup-steps = 1$' run/run.txt \
    || fail "run.txt lacks the settings"
grep -q '^lr = 1.171875e-06$' run/run.txt || fail "lr is not 1.5e-4 x 2 / 256"
if [ "$HAVE_PNG" = 1 ]; then
    is_png run/loss.png
    is_png run/reconstruction.png
fi

# --synthetic with a custom config, --accum, --epochs refused without shards
"$PRETRAIN" --config tiny.cfg --synthetic --batch 2 --accum 2 --steps 2 --threads 1 --quiet --out syn > /dev/null \
    || fail "synthetic run"
[ -s syn/model.svtp ] || fail "no syn/model.svtp"
expect_fail 2 epochs-synthetic "$PRETRAIN" --synthetic --epochs 1
echo "pretrain workflow: ok"
rm -rf "$W"
