#!/usr/bin/env bash
# fuzz/run-fuzzers.sh — build the libFuzzer harnesses (if needed) and run each
# for SECONDS (default 20) over a temporary copy of its seed corpus
# (fuzz/corpus/NAME plus tests/fuzz_regress/NAME; the committed corpus never
# grows). Prints one line per harness (execs, execs/s, corpus growth, result)
# and exits non-zero when any harness crashed, leaked, timed out or ran out
# of memory; the crashing input is kept under $BUILD_DIR/fuzz-artifacts/.
#
#   fuzz/run-fuzzers.sh [SECONDS] [NAME...]     e.g. fuzz/run-fuzzers.sh 60 shard index
#
# Environment: BUILD_DIR (build/fuzz, git-ignored), CC (clang-14, else clang) for the
# first set-up. Needs clang-14, libclang-rt-14-dev and libomp-14-dev (Debian).
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
[ $# -gt 0 ] && shift
all=(weights optim_state shard shard_loader index vocab tokenize webvid msrvtt_json msrvtt_csv list)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=("${all[@]}")
build=${BUILD_DIR:-build/fuzz}

# Longest input per format: the binary seeds are up to 19 KiB; text needs less.
max_len() {
  case $1 in
    weights|optim_state) echo 32768 ;;
    shard|shard_loader|index|msrvtt_json|webvid|vocab) echo 4096 ;;
    *) echo 2048 ;;
  esac
}

if [ ! -f "$build/build.ninja" ]; then
  mkdir -p "$(dirname "$build")"
  cc=${CC:-$(command -v clang-14 || command -v clang)}
  CC=$cc meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dtests=false -Dtools=false -Dbuildtype=debugoptimized \
    '-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined' >"$build.setup.log" 2>&1 ||
    { cat "$build.setup.log"; echo "run-fuzzers: meson setup failed"; exit 1; }
  rm -f "$build.setup.log"
fi
meson compile -C "$build" fuzzers >"$build/fuzz-compile.log" 2>&1 ||
  { tail -40 "$build/fuzz-compile.log"; echo "run-fuzzers: build failed"; exit 1; }
if [ ! -x "$build/fuzz/fuzz_${names[0]}" ]; then
  echo "run-fuzzers: $build/fuzz/fuzz_${names[0]} was not built (is CC clang with libFuzzer?)"
  exit 1
fi

shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
work=$(mktemp -d "$shm/simvtp-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export OMP_NUM_THREADS=1
# The CPU backend keeps freed blocks for reuse (cpu/host_cache.c): memory held by design,
# which -rss_limit_mb would count against every later input. Fuzz without it.
export SIMVTP_CPU_CACHE_MB=0

failed=0
total_start=$SECONDS
for n in "${names[@]}"; do
  exe="$build/fuzz/fuzz_$n"
  [ -x "$exe" ] || { echo "fuzz_$n: no such harness"; failed=1; continue; }
  corpus="$work/corpus-$n"
  mkdir -p "$corpus" "$work/tmp-$n"
  cp fuzz/corpus/"$n"/* "$corpus"/ 2>/dev/null
  [ -d tests/fuzz_regress/"$n" ] && cp tests/fuzz_regress/"$n"/* "$corpus"/ 2>/dev/null
  seeds=$(ls "$corpus" | wc -l)
  log="$work/$n.log"
  SIMVTP_FUZZ_TMPDIR="$work/tmp-$n" "$exe" -max_total_time="$secs" -max_len="$(max_len "$n")" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$n-" "$corpus" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  units=$(ls "$corpus" | wc -l)
  if [ $rc -eq 0 ]; then
    result=OK
  else
    failed=1
    what=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-z-]+|runtime error: .*|ERROR: [A-Za-z]+Sanitizer: [a-z-]+' "$log" | head -1)
    art=$(grep -m1 -oE "Test unit written to [^ ]+" "$log" | sed 's/Test unit written to //')
    result="FAILED (rc $rc${what:+: $what}${art:+; input $art})"
    cp "$log" "$artifacts/$n.log"
  fi
  printf '%-18s %4ss %10s execs %8s execs/s  corpus %3s -> %-4s %s\n' "fuzz_$n" "$secs" "${execs:-?}" \
    "${rate:-?}" "$seeds" "$units" "$result"
  [ $rc -eq 0 ] || tail -30 "$log" | sed 's/^/    /'
done
echo "run-fuzzers: ${#names[@]} harnesses in $((SECONDS - total_start)) s: $([ $failed -eq 0 ] && echo all OK || echo FAILURES, logs in "$artifacts")"
exit $failed
