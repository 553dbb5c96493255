#!/bin/bash
# Bad input: one line on stderr, the right exit status, nothing overwritten.
. "$(dirname "$0")/common.sh"
make_data

expect_fail 2 unknown-flag "$PRETRAIN" --synthetic --bogus
expect_fail 2 no-data "$PRETRAIN" --steps 2
expect_fail 2 no-vocab "$PRETRAIN" --shards wv
expect_fail 1 missing-shards "$PRETRAIN" --config tiny.cfg --shards no-such-dir --vocab "$VOCAB"
printf 'frames = 4\nframe_rate = 25\n' > unknown-key.cfg
expect_fail 2 config-unknown-key "$PRETRAIN" --synthetic --config unknown-key.cfg
printf 'frames = 5\n' > invalid.cfg
expect_fail 2 config-invalid "$PRETRAIN" --synthetic --config invalid.cfg
head -c 4096 /dev/urandom > random.svtp
expect_fail 1 init-random "$PRETRAIN" --synthetic --config tiny.cfg --init random.svtp

# a checkpoint to resume, and to use as --init with the wrong config
"$PRETRAIN" $(PT_DATA) --batch 2 --steps 4 --stop-at 2 --quiet --out run > /dev/null || fail "first run"
expect_fail 1 init-other-config "$PRETRAIN" --synthetic --preset tiny --init run/model.svtp
grep -q 'frames = 4 in the file, 8 expected' init-other-config.err || fail "the differing field is not named"
before=$(snapshot run)
expect_fail 2 resume-contradicting-batch "$PRETRAIN" --out run --resume --batch 4
grep -q -- '--batch 4 contradicts the run in run (batch = 2' resume-contradicting-batch.err || fail "message"
expect_fail 2 resume-contradicting-data "$PRETRAIN" --out run --resume --synthetic
sed 's/^enc_width = 32/enc_width = 64/' tiny.cfg > wide.cfg
expect_fail 1 resume-contradicting-config "$PRETRAIN" --out run --resume --config wide.cfg
grep -q 'enc_width' resume-contradicting-config.err || fail "the differing field is not named"
expect_fail 1 existing-checkpoint "$PRETRAIN" $(PT_DATA) --batch 2 --steps 4 --out run
expect_fail 1 resume-nothing "$PRETRAIN" --out empty-dir --resume
[ "$(snapshot run)" = "$before" ] || fail "the checkpoint folder changed"
echo "pretrain errors: ok"
rm -rf "$W"
