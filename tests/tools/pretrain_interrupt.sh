#!/bin/bash
# Ctrl-C: SIGINT after the first checkpoint -> exit 130, a complete
# checkpoint (no temporary files) that loads and resumes.
. "$(dirname "$0")/common.sh"
make_data

"$PRETRAIN" $(PT_DATA) --batch 2 --steps 100000 --save-every 1 --quiet --out run > run.out 2> run.err &
pid=$!
for i in $(seq 600); do [ -f run/model.svtp ] && break; sleep 0.05; done
[ -f run/model.svtp ] || { kill $pid; fail "no checkpoint after 30 s"; }
kill -INT $pid
wait $pid
rc=$?
cat run.err
[ $rc -eq 130 ] || fail "exit $rc after SIGINT, expected 130"
grep -q 'interrupted after update' run.err || fail "no interruption message"
ls run | grep -q '\.new\|\.tmp' && fail "temporary files left: $(ls run)"
n=$(sed -n 's/.*interrupted after update \([0-9]*\)\/.*/\1/p' run.err)
"$PRETRAIN" --out run --resume --stop-at $((n + 1)) --save-every 1000 --quiet > resume.out \
    || fail "the interrupted checkpoint does not resume"
grep -q "resuming after update $n of 100000" resume.out || fail "did not resume after update $n"
echo "pretrain interrupt: ok"
rm -rf "$W"
