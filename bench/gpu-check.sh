#!/usr/bin/env bash
# bench/gpu-check.sh — the one script a session with a lent GPU runs: build libsimvtp with
# CUDA, run the GPU tests, benchmark the vit-b training step against PyTorch, print a table.
#
#   bash bench/gpu-check.sh            (from the repository root; $OUT, if set, gets the logs)
#
# Stages (each under `timeout`, all within BUDGET seconds; a failing or timed-out stage is
# reported in the table and the next stages still run when they can):
#   1. nvidia-smi -L, nvcc --version
#   2. meson setup (build/gpu-check; reconfigured when it exists, FRESH=1 wipes it) with
#      -Dcuda=enabled -Dblas=auto -Dvideo=disabled -Dzstd=disabled -Dmpi=disabled
#      -Dtests=false -Dtools=false (no Debian -dev packages needed; NCCL optional: a second
#      try with -Dnccl=disabled if the first setup fails), then ninja
#   3. meson test --suite cuda (tests/cuda: every vtable op, the whole model vs the CPU)
#   4. bench_ops: every backend op alone at the vit-b step's shapes (cuda:0); an A/B pair
#      of short bench_step runs per entry of AB, a comma-separated list (all,new,h16 by
#      default; all: every switchable change since the H100 run 3 undone; new: those of
#      2026-11-27; h16: the opt-in bf16 fc1 output turned on; the rest below, at AB=);
#      should the bf16 pretraining step fail, the benchmarks after it run with everything
#      in `all` undone (NOTE in the table); bench_step: vit-b, 16 clips, pretraining and
#      fine-tuning on cuda:0 (bf16), then briefly on cuda:0:fp32 (FP32=0 skips it); short
#      runs with activation checkpointing, whole blocks, selective, and selective with the
#      bf16 fc1 output (CKPT=0 skips them)
#   5. bench/torch_step_gpu.py: the same steps in PyTorch (eager fp32, eager bf16 autocast +
#      SDPA, torch.compile of the bf16 blocks; TORCH_VARIANTS picks)
#   6. host counts (STATS=1, default): SIMVTP_CUDA_STATS=1 runs of 3 and 13 steps of each
#      step; their difference is one step's launches, products, waits and time blocked
#   7. kernel profiles (PROFILE=1 pretraining, PROFILE_FT=1 fine-tuning: ncu kernel times of
#      one step; PROFILE_ATTN=1: ncu sections of the attention kernels at the video shape)
#   8. the table: tests, clips/s, TFLOP/s (model FLOPs, bench_step.c sv_step_flops), MFU
#      (vs the datasheet dense peak of the card: bf16 for cuda:0 / torch bf16 and compile,
#      fp32 for the fp32 rows), peak device memory, libsimvtp / PyTorch ratios
# Environment: BUDGET [450] seconds for everything; BATCH [16]; STEPS [20] (bench_step bf16;
#   fp32 and torch use fewer, see below); PYTHON [python3]; FRESH [0]; JOBS [nproc];
#   PEAK_BF16 / PEAK_FP32 TFLOP/s [from the GPU name: H100 SXM/H200 989/67, H100 PCIe 756/51,
#   H100 NVL 835/60]; BUILD [build/gpu-check]; SKIP_TORCH=1, SKIP_TESTS=1; PROFILE,
#   PROFILE_FT, PROFILE_ATTN [0] (7); FP32 [1]; CKPT [1]; STATS [1] (6); TORCH_VARIANTS
#   [fp32,bf16,compile];
#   TABLE_ONLY=1 runs nothing and prints the table from the logs already in $OUT.
# Logs (full): $OUT/ (or $BUILD-logs/): build.log tests.log sanitizer.log bench.log torch.log table.txt
# profile.txt profile.csv.gz — at most 8 files, as the device tool brings back.
# Exit status: 0 when every stage passed, else 1 (the table is printed either way).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
T0=$(date +%s)
BUDGET=${BUDGET:-450}
DEADLINE=$((T0 + BUDGET))
BATCH=${BATCH:-16}
STEPS=${STEPS:-20}
PYTHON=${PYTHON:-python3}
BUILD=${BUILD:-build/gpu-check}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 8)}
LOGS=${OUT:-$ROOT/$BUILD-logs}
mkdir -p "$LOGS" || LOGS=$(mktemp -d)
OVERALL=0
# A/B rows: AB is a comma-separated list (default: all,h16), each a short bench_step run of
# both steps with one change undone: mirror = without the weight mirror
# (SIMVTP_CUDA_WEIGHT_MIRROR=0: every product converts its weight itself); gemm = fp32 GEMM
# operands (SIMVTP_CUDA_GEMM=fp32in); attn = the first fused attention
# (SIMVTP_CUDA_ATTENTION=flash1; bench_ops times both versions per op in any case); pin =
# the blocks' LayerNorm and GELU outputs kept in fp32 and converted by each product
# (SIMVTP_CUDA_PIN16=0); fill = the buffers the graph allocates raw zero-filled, as every
# allocation was before (SIMVTP_CUDA_RAW_FILL=zero); h16 = the other way round, the opt-in
# bf16 fc1 output turned on (SIMVTP_CUDA_H16=1: less memory, not bit-identical: GELU sees h
# rounded); o16 = the attention output kept in fp32 (SIMVTP_CUDA_O16=0; same bits); csvec =
# the backward's column sums one column per
# thread instead of four (SIMVTP_CUDA_COLSUM_VEC=0; same bits); lnvec = the LayerNorm rows one
# column per lane instead of four (SIMVTP_CUDA_LN_VEC=0; other bits); new = every change of
# 2026-11-27 undone: csvec, lnvec, D = rowsum(dO O) one thread per row striding
# (SIMVTP_CUDA_DOT=rows) and GELU one value per thread (SIMVTP_CUDA_GELU_VEC=0); all =
# every one of these
# switches (but gemm) at once, plus the fused column sums, GELU backward, residual +
# LayerNorm and drop-path scale undone: as close to run 3's code as switches go (AdamW in
# one launch, the merged joint pass, the gathered biases and D from a bf16 O stay); none (or AB_GEMM=0):
# no A/B row. Each
# costs about two short runs of the time budget. Their RESULT lines are renamed
# (RESULT_AB_<name>) so that the table tells them apart.
AB=${AB:-all,new,h16}
[ "${AB_GEMM:-1}" = 0 ] && AB=none
ab_env() {
    case $1 in
        mirror) echo SIMVTP_CUDA_WEIGHT_MIRROR=0 ;;
        gemm) echo SIMVTP_CUDA_GEMM=fp32in ;;
        attn) echo SIMVTP_CUDA_ATTENTION=flash1 ;;
        pin) echo SIMVTP_CUDA_PIN16=0 ;;
        fill) echo SIMVTP_CUDA_RAW_FILL=zero ;;
        h16) echo SIMVTP_CUDA_H16=1 ;;
        o16) echo SIMVTP_CUDA_O16=0 ;;
        csvec) echo SIMVTP_CUDA_COLSUM_VEC=0 ;;
        lnvec) echo SIMVTP_CUDA_LN_VEC=0 ;;
        new) echo SIMVTP_CUDA_COLSUM_VEC=0 SIMVTP_CUDA_LN_VEC=0 SIMVTP_CUDA_DOT=rows \
                  SIMVTP_CUDA_GELU_VEC=0 ;;
        all) echo SIMVTP_CUDA_WEIGHT_MIRROR=0 SIMVTP_CUDA_ATTENTION=flash1 SIMVTP_CUDA_PIN16=0 SIMVTP_CUDA_O16=0 \
                  SIMVTP_CUDA_RAW_FILL=zero SIMVTP_CUDA_COLSUM=2pass SIMVTP_CUDA_GELU_FUSE=0 \
                  SIMVTP_CUDA_RESLN=0 SIMVTP_CUDA_ROWSCALE_FUSE=0 SIMVTP_CUDA_COLSUM_VEC=0 \
                  SIMVTP_CUDA_LN_VEC=0 SIMVTP_CUDA_DOT=rows SIMVTP_CUDA_GELU_VEC=0 ;;
    esac
}
ab_label() {
    case $1 in
        mirror) echo "no weight mirror" ;;
        gemm) echo "fp32 GEMM inputs" ;;
        attn) echo "attention v1" ;;
        pin) echo "fp32 product inputs" ;;
        fill) echo "zero-filled raw" ;;
        h16) echo "bf16 fc1 out, opt-in" ;;
        o16) echo "fp32 attention out" ;;
        csvec) echo "1-column column sums" ;;
        lnvec) echo "1-column LayerNorm rows" ;;
        new) echo "2026-11-27 changes off" ;;
        all) echo "switches off" ;;
    esac
}
AB_LIST=
for ab in $(echo "$AB" | tr ',' ' '); do
    [ -n "$(ab_env "$ab")" ] && AB_LIST="$AB_LIST $ab"
done

now() { date +%s; }
say() { printf '[gpu-check %4ss] %s\n' "$(($(now) - T0))" "$*"; }
# limit CAP RESERVE: seconds for a stage: at most CAP, leaving RESERVE for the stages after it
limit() {
    local left=$((DEADLINE - $(now) - $2))
    if [ "$left" -lt "$1" ]; then echo "$left"; else echo "$1"; fi
}
# run_stage NAME CAP RESERVE LOG CMD... ; sets RC (124: timed out, 125: skipped) and DUR
run_stage() {
    local name=$1 cap=$2 reserve=$3 log=$4 lim t
    shift 4
    lim=$(limit "$cap" "$reserve")
    if [ "$lim" -lt 5 ]; then
        say "$name: skipped (time budget spent)"
        echo "=== $name: skipped, time budget spent" >>"$log"
        RC=125; DUR=0
        return
    fi
    say "$name (limit ${lim}s)"
    echo "=== $name: $* (limit ${lim}s)" >>"$log"
    t=$(now)
    timeout -k 10 "$lim" "$@" >>"$log" 2>&1
    RC=$?
    DUR=$(($(now) - t))
    [ $RC -eq 137 ] && RC=124
    echo "=== $name: exit $RC after ${DUR}s" >>"$log"
    say "$name: exit $RC after ${DUR}s"
}
status_word() { # exit code -> word
    case $1 in 0) echo ok ;; 77) echo skipped ;; 124) echo TIMEOUT ;; 125) echo "not run" ;; *) echo "FAIL($1)" ;; esac
}

if [ "${TABLE_ONLY:-0}" != 1 ]; then
: >"$LOGS/build.log"; : >"$LOGS/tests.log"; : >"$LOGS/bench.log"; : >"$LOGS/torch.log"
# ------------------------------------------------------------------ 1. the machine
{
    echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -srm), $(nproc) CPUs"
    nvidia-smi -L 2>&1 || echo "nvidia-smi: not available"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv 2>&1 || true
    nvcc --version 2>&1 | tail -2 || echo "nvcc: not found"
} | tee -a "$LOGS/build.log"
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
case "$GPU" in
    *H100*PCIe*) pb=756; pf=51 ;;
    *H100*NVL*) pb=835; pf=60 ;;
    *) pb=989; pf=67 ;;   # H100 SXM, H200: dense bf16 989 TFLOP/s, fp32 67 TFLOP/s
esac
PEAK_BF16=${PEAK_BF16:-$pb}
PEAK_FP32=${PEAK_FP32:-$pf}

# meson and ninja: on the GPU machine they come from pip (python3 -m ..., the venv's bin)
PYBIN=$(dirname "$(command -v "$PYTHON" 2>/dev/null || echo /usr/bin/python3)")
export PATH="$PATH:$PYBIN"
if command -v meson >/dev/null 2>&1; then MESON=(meson); else MESON=("$PYTHON" -m mesonbuild.mesonmain); fi
if ! command -v ninja >/dev/null 2>&1; then
    nb=$("$PYTHON" -c 'import ninja, os; print(ninja.BIN_DIR)' 2>/dev/null) && export PATH="$PATH:$nb"
fi
echo "# meson: ${MESON[*]} ($("${MESON[@]}" --version 2>&1)), ninja: $(command -v ninja) ($(ninja --version 2>&1))" \
    >>"$LOGS/build.log"

# ------------------------------------------------------------------ 2. build
OPTS=(-Dbuildtype=release -Dcuda=enabled -Dblas=auto -Dvideo=disabled -Dzstd=disabled -Dmpi=disabled
      -Dtests=false -Dtools=false)
# (timeout runs programs, not shell functions: the setup command is an array)
if [ "${FRESH:-0}" = 1 ] || [ ! -f "$BUILD/build.ninja" ]; then
    rm -rf "$BUILD"
    SETUP=("${MESON[@]}" setup "$BUILD" "${OPTS[@]}")
else
    SETUP=("${MESON[@]}" setup --reconfigure "$BUILD" "${OPTS[@]}")
fi
# reserves: tests 30 + 4 benches x 20 + torch 60
run_stage "meson setup" 120 170 "$LOGS/build.log" "${SETUP[@]}"
if [ $RC -ne 0 ] && grep -q "option('nccl'" meson_options.txt 2>/dev/null; then
    say "meson setup failed: again, fresh, with -Dnccl=disabled"
    rm -rf "$BUILD"
    run_stage "meson setup -Dnccl=disabled" 120 170 "$LOGS/build.log" \
        "${MESON[@]}" setup "$BUILD" "${OPTS[@]}" -Dnccl=disabled
fi
SETUP_RC=$RC; BUILD_RC=125; BUILD_DUR=0
if [ $SETUP_RC -eq 0 ]; then
    grep -E "SIMVTP_HAVE_(CUDA|CBLAS|NCCL)" "$BUILD/simvtp_build_config.h" | sed 's/^/# /' | tee -a "$LOGS/build.log"
    run_stage "ninja" 300 170 "$LOGS/build.log" ninja -C "$BUILD" -j "$JOBS"
    BUILD_RC=$RC; BUILD_DUR=$DUR
fi
[ $SETUP_RC -eq 0 ] && [ $BUILD_RC -eq 0 ] || OVERALL=1
HAVE_CUDA=0
[ $BUILD_RC -eq 0 ] && grep -q "SIMVTP_HAVE_CUDA 1" "$BUILD/simvtp_build_config.h" && HAVE_CUDA=1
if [ $BUILD_RC -ne 0 ]; then
    echo "---- build: last lines ----"; grep -E "error|Error|ERROR" "$LOGS/build.log" | tail -15
fi

# ------------------------------------------------------------------ 3. GPU tests
TESTS_RC=125
if [ $BUILD_RC -eq 0 ] && [ "${SKIP_TESTS:-0}" != 1 ]; then
    run_stage "meson test --suite cuda" 180 140 "$LOGS/tests.log" \
        "${MESON[@]}" test -C "$BUILD" --suite cuda --no-rebuild --print-errorlogs --verbose
    TESTS_RC=$RC
    [ $TESTS_RC -eq 0 ] || OVERALL=1
    # a failing op test: run it once more under compute-sanitizer (out-of-bounds accesses,
    # uninitialized reads) so the one run tells a wrong mapping from a memory error
    if [ $TESTS_RC -ne 0 ] && command -v compute-sanitizer >/dev/null 2>&1; then
        run_stage "compute-sanitizer cuda-ops" 60 150 "$LOGS/sanitizer.log" compute-sanitizer \
            --tool memcheck --print-limit 20 --error-exitcode 3 "$BUILD/tests/cuda/test_cuda_ops"
    fi
fi

# the second fused attention (flash_attention_v2.cu, the default) was written on a machine
# without a GPU: should its checks fail while v1's pass, the benchmarks below run on v1
# (SIMVTP_CUDA_ATTENTION=flash1), so that one run still measures everything else
if grep -E ' FAIL( |$)' "$LOGS/tests.log" 2>/dev/null | grep -q '\[flash v2\]' &&
   ! grep -E ' FAIL( |$)' "$LOGS/tests.log" | grep -q '\[flash v1\]' && [ -z "${SIMVTP_CUDA_ATTENTION:-}" ]; then
    export SIMVTP_CUDA_ATTENTION=flash1
    say "attention v2 failed its checks: the benchmarks run with SIMVTP_CUDA_ATTENTION=flash1"
fi

# ------------------------------------------------------------------ 4. libsimvtp step benchmarks
BENCH=$BUILD/bench/bench_step
bench() { # NAME CAP RESERVE ARGS...
    local name=$1 cap=$2 reserve=$3
    shift 3
    run_stage "bench_step $name" "$cap" "$reserve" "$LOGS/bench.log" "$BENCH" --preset vit-b --batch "$BATCH" "$@"
    [ $RC -eq 0 ] || OVERALL=1
}
OPS_RC=125
if [ $BUILD_RC -eq 0 ] && [ -x "$BUILD/bench/bench_ops" ]; then
    # per-op times at the step's shapes (bf16 table), before the whole steps
    run_stage "bench_ops cuda:0" 60 200 "$LOGS/bench.log" "$BUILD/bench/bench_ops" --backend cuda:0 --reps 10
    OPS_RC=$RC
fi
if [ $BUILD_RC -eq 0 ] && [ -x "$BENCH" ]; then
    for ab in $AB_LIST; do
        for m in pretrain finetune; do
            f=; [ $m = finetune ] && f=--finetune
            run_stage "bench_step cuda:0 $m, $(ab_label "$ab")" 40 200 "$LOGS/bench.log" sh -c \
                "$(ab_env "$ab") $BENCH --preset vit-b --batch $BATCH --backend cuda:0 --steps 8 \
                 --warmup 2 --peak-tflops $PEAK_BF16 $f | sed 's/^RESULT /RESULT_AB_$ab /'"
        done
    done
fi
if [ $BUILD_RC -eq 0 ] && [ -x "$BENCH" ]; then
    bench "cuda:0 pretrain" 90 120 --backend cuda:0 --steps "$STEPS" --warmup 3 --peak-tflops "$PEAK_BF16"
    if [ $RC -ne 0 ] && [ $RC -ne 124 ] && [ $RC -ne 125 ]; then
        # a crash or a non-finite step: measure the rest with the switchable changes undone
        SAFE_ENV=$(ab_env all)
        say "the bf16 pretraining step failed: the benchmarks go on with $SAFE_ENV"
        export $SAFE_ENV
        bench "cuda:0 pretrain, switches off" 90 120 --backend cuda:0 --steps "$STEPS" --warmup 3 \
            --peak-tflops "$PEAK_BF16"
    fi
    bench "cuda:0 finetune" 90 100 --backend cuda:0 --steps "$((STEPS / 2 > 3 ? STEPS / 2 : 3))" --warmup 2 \
        --peak-tflops "$PEAK_BF16" --finetune
    if [ "${FP32:-1}" = 1 ]; then
        bench "cuda:0:fp32 pretrain" 60 80 --backend cuda:0:fp32 --steps 3 --warmup 1 --peak-tflops "$PEAK_FP32"
        bench "cuda:0:fp32 finetune" 60 60 --backend cuda:0:fp32 --steps 2 --warmup 1 --peak-tflops "$PEAK_FP32" \
            --finetune
    fi
    # activation checkpointing (SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS): its memory and time
    # (CKPT=0 skips it); RESULT lines renamed for the table
    # and selective checkpointing (LayerNorm and GELU outputs recomputed: RESULT_SEL)
    if [ "${CKPT:-1}" = 1 ]; then
        for c in "checkpoint|RESULT_CKPT|checkpointing|" "checkpoint-selective|RESULT_SEL|selective checkpointing|" \
                 "checkpoint-selective|RESULT_SELH|selective checkpointing, bf16 h|SIMVTP_CUDA_H16=1"; do
            flag=${c%%|*}; rest=${c#*|}; tag=${rest%%|*}; rest=${rest#*|}; what=${rest%%|*}; envs=${rest#*|}
            for m in pretrain finetune; do
                f=; [ $m = finetune ] && f=--finetune
                # (selective: 16 steps, to tell its small cost from the noise)
                n=6; [ "$flag" = checkpoint-selective ] && n=16
                run_stage "bench_step cuda:0 $m, $what" 40 120 "$LOGS/bench.log" sh -c \
                    "$envs $BENCH --preset vit-b --batch $BATCH --backend cuda:0 --steps $n --warmup 2 --$flag \
                     --peak-tflops $PEAK_BF16 $f | sed 's/^RESULT /$tag /'"
            done
        done
    fi
fi

# ------------------------------------------------------------------ 5. PyTorch
TORCH_RC=125
if [ "${SKIP_TORCH:-0}" != 1 ]; then
    left=$(limit 300 15)
    # the script skips variants that would start after its own budget (compile runs last)
    run_stage "torch_step_gpu.py" 300 15 "$LOGS/torch.log" env PYTHONUNBUFFERED=1 "$PYTHON" \
        bench/torch_step_gpu.py --preset vit-b --batch "$BATCH" --steps 10 --warmup 3 \
        --variants "${TORCH_VARIANTS:-fp32,bf16,compile}" --peak-tflops "$PEAK_BF16" \
        --time-budget "$((left > 60 ? left - 45 : 15))"
    TORCH_RC=$RC
fi

# ------------------------------------------------------------------ 6. host-side counts
# STATS=1 (default): the library's host counters (SIMVTP_CUDA_STATS=1, cuda/host_stats.cu)
# for runs of 3 and 13 steps of each step; their difference over 10 steps is what one step
# costs the host: launches, cuBLASLt products, waits and the time blocked in them
if [ "${STATS:-1}" = 1 ] && [ $BUILD_RC -eq 0 ] && [ -x "$BENCH" ]; then
    for m in pretrain finetune; do
        f=; [ $m = finetune ] && f=--finetune
        for n in 3 13; do
            run_stage "bench_step cuda:0 $m, host counts, $n steps" 40 100 "$LOGS/bench.log" sh -c \
                "SIMVTP_CUDA_STATS=1 $BENCH --preset vit-b --batch $BATCH --backend cuda:0 --steps $n --warmup 2 $f 2>&1 |
                 sed 's/^simvtp-cuda-stats /STATS mode=$m steps=$n /; s/^RESULT /RESULT_STATS /'"
        done
    done
fi

# ------------------------------------------------------------------ 7. kernel profile
# PROFILE_ATTN=1 (first: the next kernel work needs it most): Nsight Compute's sections
# (throughput, occupancy, warp stalls, memory) for the fused attention's kernels at the
# fine-tuning shape (B16 N1568 H12 hd64): bench_ops --only attn --reps 1 launches f2_*
# kernels as joint (6), decoder (6), then video fwd, fwd, bwd dK/dV, bwd dQ; appended to
# profile.txt at the end
if [ "${PROFILE_ATTN:-0}" = 1 ] && [ $BUILD_RC -eq 0 ] && [ -x "$BUILD/bench/bench_ops" ] && command -v ncu >/dev/null 2>&1; then
    run_stage "ncu attention sections" 60 60 "$LOGS/bench.log" sh -c \
        "ncu --clock-control none -k 'regex:^f2_(fwd|bwd)' --launch-skip 12 --launch-count 4 \
         --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
         --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
         $BUILD/bench/bench_ops --backend cuda:0 --reps 1 --only attn >'$LOGS/ncu-attn.txt' 2>&1"
    { echo; echo "attention kernels, video shape (ncu sections):"
      grep -v '^OP \|^bench_ops' "$LOGS/ncu-attn.txt"; } >"$LOGS/profile-attn.txt"
    rm -f "$LOGS/ncu-attn.txt"
fi
# PROFILE=1: one bf16 pretraining step (no warm-up: the model's set-up kernels count too)
# under Nsight Compute, one metric (each kernel's duration, replayed alone: launch gaps are
# not counted), summed per kernel name by bench/ncu_summary.py
# (PROFILE_FT=1: the fine-tuning step too, its summary appended to profile.txt)
if [ "${PROFILE:-0}" = 1 ] && [ $BUILD_RC -eq 0 ] && [ -x "$BENCH" ] && command -v ncu >/dev/null 2>&1; then
    run_stage "ncu bench_step cuda:0 pretrain" 120 100 "$LOGS/bench.log" sh -c \
        "ncu --csv --clock-control none --metrics gpu__time_duration.sum $BENCH --preset vit-b --batch $BATCH \
         --backend cuda:0 --steps 1 --warmup 0 >'$LOGS/profile.csv' 2>&1"
    "$PYTHON" bench/ncu_summary.py --steps 1 --top 30 "$LOGS/profile.csv" >"$LOGS/profile.txt" 2>&1
    gzip -f "$LOGS/profile.csv"
    if [ "${PROFILE_FT:-0}" = 1 ]; then
        run_stage "ncu bench_step cuda:0 finetune" 120 100 "$LOGS/bench.log" sh -c \
            "ncu --csv --clock-control none --metrics gpu__time_duration.sum $BENCH --preset vit-b --batch $BATCH \
             --backend cuda:0 --steps 1 --warmup 0 --finetune >'$LOGS/profile-ft.csv' 2>&1"
        { echo; echo "fine-tuning step:"
          "$PYTHON" bench/ncu_summary.py --steps 1 --top 30 "$LOGS/profile-ft.csv" 2>&1; } >>"$LOGS/profile.txt"
        rm -f "$LOGS/profile-ft.csv"   # (the device tool brings back at most 8 files)
    fi
fi
if [ -f "$LOGS/profile-attn.txt" ]; then   # after the step profiles, in the same file
    cat "$LOGS/profile-attn.txt" >>"$LOGS/profile.txt"
    rm -f "$LOGS/profile-attn.txt"
fi

else # TABLE_ONLY
    GPU=$(sed -n 's/^GPU 0: \([^(]*\) (UUID.*/\1/p' "$LOGS/build.log" 2>/dev/null | head -1)
    PEAK_BF16=${PEAK_BF16:-989}; PEAK_FP32=${PEAK_FP32:-67}
    SETUP_RC=0; BUILD_RC=0; BUILD_DUR=0; HAVE_CUDA="?"; TESTS_RC=125; TORCH_RC=125
fi

# ------------------------------------------------------------------ 8. the table
if [ -s "$LOGS/profile.txt" ]; then
    echo; echo "kernel profile, cuda:0 pretrain (ncu, per step; bench/ncu_summary.py):"
    head -24 "$LOGS/profile.txt"
    if grep -q "^fine-tuning step:" "$LOGS/profile.txt"; then
        echo; echo "kernel profile, cuda:0 finetune:"
        sed -n '/^fine-tuning step:/,$p' "$LOGS/profile.txt" | sed -n '2,24p'
    fi
fi
if grep -q '^OP ' "$LOGS/bench.log" 2>/dev/null; then
    echo
    echo "per-op times, cuda:0 (bench/bench_ops.c, vit-b step shapes; bench_ops exit ${OPS_RC:-?}):"
    grep '^OP ' "$LOGS/bench.log" | cut -c4-
fi
# kv LINE KEY: the value of KEY=... in a RESULT line
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b + 0 <= 0 || a + 0 <= 0) print "-"; else printf "%.2f", a / b }'; }
# med_cps LINE: clips/s from the median step of a RESULT line
med_cps() { awk -v b="$(kv "$1" batch)" -v m="$(kv "$1" median_sec)" 'BEGIN { if (m + 0 > 0) printf "%.3f", b / m }'; }
num() { awk -v x="$1" -v f="$2" 'BEGIN { if (x == "" || x == "-" || x + 0 < 0) print "-"; else printf f, x }'; }
{
    echo
    echo "================ libsimvtp GPU check: ${GPU:-no GPU} ($(($(now) - T0))s) ================"
    printf '%-28s %-10s %6s  %s\n' "stage" "status" "time" "details"
    printf '%-28s %-10s %5ss  %s\n' "build (meson + ninja)" "$(status_word $((SETUP_RC ? SETUP_RC : BUILD_RC)))" \
        "$BUILD_DUR" "cuda=$HAVE_CUDA $(grep -E 'SIMVTP_HAVE_(CBLAS|NCCL)' "$BUILD/simvtp_build_config.h" 2>/dev/null | awk '{printf "%s=%s ", tolower(substr($2, 13)), $3}')"
    tl=$(grep -E '^ *[0-9]+/[0-9]+ ' "$LOGS/tests.log" 2>/dev/null | grep -v ' RUNNING' |
         sed -E 's/^ *[0-9]+\/[0-9]+ +//; s/^[^ ]+:[^ ]+ \/ //')
    printf '%-28s %-10s %6s  %s\n' "meson test --suite cuda" "$(status_word $TESTS_RC)" "" \
        "$(grep -hoE '(test_cuda_ops|test_cuda_pin|test_cuda_step \([a-z-]+\)): [0-9]+ passed, [0-9]+ failed' "$LOGS/tests.log" 2>/dev/null | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
    [ -n "$tl" ] && printf '%s\n' "$tl" | awk '{ printf "    %-36s %s %s\n", $1, $2, $3 }'
    nf=$(grep -E ' FAIL( |$)' "$LOGS/tests.log" 2>/dev/null | grep -cv '^ *[0-9]*/[0-9]* ')
    if [ "${nf:-0}" -gt 0 ]; then
        echo "    first failing checks (of $nf; full output in tests.log):"
        grep -E ' FAIL( |$)' "$LOGS/tests.log" | grep -v '^ *[0-9]*/[0-9]* ' | head -12 | cut -c1-150 | sed 's/^/      /'
    fi
    [ -n "${SAFE_ENV:-}" ] &&
        echo "    NOTE: the bf16 pretraining step failed; the benchmarks after it ran with $SAFE_ENV"
    if grep -E ' FAIL( |$)' "$LOGS/tests.log" 2>/dev/null | grep -q '\[flash v2\]'; then
        if grep -E ' FAIL( |$)' "$LOGS/tests.log" | grep -q '\[flash v1\]'; then
            echo "    NOTE: attention v2 and v1 both failed checks; the benchmarks ran with the default"
        else
            echo "    NOTE: attention v2 failed its checks, v1 passed: the benchmarks ran on v1 (SIMVTP_CUDA_ATTENTION=flash1)"
        fi
    fi
    echo
    echo "vit-b training step, batch $BATCH (clips/s from the mean step, med from the median; MFU vs dense peak bf16 $PEAK_BF16 / fp32 $PEAK_FP32 TFLOP/s)"
    printf '%-9s %-24s %9s %8s %6s %9s %9s %9s %7s %9s\n' "step" "implementation" "clips/s" "TFLOP/s" "MFU" "peak GiB" \
        "vs eager" "vs compile" "med" "med/eager"
    for mode in pretrain finetune; do
        tb=$(grep "^RESULT" "$LOGS/torch.log" 2>/dev/null | grep "mode=$mode " | grep "variant=bf16 " | tail -1)
        tf=$(grep "^RESULT" "$LOGS/torch.log" 2>/dev/null | grep "mode=$mode " | grep "variant=fp32 " | tail -1)
        tc=$(grep "^RESULT" "$LOGS/torch.log" 2>/dev/null | grep "mode=$mode " | grep "variant=compile " | tail -1)
        cb=$(kv "$tb" clips_per_sec); cf=$(kv "$tf" clips_per_sec); cc=$(kv "$tc" clips_per_sec)
        cbm=$(med_cps "$tb"); cfm=$(med_cps "$tf")
        rows=("libsimvtp cuda:0|bf16")
        for ab in $AB_LIST; do rows+=("  ($(ab_label "$ab"))|ab:$ab"); done
        rows+=("  (checkpointing)|ckpt" "  (selective ckpt)|sel" "  (selective, bf16 h)|selh" "libsimvtp cuda:0:fp32|fp32"
               "torch eager fp32|tfp32" "torch eager bf16+SDPA|tbf16" "torch.compile bf16|tcompile")
        for row in "${rows[@]}"; do
            label=${row%|*}; kind=${row#*|}
            case $kind in
                bf16) line=$(grep "^RESULT " "$LOGS/bench.log" 2>/dev/null | grep "mode=$mode " | grep "backend=cuda:0 " | tail -1)
                      peak=$PEAK_BF16; vs_e=$cb; vs_c=$cc ;;
                ckpt) line=$(grep "^RESULT_CKPT " "$LOGS/bench.log" 2>/dev/null | grep "mode=$mode " | tail -1)
                      [ -z "$line" ] && continue
                      peak=$PEAK_BF16; vs_e=$cb; vs_c=$cc ;;
                sel) line=$(grep "^RESULT_SEL " "$LOGS/bench.log" 2>/dev/null | grep "mode=$mode " | tail -1)
                     [ -z "$line" ] && continue
                     peak=$PEAK_BF16; vs_e=$cb; vs_c=$cc ;;
                selh) line=$(grep "^RESULT_SELH " "$LOGS/bench.log" 2>/dev/null | grep "mode=$mode " | tail -1)
                      [ -z "$line" ] && continue
                      peak=$PEAK_BF16; vs_e=$cb; vs_c=$cc ;;
                ab:*) line=$(grep "^RESULT_AB_${kind#ab:} " "$LOGS/bench.log" 2>/dev/null | grep "mode=$mode " | tail -1)
                        [ -z "$line" ] && continue
                        peak=$PEAK_BF16; vs_e=$cb; vs_c=$cc ;;
                fp32) line=$(grep "^RESULT " "$LOGS/bench.log" 2>/dev/null | grep "mode=$mode " | grep "backend=cuda:0:fp32 " | tail -1)
                      peak=$PEAK_FP32; vs_e=$cf; vs_c="" ;;
                tfp32) line=$tf; peak=$PEAK_FP32; vs_e=""; vs_c="" ;;
                tbf16) line=$tb; peak=$PEAK_BF16; vs_e=""; vs_c="" ;;
                tcompile) line=$tc; peak=$PEAK_BF16; vs_e=""; vs_c="" ;;
            esac
            st=$(kv "$line" status)
            if [ -z "$line" ]; then
                printf '%-9s %-24s %9s\n' "$mode" "$label" "(no result)"
                continue
            fi
            if [ -n "$st" ] && [ "$st" != ok ]; then
                printf '%-9s %-24s %9s\n' "$mode" "$label" "($st)"
                continue
            fi
            c=$(kv "$line" clips_per_sec); tf_=$(kv "$line" tflops); cm=$(med_cps "$line")
            vs_m=; [ -n "$vs_e" ] && [ "$vs_e" = "$cb" ] && vs_m=$cbm; [ -n "$vs_e" ] && [ "$vs_e" = "$cf" ] && vs_m=$cfm
            mem=$(kv "$line" peak_mem_gib); res=$(kv "$line" peak_reserved_gib)
            memtxt=$(num "$mem" '%.1f')
            [ -n "$res" ] && memtxt="$memtxt/$(num "$res" '%.1f')"
            printf '%-9s %-24s %9s %8s %6s %9s %9s %9s %7s %9s\n' "$mode" "$label" "$(num "$c" '%.1f')" "$(num "$tf_" '%.1f')" \
                "$(awk -v t="$tf_" -v p="$peak" 'BEGIN { if (t == "" || p + 0 <= 0) print "-"; else printf "%.1f%%", 100 * t / p }')" \
                "$memtxt" "$(ratio "$c" "$vs_e")" "$(ratio "$c" "$vs_c")" "$(num "$cm" '%.1f')" "$(ratio "$cm" "$vs_m")"
        done
    done
    for mode in pretrain finetune; do
        a=$(grep "^STATS mode=$mode steps=3 " "$LOGS/bench.log" 2>/dev/null | tail -1)
        b=$(grep "^STATS mode=$mode steps=13 " "$LOGS/bench.log" 2>/dev/null | tail -1)
        [ -n "$a" ] && [ -n "$b" ] || continue
        per() { awk -v x="$(kv "$b" "$1")" -v y="$(kv "$a" "$1")" -v f="$2" 'BEGIN { printf f, (x - y) / 10 }'; }
        echo "  host, one $mode step (SIMVTP_CUDA_STATS, 13-step run minus 3-step run, /10): $(per launches %.0f) launches," \
             "$(per products %.0f) cuBLASLt products, $(per waits %.1f) waits blocking $(per wait_ms %.2f) ms of $(per host_ms %.2f) ms"
    done
    echo "  vs eager: libsimvtp clips/s over PyTorch eager in the same precision; vs compile: over torch.compile (bf16)."
    echo "  peak GiB: libsimvtp = device memory in use at the peak minus before the model (context excluded);"
    echo "            torch = max_memory_allocated/max_memory_reserved above the start. Logs: $LOGS"
} | tee "$LOGS/table.txt"
[ $TORCH_RC -eq 0 ] || [ $TORCH_RC -eq 125 ] || OVERALL=1
exit $OVERALL
