#!/bin/bash
# Crash safety: SIGKILL simvtp-pretrain at random moments (including during
# checkpoint writes: it saves after every update) several times in a row;
# each restart resumes from the last complete checkpoint, and the final
# model.svtp and state.svtpt equal an uninterrupted run's, byte for byte.
. "$(dirname "$0")/common.sh"
make_data
args="$(PT_DATA) --batch 2 --steps 10 --save-every 1 --seed 3 --quiet"
"$PRETRAIN" $args --out straight > /dev/null || fail "uninterrupted run"

seed=${SVTP_KILL_SEED:-$(date +%s)}
RANDOM=$seed
echo "kill delays from seed $seed (set SVTP_KILL_SEED to replay)"
kills=0
# a checkpoint to resume from: a complete one, or a complete pair whose renames
# were interrupted (half a pair, model.svtp.new alone, is dropped on --resume)
resumable() { [ -e killed/model.svtp ] || [ -e killed/state.svtpt.new ]; }
for attempt in $(seq 1 40); do
    [ $kills -ge 6 ] && break
    if resumable; then
        "$PRETRAIN" --out killed --resume --quiet > /dev/null 2>&1 &
    else
        rm -rf killed
        "$PRETRAIN" $args --out killed > /dev/null 2>&1 &
    fi
    pid=$!
    delay=$(printf '0.%03d' $((RANDOM % 700 + 30)))
    sleep "$delay"
    if kill -9 $pid 2> /dev/null; then
        kills=$((kills + 1))
        wait $pid 2> /dev/null
        echo "killed after ${delay}s"
    else
        wait $pid 2> /dev/null
        break   # the run finished before the kill
    fi
done
[ $kills -ge 1 ] || fail "the run was never interrupted"
# finish: resume until complete (a checkpoint must exist by now, or start over)
if resumable; then
    "$PRETRAIN" --out killed --resume --quiet > finish.out 2>&1 || { cat finish.out; fail "final resume"; }
else
    rm -rf killed
    "$PRETRAIN" $args --out killed > /dev/null 2>&1 || fail "restart"
fi
cmp straight/model.svtp killed/model.svtp || fail "model.svtp differs from the uninterrupted run after $kills kills"
cmp straight/state.svtpt killed/state.svtpt || fail "state.svtpt differs from the uninterrupted run after $kills kills"
ls killed | grep -q '\.tmp\.' && fail "temporary files left behind: $(ls killed)"
echo "pretrain kill: ok ($kills kills)"
rm -rf "$W"
