#!/bin/bash
# Data-parallel simvtp-pretrain (--dist mpi) under mpirun on this machine:
# one MPI rank is bit-identical to no communicator; two ranks log the mean
# of their losses (= one process with --accum 2 over the same clips; rank
# 0's own loss is the control), rank 0 alone prints and writes; --zero1
# (sharded moments) is bit-identical, its checkpoint resumes; a 2-rank run
# stopped and resumed is bit-identical to a straight one; another world size
# on --resume is refused unless allowed; a failure on one rank ends every
# rank, agreed (checkpoint) or not (a collective error), without hanging;
# Ctrl-C on mpirun; bad combinations. Skipped (77) without MPI or mpirun.
. "$(dirname "$0")/common.sh"
mpi_require
make_data
T0=$(date +%s)

syn="--synthetic --config tiny.cfg --batch 2 --seed 3 --threads 1 --log-every 1 --quiet"
# metrics.jsonl without the throughput: the losses, lr and gradient norms
losses() { sed 's/,"clips_per_s":[^,}]*//' "$1/metrics.jsonl"; }

# 1. one rank through MPI (mpirun -np 1, and a singleton) = no communicator, bit for bit
"$PRETRAIN" $syn --steps 3 --out none > /dev/null || fail "the run without --dist"
mpirun_np 1 "$PRETRAIN" --dist mpi $syn --steps 3 --out np1 > np1.out 2> np1.err || { cat np1.err; fail "mpirun -np 1"; }
"$PRETRAIN" --dist mpi $syn --steps 3 --out singleton > /dev/null || fail "--dist mpi without mpirun"
for d in np1 singleton; do
    cmp none/model.svtp $d/model.svtp || fail "$d: model.svtp differs from the run without --dist"
    cmp none/state.svtpt $d/state.svtpt || fail "$d: state.svtpt differs from the run without --dist"
    [ "$(losses none)" = "$(losses $d)" ] || fail "$d: metrics.jsonl differs from the run without --dist"
done
grep -q '^world-size = 1$' np1/run.txt && grep -q '^dist = mpi$' np1/run.txt || fail "np1/run.txt"
echo "ok: 1 MPI rank = no communicator (weights, state, losses)"

# 2. two ranks: each update logs the mean of the ranks' losses. Rank r makes the
# clips (and draws the seeds) of micro-batch 2*position + r of one process, so
# 2 ranks x accum 1 train as 1 process x accum 2 (the sums are formed in
# another order: equal within rounding); rank 0's own first loss is what one
# process with --accum 1 logs at update 1.
"$PRETRAIN" $syn --steps 3 --accum 2 --out acc2 > /dev/null || fail "accum 2"
"$PRETRAIN" $syn --steps 1 --out rank0 > /dev/null || fail "rank 0 alone"
mpirun_np 2 "$PRETRAIN" --dist mpi $syn --steps 3 --out np2 > np2.out 2> np2.err || { cat np2.err; fail "mpirun -np 2"; }
for step in 1 2 3; do
    for k in total video_mse mlm vtc vtm; do
        a=$(metric np2/metrics.jsonl $step $k) b=$(metric acc2/metrics.jsonl $step $k)
        close "$a" "$b" 2e-5 || fail "update $step $k: 2 ranks $a, 1 process x accum 2 $b"
    done
done
a=$(metric np2/metrics.jsonl 1 total) b=$(metric rank0/metrics.jsonl 1 total)
close "$a" "$b" 1e-3 && fail "the logged loss $a is rank 0's own ($b), not the mean"
echo "ok: 2 ranks log the mean loss: update 1 $a = accum 2's $(metric acc2/metrics.jsonl 1 total) (rank 0 alone $b)"
# rank 0 alone prints and writes
[ -s np2.err ] && { cat np2.err; fail "--quiet ranks wrote to stderr"; }
[ "$(grep -c 'batch 2 x accum 1 x 2 mpi ranks = 4 clips' np2.out)" -eq 1 ] || { cat np2.out; fail "start line"; }
[ "$(grep -c '3 updates of 4 clips done' np2.out)" -eq 1 ] || fail "summary line"
[ "$(wc -l < np2/metrics.jsonl)" -eq 3 ] || fail "metrics.jsonl has $(wc -l < np2/metrics.jsonl) lines, not 3"
grep -q '^world-size = 2$' np2/run.txt || fail "run.txt does not record 2 ranks"
grep -q '^lr = 2.34375e-06$' np2/run.txt || fail "the default lr is not 1.5e-4 x (2 x 1 x 2) / 256"
want="metrics.jsonl model.svtp run.txt state.svtpt"
[ "$HAVE_PNG" = 1 ] && want="loss.png metrics.jsonl model.svtp reconstruction.png run.txt state.svtpt"
[ "$(ls np2 | tr '\n' ' ')" = "$want " ] || fail "np2 holds: $(ls np2)"

# 2b. --zero1 (the AdamW moments sharded over the 2 ranks): on 2 ranks the same
# training bit for bit, and the collective save writes the same state file
mpirun_np 2 "$PRETRAIN" --dist mpi --zero1 $syn --steps 3 --out z2 > /dev/null 2> z2.err || { cat z2.err; fail "--zero1"; }
cmp np2/model.svtp z2/model.svtp || fail "--zero1: model.svtp differs from the all-reduce run"
cmp np2/state.svtpt z2/state.svtpt || fail "--zero1: state.svtpt differs from the all-reduce run"
[ "$(losses np2)" = "$(losses z2)" ] || fail "--zero1: metrics.jsonl differs from the all-reduce run"
echo "ok: --zero1 = the all-reduce run (weights, state file, losses)"

# 3. shards split over the ranks; stop and --resume = straight, bit for bit
# (accum 2; 8 clips = 2 batches of 2 per rank and epoch: one update per epoch)
sh="$(PT_DATA) --batch 2 --accum 2 --steps 4 --seed 7 --quiet"
mpirun_np 2 "$PRETRAIN" --dist mpi $sh --out straight > /dev/null || fail "straight 2-rank run"
grep -q '^{"step":1,"epoch":1,' straight/metrics.jsonl || fail "update 1 is not the end of epoch 1: $(head -1 straight/metrics.jsonl)"
mpirun_np 2 "$PRETRAIN" --dist mpi $sh --out split --stop-at 2 > stop.out || fail "2 ranks stopped at 2"
[ "$(grep -c 'stopped after update 2/4' stop.out)" -eq 1 ] || fail "stop message: $(cat stop.out)"
cp -r split split-w
expect_fail 2 resume-1-rank "$PRETRAIN" --out split --resume
grep -q 'trained on 2 ranks, this job has 1' resume-1-rank.err || fail "message"
expect_fail 2 resume-dist-none "$PRETRAIN" --out split --resume --dist none
mpirun_np 2 "$PRETRAIN" --out split --resume --quiet > resume.out || fail "2-rank resume"
[ "$(grep -c 'resuming after update 2 of 4' resume.out)" -eq 1 ] || fail "resume message: $(cat resume.out)"
cmp straight/model.svtp split/model.svtp || fail "model.svtp differs after the 2-rank resume"
cmp straight/state.svtpt split/state.svtpt || fail "state.svtpt differs after the 2-rank resume"
[ "$(wc -l < split/metrics.jsonl)" -eq 4 ] || fail "metrics.jsonl of the resumed run"
echo "ok: 2-rank stop at 2 + resume = straight (model.svtp, state.svtpt)"
mpirun_np 2 "$PRETRAIN" --dist mpi --zero1 $sh --out zsplit --stop-at 2 > /dev/null || fail "--zero1 stopped at 2"
mpirun_np 2 "$PRETRAIN" --out zsplit --resume --quiet > /dev/null || fail "--zero1 resume"
cmp straight/model.svtp zsplit/model.svtp && cmp straight/state.svtpt zsplit/state.svtpt \
    || fail "--zero1 stop + resume differs from the straight all-reduce run"
echo "ok: --zero1 stop at 2 + resume = straight" 
"$PRETRAIN" --out split-w --resume --allow-world-change --quiet > allow.out 2> allow.err || fail "--allow-world-change"
grep -q 'warning: the run in split-w was trained on 2 ranks, continuing on 1' allow.err || fail "no warning"
grep -q '^world-size = 1$' split-w/run.txt || fail "run.txt does not record the new world size"
[ "$(wc -l < split-w/metrics.jsonl)" -eq 4 ] || fail "the run did not finish on 1 rank"
cmp -s straight/model.svtp split-w/model.svtp && fail "1 rank continued exactly as 2 ranks would"
echo "ok: another world size refused, then allowed"

# 4. failures end every rank. Agreed: rank 0 cannot write the checkpoint (a
# folder where model.svtp.new goes); the others learn it at the save and all
# exit 1 after MPI_Finalize; only rank 0 says why.
mkdir -p bad/model.svtp.new/x
s=$(date +%s)
timeout 60 "${MPI_CMD[@]}" -np 2 "$PRETRAIN" --dist mpi $syn --steps 3 --out bad > bad.out 2> bad.err
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat bad.err; fail "rank 0's failed save: exit $rc"; }
grep -q '^simvtp-pretrain (rank 0 of 2): saving the weights failed' bad.err || { cat bad.err; fail "no message from rank 0"; }
grep -q 'rank 1 of 2' bad.err && fail "rank 1 spoke: $(cat bad.err)"
grep -q 'exited with non-zero status' bad.err || fail "mpirun did not see a failure"
echo "ok: rank 0's failed checkpoint ends both ranks in $(( $(date +%s) - s )) s"
# the same with --zero1, where saving the state is a collective: rank 0 still joins it
mkdir -p badz/model.svtp.new/x
timeout 60 "${MPI_CMD[@]}" -np 2 "$PRETRAIN" --dist mpi --zero1 $syn --steps 3 --out badz > badz.out 2> badz.err
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat badz.err; fail "--zero1, rank 0's failed save: exit $rc (124: a hang)"; }
grep -q '^simvtp-pretrain (rank 0 of 2): saving the weights failed' badz.err || { cat badz.err; fail "--zero1: no message"; }
echo "ok: --zero1: rank 0's failed checkpoint ends both ranks"
# The ranks' models differ in size (MPMD): libsimvtp compares the ranks at
# their first train step and both fail with the cause named; each exits at
# once (not an agreed failure of the tool: no MPI_Finalize) and mpirun ends
# the job.
sed 's/^enc_mlp = 64/enc_mlp = 128/' tiny.cfg > wide.cfg
s=$(date +%s)
timeout 60 "${MPI_CMD[@]}" -np 1 "$PRETRAIN" --dist mpi $syn --steps 3 : -np 1 "$PRETRAIN" --dist mpi \
    ${syn/tiny.cfg/wide.cfg} --steps 3 > mismatch.out 2> mismatch.err
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat mismatch.err; fail "mismatched ranks: exit $rc (124: a hang)"; }
grep -q 'simvtp_train_step failed' mismatch.err || { cat mismatch.err; fail "no train step failure"; }
grep -q 'rank 1 of 2 has other model kind or config than rank 0' mismatch.err \
    || { cat mismatch.err; fail "the cause is not named"; }
echo "ok: ranks with other configs fail at their first step, named, in $(( $(date +%s) - s )) s"

# 5. Ctrl-C on mpirun: Open MPI sends the ranks SIGTERM after
# odls_base_sigkill_timeout seconds (1 by default), and SIGKILL as long
# again later; every rank stops after the same update, rank 0 saves and says
# so once, and the checkpoint resumes.
"${MPI_CMD[@]}" -np 2 --mca odls_base_sigkill_timeout 4 "$PRETRAIN" --dist mpi $syn --steps 100000 \
    --save-every 1 --out int > int.out 2> int.err &
pid=$!
for i in $(seq 600); do [ -f int/model.svtp ] && break; sleep 0.05; done
[ -f int/model.svtp ] || { kill $pid; fail "no checkpoint after 30 s"; }
kill -INT $pid
wait $pid
rc=$?
[ $rc -ne 0 ] || fail "mpirun exited 0 after SIGINT"
[ "$(grep -c 'interrupted after update' int.err)" -eq 1 ] || { cat int.err; fail "not one interruption message"; }
ls int | grep -q '\.new\|\.tmp' && fail "temporary files left: $(ls int)"
n=$(sed -n 's/.*interrupted after update \([0-9]*\)\/.*/\1/p' int.err)
[ "$(tail -1 int/metrics.jsonl | sed 's/{"step":\([0-9]*\),.*/\1/')" = "$n" ] || fail "the last log line is not update $n"
mpirun_np 2 "$PRETRAIN" --out int --resume --stop-at $((n + 1)) --quiet > int-resume.out \
    || fail "the interrupted checkpoint does not resume"
grep -q "resuming after update $n of 100000" int-resume.out || fail "did not resume after update $n"
echo "ok: Ctrl-C after update $n, resumed"

# 6. --dist auto: mpi under mpirun, none alone (--global-vtc then changes nothing)
mpirun_np 2 "$PRETRAIN" --dist auto $syn --steps 1 --out auto2 > auto2.out || fail "--dist auto under mpirun"
grep -q 'x 2 mpi ranks = 4 clips' auto2.out || fail "--dist auto did not choose mpi: $(cat auto2.out)"
grep -q '^dist = auto$' auto2/run.txt && grep -q '^world-size = 2$' auto2/run.txt || fail "auto2/run.txt"
"$PRETRAIN" --dist auto --global-vtc $syn --steps 2 --stop-at 1 --out auto1 > /dev/null || fail "--dist auto alone"
grep -q '^world-size = 1$' auto1/run.txt || fail "auto1/run.txt"
"$PRETRAIN" --out auto1 --resume --quiet > /dev/null || fail "--resume of a --dist auto run"
echo "ok: --dist auto"

# 7. bad combinations: one line, the right status, no hang
expect_fail 2 dist-bogus "$PRETRAIN" --dist bogus $syn --steps 1
expect_fail 2 nccl-on-cpu "$PRETRAIN" --dist nccl --backend cpu $syn --steps 1
expect_fail 2 global-vtc-alone "$PRETRAIN" --global-vtc $syn --steps 1
expect_fail 2 zero1-alone "$PRETRAIN" --zero1 $syn --steps 1
OMPI_COMM_WORLD_SIZE=2 expect_fail 2 none-under-launcher "$PRETRAIN" $syn --steps 1
timeout 60 "$PRETRAIN" --dist nccl $syn --steps 1 --out nccl > nccl.out 2> nccl.err
rc=$?
if [ $rc -eq 0 ]; then
    echo "ok: --dist nccl trained here (NCCL and a GPU)"
else
    [ $rc -eq 1 ] && [ "$(wc -l < nccl.err)" -eq 1 ] || { cat nccl.err; fail "--dist nccl: exit $rc"; }
    echo "ok: nccl: $(cat nccl.err)"
fi
echo "pretrain mpi: ok ($(( $(date +%s) - T0 )) s)"
rm -rf "$W"
