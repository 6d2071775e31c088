#!/usr/bin/env bash
# Builds the libFuzzer targets (preset fuzz: clang-14, ASan + UBSan), makes their seeds with the
# project's own writers, replays every seed and committed regression input, then fuzzes each target.
#   usage: tests/fuzz/run.sh [--seconds N] [--parallel] [--binary VSAE_GPU] [TARGET ...]
#     --seconds N   fuzz each target N seconds after the replay (default 30; 0: replay only)
#     --parallel    fuzz the targets at once (they share the cores) instead of one after another
#     --binary B    the vsae_gpu that writes the seeds (default build/vsae_gpu)
#     TARGET        run_config npy npz h5 checkpoint (default: all)
# Inputs found while fuzzing go to build-fuzz/found/TARGET; a crash, hang, leak or sanitizer report
# leaves its input as build-fuzz/artifacts/TARGET-* and fails the script. Commit such an input,
# once fixed, under tests/fuzz/corpus/TARGET/ so that every later replay checks it. A segfault
# inside HDF5 itself (not ours to fix) is kept in build-fuzz/library-crashes/h5; commit a new one
# under tests/fuzz/library-crashes/h5/, where e2e.hdf5_crash checks the one-line error it gives.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
seconds=30
parallel=0
binary=$root/build/vsae_gpu
targets=()
while (($#)); do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --binary) binary=$(realpath "$2"); shift 2 ;;
    --parallel) parallel=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=(run_config npy npz h5 checkpoint)
build=$root/build-fuzz
say() { printf '[fuzz] %s\n' "$*"; }

# clang, its sanitizer and libFuzzer runtimes, and its OpenMP, from Debian.
source tools/debian_packages.sh
install_missing "[fuzz]" clang-14 libclang-rt-14-dev libomp-14-dev
[[ -x $binary ]] || { echo "[fuzz] error: $binary not found (build it first: tools/setup.sh)" >&2; exit 1; }

say "building the targets (preset fuzz)"
cmake --preset fuzz >/dev/null
if ! cmake --build --preset fuzz --parallel "$(nproc)" >"$build/build.log" 2>&1; then
  grep -vE '^\[[0-9]+/[0-9]+\] ' "$build/build.log" | tail -40
  echo "[fuzz] error: building the targets failed (log: $build/build.log)" >&2
  exit 1
fi
for t in "${targets[@]}"; do
  [[ -x $build/tests/fuzz/fuzz_$t ]] || { echo "[fuzz] error: no target fuzz_$t" >&2; exit 1; }
done

# Seeds, each written by the project itself: a small training run (its config.json, checkpoint,
# latents, factors and evaluation indices), dataset exports stored and compressed, the configs.
seeds=$build/seeds
rm -rf "$seeds" "$build/seed-run"
mkdir -p "$seeds"/{run_config,npy,npz,h5,checkpoint} "$build/artifacts"
OMP_NUM_THREADS=1 "$binary" --json tests/fuzz/seed_run.json --out "$build/seed-run" >/dev/null 2>&1 ||
  { echo "[fuzz] error: the seed run failed: $binary --json tests/fuzz/seed_run.json" >&2; exit 1; }
cp "$build/seed-run/checkpoint.safetensors" "$seeds/checkpoint/"
cp "$build/seed-run/config.json" "$seeds/run_config/seed-run.json"
cp configs/*.json configs/*/*.json tests/fuzz/seed_run.json "$seeds/run_config/"
cp "$build/seed-run"/*.npy "$seeds/npy/"
for compress in no yes; do
  "$binary" export-dataset --name dsprites --count 4 --compress $compress --out "$seeds/npz/dsprites-$compress.npz" 2>/dev/null
  "$binary" export-dataset --name shapes3d --count 3 --compress $compress --out "$seeds/h5/shapes3d-$compress.h5" 2>/dev/null
done
rm -f "$seeds"/npz/*.lock "$seeds"/h5/*.lock  # the exports' lock files are no seeds
# The .npy members of the exported archives, as standalone files.
for f in "$seeds"/npz/*.npz; do
  /usr/bin/python3 -m zipfile -e "$f" "$build/unzipped"
  for a in "$build"/unzipped/*.npy; do mv "$a" "$seeds/npy/$(basename "$f" .npz)-$(basename "$a")"; done
done
rm -rf "$build/unzipped"

# A crash inside HDF5 itself: a segfault there ends in H5CrashGuard's line, and an ASan report
# counts when the faulting access is HDF5's and the memory it touched is HDF5's own buffer or no
# buffer at all (a wild pointer). Anything else (our frames, our buffers) is a finding of ours.
is_library_crash() {
  grep -q "the HDF5 library crashed reading the file" <<<"$1" && return 0
  [[ $(grep -m1 -E '^ +#1 ' <<<"$1") == *libhdf5* ]] || return 1
  grep -q "is a wild pointer" <<<"$1" ||
    [[ $(sed -n '/allocated by thread/,$p' <<<"$1" | grep -m1 -E '^ +#1 ') == *libhdf5* ]]
}

# Replays every seed and regression input, then fuzzes target $1 for $seconds; returns non-zero on a
# finding. Its log: build-fuzz/fuzz-TARGET.log.
fuzz_one() {
  local t=$1 exe=$build/tests/fuzz/fuzz_$1 corpus=tests/fuzz/corpus/$1 found=$build/found/$1
  local log=$build/fuzz-$1.log
  local common=(-rss_limit_mb=2048 -timeout=20 -artifact_prefix="$build/artifacts/$t-" -print_final_stats=1)
  # HDF5 leaks inside itself on malformed files, and asks malloc for absurd sizes, whose NULL it
  # handles: fuzz_h5 checks our handles instead of leaks, and malloc may fail (see its header).
  local env=()
  [[ $t == h5 ]] && env=(ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1)
  mkdir -p "$corpus" "$found"
  if ! env "${env[@]}" "$exe" "${common[@]}" -runs=0 "$seeds/$t" "$corpus" >"$log" 2>&1; then
    tail -40 "$log"; say "$t: FAILED replaying $(ls "$seeds/$t" | wc -l) seeds and $(ls "$corpus" | wc -l) regression inputs (log: $log)"
    return 1
  fi
  say "$t: replayed $(ls "$seeds/$t" | wc -l) seeds and $(ls "$corpus" | wc -l) regression inputs"
  ((seconds > 0)) || return 0
  # HDF5 itself segfaults on some malformed files (tests/fuzz/library-crashes/h5): h5 fuzzes in
  # fork mode, which goes on past a crash, and each crash is then sorted out below.
  local mode=()
  [[ $t == h5 ]] && mode=(-fork=1 -ignore_crashes=1)
  # Fork mode exits non-zero once it has ignored a crash; its artifacts say what happened.
  if ! env "${env[@]}" "$exe" "${common[@]}" "${mode[@]}" -max_total_time="$seconds" "$found" "$seeds/$t" "$corpus" >>"$log" 2>&1 &&
     ((${#mode[@]} == 0)); then
    tail -40 "$log"; say "$t: FAILED while fuzzing (log: $log)"
    return 1
  fi
  local library=0 input report
  for input in "$build/artifacts/$t"-*; do
    [[ -e $input ]] || continue
    report=$(env "${env[@]}" "$exe" "$input" 2>&1 || true)
    if [[ $(basename "$input") == "$t"-crash-* ]] && is_library_crash "$report"; then
      mkdir -p "$build/library-crashes/$t"
      mv "$input" "$build/library-crashes/$t/"
      library=$((library + 1))
    else
      say "$t: FAILED: $input (replay: $exe $input)"
      return 1
    fi
  done
  local runs cov
  # The last statistics line is the fuzzing's (the replay's comes first); fork mode prints none,
  # only its periodic "#N: cov: ..." reports.
  if ((${#mode[@]})); then
    runs=$(grep -oE '^#[0-9]+:' "$log" | tr -d '#:' | sort -n | tail -1)
  else
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
  fi
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  local also=""
  ((library)) && also=" (and $library crashes inside HDF5, kept in build-fuzz/library-crashes/$t)"
  say "$t: fuzzed ${seconds}s: $runs executions, $cov, $(ls "$found" | wc -l) inputs kept, no finding$also"
}

# The targets' input files, and libomp's registration files that their _Exit leaves in /dev/shm.
export VSAE_FUZZ_INPUT_DIR=$(mktemp -d /dev/shm/vsae_fuzz.XXXXXX)
cleanup() {
  rm -rf "$VSAE_FUZZ_INPUT_DIR"
  for f in /dev/shm/__KMP_REGISTERED_LIB_*; do
    [[ -e $f ]] || continue
    pid=${f#/dev/shm/__KMP_REGISTERED_LIB_}
    kill -0 "${pid%%_*}" 2>/dev/null || rm -f "$f"
  done
}
trap cleanup EXIT

status=0
if ((parallel)); then
  pids=()
  for t in "${targets[@]}"; do fuzz_one "$t" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
else
  for t in "${targets[@]}"; do fuzz_one "$t" || status=1; done
fi
exit $status
