#!/usr/bin/env bash
# Runs tools/bench_train (vsae_gpu) and tools/bench_train_torch.py (PyTorch eager, torch.compile
# and, on CUDA, the whole step as one CUDA graph) on the same shapes and thread count, and prints
# both tables, the ratios and, on the CPU, each case's fraction of the sgemm peak measured in the
# same run, with the device, commit and command: output meant to be committed under bench/results/.
#   usage: tools/bench_train.sh [BUILD_DIR] [extra bench_train / bench_train_torch.py arguments]
# THREADS (default: all cores) sets OMP_NUM_THREADS and torch.set_num_threads. PYTHON picks the
# interpreter with torch: default .venv-bench/bin/python (PyTorch 2.x, tools/bench_peer_setup.sh
# makes it), else /usr/bin/python3 (Debian's torch 1.13, which has no torch.compile).
# PROFILE=1 adds bench_train's per-op breakdown (its 'profile' rows) to its table.
# Then the peak resident memory of one training process per case and engine (tools/peak_rss.py:
# the same measure for both; a few steps after the warm-up); MEMORY=0 leaves it out. A case that
# fails there reads n/a, and a '#' line under its row names the file that holds its stderr (in
# MEMORY_LOGS, default a new folder under /tmp).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
shift || true
threads=${THREADS:-$(nproc)}
python=${PYTHON:-}
if [[ -z $python ]]; then
  python=/usr/bin/python3
  [[ -x $root/.venv-bench/bin/python ]] && python=$root/.venv-bench/bin/python
fi
export OMP_NUM_THREADS=$threads

echo "# bench_train.sh: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$root" rev-parse --short=12 HEAD)$(git -C "$root" diff --quiet HEAD -- engine kernels apps tools || echo '+dirty')"
echo "# host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
# The vector extensions decide which kernels oneDNN, OpenBLAS and inductor pick.
echo "# vector extensions: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(sse4_2|avx|avx2|fma|f16c|avx512[a-z0-9_]*|amx[a-z0-9_]*)$' | tr '\n' ' ')"
echo "# command: THREADS=$threads PYTHON=$python $0 $build $*"
extra=()
[[ " $* " == *" --device cuda "* ]] || extra+=(--peak)
[[ ${PROFILE:-0} == 1 ]] && extra+=(--profile)
ours=$("$build/tools/bench_train" "${extra[@]}" "$@")
theirs=$("$python" "$root/tools/bench_train_torch.py" --threads "$threads" "$@")
echo "$ours"
echo
echo "$theirs"
echo
# Ratios: PyTorch ms/step over vsae_gpu ms/step (> 1: vsae_gpu is faster), and vsae_gpu's GFLOP/s
# as a share of the sgemm peak.
echo "# speed-up of vsae_gpu over PyTorch (PyTorch ms/step / vsae_gpu ms/step) and its share of the sgemm peak"
awk '
  FNR == 1 { file++ }
  file == 1 && $1 == "peak" { peak = $4 }
  /^#/ || $1 == "dataset" || $1 == "peak" || $1 == "profile" { next }
  file == 1 { ours[$1 " " $3] = ours[$1 " " $3] " " $4 "=" $5 "=" $7; keys[++n] = $1 " " $3 }
  file == 2 { theirs[$1 " " $3 " " $4] = $5; if ($4 == "graph") graphs = 1 }
  END {
    # "vs graph": PyTorch with its whole step captured as a CUDA graph, where it ran (CUDA only).
    printf "%-9s %6s %-6s %10s %12s %14s%s %9s %8s\n", "dataset", "batch", "vsae", "vsae ms", "vs eager", "vs compile",
      graphs ? sprintf(" %12s", "vs graph") : "", "GFLOP/s", "of peak"
    for (i = 1; i <= n; i++) {
      k = keys[i]; if (seen[k]++) continue
      split(k, kb, " "); m = split(ours[k], modes, " ")
      for (j = 1; j <= m; j++) {
        split(modes[j], mv, "=")
        e = theirs[k " eager"]; c = theirs[k " compile"]; g = theirs[k " graph"]
        re = (e ~ /^[0-9.]+$/) ? sprintf("%.2fx", e / mv[2]) : "n/a"
        rc = (c ~ /^[0-9.]+$/) ? sprintf("%.2fx", c / mv[2]) : "n/a"
        rg = (g ~ /^[0-9.]+$/) ? sprintf("%.2fx", g / mv[2]) : "n/a"
        pk = (peak > 0) ? sprintf("%.1f%%", 100 * mv[3] / peak) : "n/a"
        printf "%-9s %6s %-6s %10s %12s %14s%s %9s %8s\n", kb[1], kb[2], mv[1], mv[2], re, rc,
          graphs ? sprintf(" %12s", rg) : "", mv[3], pk
      }
    }
  }' <(echo "$ours") <(echo "$theirs")

[[ ${MEMORY:-1} == 0 ]] && exit 0
# One process per case and engine, so each figure is that case's alone.
echo
echo "# peak resident (host) memory of one training process per case (MiB; tools/peak_rss.py, 1 warm-up + 3 steps)"
printf "%-9s %6s %10s %12s %14s %12s\n" dataset batch vsae_gpu "torch eager" "torch compile" "vsae / eager"
short=(--warmup 1 --steps 3 --repeats 1)
logs=${MEMORY_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/bench_train_memory.XXXXXX")}
mkdir -p "$logs"
# peak_mib LOG CMD...: CMD's peak MiB, or n/a with its stderr (and stdout) left in LOG.
peak_mib() {
  local log=$1
  shift
  if "$root/tools/peak_rss.py" "$@" 2>"$log"; then rm -f "$log"; else echo n/a; fi
}
# The extra arguments without their --batch and --dataset (both tools append repeated ones), so
# that each process runs its one case.
rest=()
while (($#)); do
  case $1 in
    --batch|--dataset) shift 2 || shift ;;
    --batch=*|--dataset=*) shift ;;
    *) rest+=("$1"); shift ;;
  esac
done
awk '/^#/ || $1 == "dataset" || $1 == "peak" || $1 == "profile" { next } { print $1, $3 }' <<<"$ours" | sort -u -k1,1 -k2n |
  while read -r dataset batch; do
    case_args=(--dataset "$dataset" --batch "$batch" "${short[@]}")
    log=$logs/$dataset-$batch
    ours_mib=$(peak_mib "$log-vsae_gpu.log" "$build/tools/bench_train" "${case_args[@]}" "${rest[@]}")
    torch_mib=()
    for mode in eager compile; do
      torch_mib+=("$(peak_mib "$log-torch_$mode.log" "$python" "$root/tools/bench_train_torch.py" --threads "$threads" \
                     --mode "$mode" "${case_args[@]}" "${rest[@]}")")
    done
    ratio=n/a
    [[ $ours_mib != n/a && ${torch_mib[0]} != n/a ]] && ratio=$(awk -v a="$ours_mib" -v b="${torch_mib[0]}" 'BEGIN { printf "%.2fx", a / b }')
    printf "%-9s %6s %10s %12s %14s %12s\n" "$dataset" "$batch" "$ours_mib" "${torch_mib[0]}" "${torch_mib[1]}" "$ratio"
    for f in "$log"-vsae_gpu.log "$log"-torch_eager.log "$log"-torch_compile.log; do
      if [[ -f $f ]]; then echo "# n/a above: $(tail -n 1 "$f") (stderr in $f)"; fi
    done
  done
rmdir "$logs" 2>/dev/null || true  # every case measured: no logs to keep
