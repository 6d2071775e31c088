#!/usr/bin/env bash
# Runs tools/bench_train (vsae_gpu) and tools/bench_train_torch.py (PyTorch) on the same shapes and
# thread count and prints both tables plus one of ratios, with the device, commit and command:
# output meant to be committed under bench/results/.
#   usage: tools/bench_train.sh [BUILD_DIR] [extra bench_train / bench_train_torch.py arguments]
# THREADS (default: all cores) sets OMP_NUM_THREADS and torch.set_num_threads; PYTHON picks the
# interpreter with torch (default /usr/bin/python3, Debian's python3-torch).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift || true
threads=${THREADS:-$(nproc)}
python=${PYTHON:-/usr/bin/python3}
export OMP_NUM_THREADS=$threads

echo "# bench_train.sh: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$root" rev-parse --short=12 HEAD)$(git -C "$root" diff --quiet HEAD -- engine kernels apps tools || echo '+dirty')"
echo "# host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# command: THREADS=$threads $0 $build $*"
ours=$("$build/tools/bench_train" "$@")
theirs=$("$python" "$root/tools/bench_train_torch.py" --threads "$threads" "$@")
echo "$ours"
echo
echo "$theirs"
echo
# Ratios: PyTorch ms/step over vsae_gpu ms/step (> 1: vsae_gpu is faster), per case.
echo "# speed-up of vsae_gpu over PyTorch (PyTorch ms/step / vsae_gpu ms/step)"
awk '
  FNR == 1 { file++ }
  /^#/ || $1 == "dataset" { next }
  file == 1 { ours[$1 " " $3] = ours[$1 " " $3] " " $4 "=" $5; keys[++n] = $1 " " $3 }
  file == 2 { theirs[$1 " " $3 " " $4] = $5 }
  END {
    printf "%-9s %6s %-8s %12s %14s %16s\n", "dataset", "batch", "vsae", "vsae ms", "torch eager", "torch compile"
    for (i = 1; i <= n; i++) {
      k = keys[i]; if (seen[k]++) continue
      split(k, kb, " "); m = split(ours[k], modes, " ")
      for (j = 1; j <= m; j++) {
        split(modes[j], mv, "=")
        e = theirs[k " eager"]; c = theirs[k " compile"]
        re = (e ~ /^[0-9.]+$/) ? sprintf("%.2fx", e / mv[2]) : "n/a"
        rc = (c ~ /^[0-9.]+$/) ? sprintf("%.2fx", c / mv[2]) : "n/a"
        printf "%-9s %6s %-8s %12s %14s %16s\n", kb[1], kb[2], mv[1], mv[2], re, rc
      }
    }
  }' <(echo "$ours") <(echo "$theirs")
