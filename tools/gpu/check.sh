#!/usr/bin/env bash
# The whole CUDA side of vsae_gpu checked in one short call on a GPU machine: device facts, every
# CUDA test case (VSAE_EXPECT_CUDA=1, so a skip is a failure), the CUDA end-to-end tests,
# compute-sanitizer on a few kernel cases, the kernel and training-step benchmarks against PyTorch,
# and one full-dSprites epoch with the estimated time of configs/paper/grid.json.
#
#   usage: OUT=DIR build-gpu/check.sh      (the kit that tools/gpu/prepare.sh made; see README.md)
# Writes at most 8 files under $OUT: summary.md and one raw log per step. Each step has its own
# time limit inside an overall deadline (VSAE_CHECK_BUDGET_S, default 450 s), so one hang cannot
# eat the call. Without a GPU it runs what it can, names each GPU step it skipped, and exits 0.
# Exit status: 1 when a step FAILED, else 0.
set -uo pipefail

start=$(date +%s)
deadline=$((start + ${VSAE_CHECK_BUDGET_S:-450}))
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -f $here/manifest.txt ]]; then
  kit=$here
else  # run as tools/gpu/check.sh from a checkout: the kit is build-gpu/ beside it
  kit=$(cd "${VSAE_KIT_DIR:-$here/../../build-gpu}" 2>/dev/null && pwd) || kit=""
fi
if [[ -z $kit || ! -f $kit/manifest.txt ]]; then
  echo "check.sh: no kit found (run tools/gpu/prepare.sh first, or set VSAE_KIT_DIR)" >&2
  exit 1
fi
out=${OUT:-}
if [[ -z $out ]]; then
  out=$(mktemp -d /tmp/vsae-gpu-check.XXXXXX)
  echo "check.sh: OUT is not set; writing to $out"
fi
mkdir -p "$out"
work=$(mktemp -d /tmp/vsae-gpu-work.XXXXXX)
ncpu=$(nproc)
python=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=passive

log_setup=$out/0-setup.log
log_facts=$out/1-facts.txt
log_tests=$out/2-tests.log
log_e2e=$out/3-e2e.log
log_san=$out/4-sanitizer.log
log_bench=$out/5-bench.txt
log_epoch=$out/6-epoch.log
summary=$out/summary.md
: >"$log_setup"

declare -A status=() detail=()
notes=()
note() { notes+=("$*"); echo "check.sh: $*" | tee -a "$log_setup"; }
elapsed() { echo $(($(date +%s) - start)); }
# budget WANT: seconds for the next step, capped by what is left before the deadline (0: none).
budget() {
  local left=$((deadline - $(date +%s) - 5))
  ((left < 10)) && { echo 0; return; }
  ((left < $1)) && { echo "$left"; return; }
  echo "$1"
}
mark() {  # mark STEP STATUS DETAIL
  status[$1]=$2
  detail[$1]=$3
  printf 'check.sh: [%4ss] step %s: %s: %s\n' "$(elapsed)" "$1" "$2" "$3"
}
run_limited() {  # run_limited SECONDS CMD...: the command's status; 124 when it hit the limit
  timeout -k 5 "$1" "${@:2}"
}

# ---- setup: libraries, GPU presence, the binaries start ----------------------------------------
{
  echo "# kit $kit"
  cat "$kit/manifest.txt"
  echo "# host $(uname -n), $(nproc) cores, $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), glibc $(ldd --version 2>/dev/null | head -1 | awk '{print $NF}')"
} >>"$log_setup"
# A transfer may drop the executable bits.
chmod u+x "$kit/vsae_gpu" "$kit"/tests/* "$kit"/tools/* 2>/dev/null
# unpack ARCHIVE DIR: tar with xz where xz exists, else Python's tarfile (a bare image may lack xz).
unpack() {
  command -v xz >/dev/null && tar -C "$2" -xJf "$1" && return 0
  "$python" -c '
import sys, tarfile
kw = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
tarfile.open(sys.argv[1]).extractall(sys.argv[2], **kw)' "$1" "$2"
}
if [[ ! -d $kit/lib || $kit/lib.tar.xz -nt $kit/lib ]]; then
  rm -rf "${kit:?}/lib"
  unpack "$kit/lib.tar.xz" "$kit" || { echo "check.sh: cannot unpack $kit/lib.tar.xz" >&2; exit 1; }
  touch "$kit/lib"
fi

# The CUDA libraries come from the machine: the loader's own paths, the toolkit, the driver's
# folder, PyTorch's nvidia/* pip packages (cuDNN may exist only there), the system folders last.
# The system folders come after PyTorch's: once on LD_LIBRARY_PATH, a folder's libraries are also
# PyTorch's, and an older system cuDNN there stops PyTorch (seen on an H200 machine: cuDNN 9.14 in
# /usr/lib/x86_64-linux-gnu, PyTorch built against 9.19).
candidate_dirs=(/usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/nvidia/lib64
                /usr/local/nvidia/lib)
while IFS= read -r d; do candidate_dirs+=("$d"); done < <(
  timeout 60 "$python" - 2>/dev/null <<'PY'
import glob, os, site, sys
roots = set()
try:
    import nvidia
    roots.update(nvidia.__path__)
except Exception:
    pass
for sp in site.getsitepackages() + [site.getusersitepackages()]:
    if os.path.isdir(os.path.join(sp, "nvidia")):
        roots.add(os.path.join(sp, "nvidia"))
for r in sorted(roots):
    for d in sorted(glob.glob(os.path.join(r, "*", "lib"))):
        print(d)
PY
)
candidate_dirs+=(/usr/lib/x86_64-linux-gnu /usr/lib64)
ld_dirs=()
lib_in_loader() { ldconfig -p 2>/dev/null | grep -q " $1 " && return 0
                  local d; for d in ${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }} "${ld_dirs[@]}"; do [[ -e $d/$1 ]] && return 0; done; return 1; }
missing_cuda=()
for lib in libcuda.so.1 $(cat "$kit/needed_cuda_libs.txt"); do
  if lib_in_loader "$lib"; then
    echo "cuda lib: $lib already reachable (the loader's cache, LD_LIBRARY_PATH or a folder added above)" >>"$log_setup"
    continue
  fi
  found=""
  for d in "${candidate_dirs[@]}"; do
    if [[ -e $d/$lib ]]; then found=$d; break; fi
  done
  if [[ -n $found ]]; then
    ld_dirs+=("$found")
    echo "cuda lib: $lib from $found (added to LD_LIBRARY_PATH)" >>"$log_setup"
  else
    missing_cuda+=("$lib")
    echo "cuda lib: $lib NOT FOUND (looked in the loader's paths and ${candidate_dirs[*]})" >>"$log_setup"
  fi
done
if ((${#ld_dirs[@]})); then
  joined=$(printf '%s:' "${ld_dirs[@]}")
  export LD_LIBRARY_PATH=${joined%:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
((${#missing_cuda[@]})) && note "CUDA libraries not found on this machine: ${missing_cuda[*]}"

has_gpu=0
gpu_name="none"
if command -v nvidia-smi >/dev/null && timeout 30 nvidia-smi -L >"$work/smi-L.txt" 2>&1 && grep -q '^GPU' "$work/smi-L.txt"; then
  has_gpu=1
  gpu_name=$(head -1 "$work/smi-L.txt")
fi
echo "gpu: $gpu_name" >>"$log_setup"
expect=()
((has_gpu)) && expect=(env VSAE_EXPECT_CUDA=1)

bin=$kit
source_build=0
ldd_problems() {  # prints the binaries' unresolved libraries
  local b
  for b in "$1"/vsae_gpu "$1"/tests/test_* "$1"/tools/bench_*; do
    [[ -x $b ]] && ldd "$b" 2>&1 | grep -E "not found|version .* not found" | sed "s|^|$(basename "$b"): |"
  done
}
starts() { "$1/vsae_gpu" --version >"$work/version.txt" 2>&1; }
problems=$(ldd_problems "$bin")
if [[ -n $problems ]] && grep -qE "libstdc\+\+|libgcc_s|GLIBCXX|CXXABI|GCC_" <<<"$problems"; then
  note "the machine's libstdc++/libgcc_s is missing or too old: using the kit's (lib/fallback)"
  export LD_LIBRARY_PATH=$kit/lib/fallback${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  problems=$(ldd_problems "$bin")
fi
{ echo "# ldd of the carried binaries (LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-})"; ldd "$bin/vsae_gpu"; } >>"$log_setup" 2>&1

# ---- fallback: build from source on this machine -------------------------------------------------
source_root=""
for r in "${VSAE_SOURCE_ROOT:-}" "$PWD" "$kit/.."; do
  [[ -n $r && -f $r/CMakeLists.txt ]] && grep -q "project(vsae_gpu" "$r/CMakeLists.txt" && { source_root=$(cd "$r" && pwd); break; }
done
build_from_source() {
  local b limit cudnn_lib="" cudnn_inc="" d
  limit=$(budget "${VSAE_CHECK_BUILD_S:-330}")
  ((limit > 0)) || return 1
  [[ -n $source_root ]] || { note "no source tree here (set VSAE_SOURCE_ROOT) for the fallback build"; return 1; }
  command -v cmake >/dev/null && command -v ninja >/dev/null || { note "cmake or ninja missing: no fallback build"; return 1; }
  [[ -d $kit/dev ]] || unpack "$kit/dev.tar.xz" "$kit" || { note "cannot unpack dev.tar.xz"; return 1; }
  for d in "${ld_dirs[@]}" "${candidate_dirs[@]}"; do
    if [[ -z $cudnn_lib && -e $d/libcudnn.so.9 ]]; then cudnn_lib=$d/libcudnn.so.9; fi
  done
  for d in "$(dirname "${cudnn_lib:-/x/x}")/../include" /usr/include /usr/local/cuda/include /usr/include/x86_64-linux-gnu; do
    [[ -z $cudnn_inc && -f $d/cudnn.h ]] && cudnn_inc=$(cd "$d" && pwd)
  done
  b=$work/build-src
  note "building from source in $b (sources $source_root, headers from the kit's dev/, cuDNN ${cudnn_lib:-?} ${cudnn_inc:-?})"
  export PATH=$PATH:/usr/local/cuda/bin
  if ! run_limited "$limit" bash -c "cmake -S '$source_root' -B '$b' -G Ninja -DCMAKE_BUILD_TYPE=Release -DVSAE_CUDA=ON \
      -DVSAE_CUDA_ARCHS=90 -DCMAKE_PREFIX_PATH='$kit/dev' -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
      -DVSAE_OPENBLAS='$kit/dev/lib/libopenblas.so' -DCBLAS_INCLUDE_DIR='$kit/dev/include' \
      -DHDF5_ROOT='$kit/dev' -DHDF5_NO_FIND_PACKAGE_CONFIG_FILE=ON -DZLIB_ROOT='$kit/dev' \
      ${cudnn_lib:+-DCUDNN_LIBRARY='$cudnn_lib'} ${cudnn_inc:+-DCUDNN_INCLUDE_DIR='$cudnn_inc'} \
      -DCMAKE_EXE_LINKER_FLAGS='-Wl,--disable-new-dtags -Wl,-rpath,$kit/lib' && cmake --build '$b' --parallel $ncpu" \
      >>"$log_setup" 2>&1; then
    note "the fallback build failed (see 0-setup.log)"
    return 1
  fi
  bin=$b
  source_build=1
}
need_build=0
non_cuda_problems=$(grep -vE "lib(cuda|cublas|cublasLt|cudnn)[^ ]*\.so" <<<"$problems" || true)
if [[ -n ${VSAE_CHECK_FORCE_SOURCE_BUILD:-} ]]; then
  need_build=1
  note "VSAE_CHECK_FORCE_SOURCE_BUILD is set: building from source"
elif [[ -n $non_cuda_problems ]]; then
  need_build=1
  note "the carried binaries have unresolved libraries: $(tr '\n' ' ' <<<"$problems")"
elif [[ -n $problems ]]; then
  note "only CUDA libraries are missing ($(tr '\n' ' ' <<<"$problems")); a source build cannot supply them"
elif ! starts "$bin"; then
  need_build=1
  note "the carried vsae_gpu does not start: $(head -3 "$work/version.txt" | tr '\n' ' ')"
fi
if ((need_build)); then
  if build_from_source && starts "$bin"; then
    note "using binaries built from source on this machine ($bin)"
    { echo "# ldd of the source-built vsae_gpu"; ldd "$bin/vsae_gpu"; } >>"$log_setup" 2>&1
  else
    note "the fallback build gave no working binaries"
  fi
fi
binaries_ok=0
starts "$bin" && binaries_ok=1

# bench_kernels finds tools/bench_topk_torch.py under the source path baked in at build time.
baked=$(awk '/^source_dir / {print $2}' "$kit/manifest.txt")
if ((source_build == 0)) && [[ -n $baked && ! -e $baked ]]; then
  if mkdir -p "$(dirname "$baked")" 2>/dev/null && ln -s "$kit/src" "$baked" 2>/dev/null; then
    note "linked $baked -> $kit/src (the source path baked into bench_kernels)"
  fi
fi

# ---- 1. device facts -----------------------------------------------------------------------------
sanitizer_works=0
{
  echo "# nvidia-smi"
  if command -v nvidia-smi >/dev/null; then
    timeout 30 nvidia-smi --query-gpu=name,driver_version,compute_mode,memory.total,pci.bus_id,clocks.max.sm,clocks.max.mem --format=csv 2>&1
    timeout 30 nvidia-smi 2>&1 | head -20
  else
    echo "nvidia-smi: not on PATH"
  fi
  echo "# nvcc: $(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || echo none) $( (nvcc --version || /usr/local/cuda/bin/nvcc --version) 2>/dev/null | tail -1)"
  echo "# vsae_gpu: $(cat "$work/version.txt" 2>/dev/null)"
  echo "# library versions as vsae_gpu loads them (a tiny CPU run's results.json)"
  cat >"$work/smoke.json" <<EOF
{"name": "smoke", "seed": 1, "device": "cpu", "dataset": {"name": "dsprites", "subset": 64},
 "model": {"sae_width": 32}, "sparsity": {"method": "topk", "schedule": {"start": 8, "end": 8, "epochs": 1}},
 "training": {"epochs": 1, "extra_epochs": 0, "batch_size": 32}, "evaluation": {"samples": 64},
 "output": {"dir": "$work/smoke", "checkpoint_every": 0}}
EOF
  if ((binaries_ok)) && OMP_NUM_THREADS=2 timeout 120 "$bin/vsae_gpu" --json "$work/smoke.json" >"$work/smoke.log" 2>&1; then
    "$python" -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))['versions']))" "$work/smoke/results.json" 2>&1
    "$python" -c "import json,sys; v=json.load(open(sys.argv[1]))['versions']; print('CUDA runtime %s, driver %s, cuDNN %s, cuBLAS %s' % (v.get('cuda_runtime'), v.get('cuda_driver'), v.get('cudnn'), v.get('cublas')))" \
      "$work/smoke/results.json" >"$work/versions.txt" 2>/dev/null
  else
    echo "the CPU smoke run failed:"; tail -5 "$work/smoke.log" 2>/dev/null
  fi
  echo "# PyTorch"
  timeout 90 "$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'available', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" 2>&1 | tail -2
  echo "# compute-sanitizer"
  sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer \
    /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1 || true)
  if [[ -n $sanitizer ]]; then
    echo "$sanitizer: $("$sanitizer" --version 2>&1 | tail -1)"
  else
    echo "compute-sanitizer: not found"
  fi
} >"$log_facts" 2>&1
if ((has_gpu)) && ((binaries_ok)) && [[ -n $sanitizer ]]; then
  run_limited 90 "${expect[@]}" "$sanitizer" --tool memcheck --error-exitcode 99 "$bin/tests/test_engine" \
    --gtest_filter=Core.CudaUploadDownloadRoundTrip >"$work/san-probe.log" 2>&1
  rc=$?
  if ((rc == 0)) && grep -q "ERROR SUMMARY: 0 errors" "$work/san-probe.log"; then
    sanitizer_works=1
    echo "compute-sanitizer works here (memcheck on Core.CudaUploadDownloadRoundTrip: 0 errors)" >>"$log_facts"
  else
    echo "compute-sanitizer does not work here (exit $rc):" >>"$log_facts"
    tail -8 "$work/san-probe.log" >>"$log_facts"
  fi
fi
cuda_line=$(cat "$work/versions.txt" 2>/dev/null)
if ((has_gpu)); then
  smi=$(timeout 30 nvidia-smi --query-gpu=name,driver_version,compute_mode --format=csv,noheader 2>/dev/null | head -1)
  if ((binaries_ok)); then
    mark 1 PASS "$smi; $cuda_line; compute-sanitizer $( ((sanitizer_works)) && echo works || echo 'does not work')"
  else
    mark 1 FAIL "$smi; the binaries do not start"
  fi
else
  if ((binaries_ok)); then
    mark 1 "SKIPPED (no GPU)" "nvidia-smi found no GPU; the binaries start and a CPU smoke run gave: ${cuda_line:-no versions}"
  else
    mark 1 FAIL "no GPU, and the binaries do not start"
  fi
fi

# ---- 2. every CUDA test case, one process per test binary --------------------------------------
step2() {
  local limit total_expected=0 total_passed=0 total_skipped=0 failed=0 name count filter rc pids=() names=()
  limit=$(budget 200)
  ((limit > 0)) || { mark 2 "SKIPPED (out of time)" ""; return; }
  ((binaries_ok)) || { mark 2 FAIL "no working binaries"; return; }
  : >"$log_tests"
  local threads=$(( ncpu / 4 > 1 ? ncpu / 4 : 1 ))
  while IFS=$'\t' read -r name count filter; do
    [[ -n $name ]] || continue
    total_expected=$((total_expected + count))
    run_limited "$limit" env OMP_NUM_THREADS="$threads" "${expect[@]}" "$bin/tests/$name" --gtest_filter="$filter" \
      --gtest_brief=1 >"$work/tests-$name.log" 2>&1 &
    pids+=($!)
    names+=("$name:$count")
  done <"$kit/cuda_cases.txt"
  local i passed skipped fails summary_line=""
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}"
    rc=$?
    name=${names[$i]%%:*}
    count=${names[$i]##*:}
    passed=$(grep -oE '^\[  PASSED  \] [0-9]+' "$work/tests-$name.log" | grep -oE '[0-9]+$' | tail -1)
    skipped=$(grep -oE '^\[  SKIPPED \] [0-9]+ test' "$work/tests-$name.log" | grep -oE '[0-9]+' | tail -1)
    fails=$(grep -c '^\[  FAILED  \] ' "$work/tests-$name.log")  # --gtest_brief: one line per failed case
    passed=${passed:-0}; skipped=${skipped:-0}; fails=${fails:-0}
    total_passed=$((total_passed + passed))
    total_skipped=$((total_skipped + skipped))
    { echo "===== $name: exit $rc, $count CUDA cases expected: $passed passed, $skipped skipped, $fails failed"
      ((rc == 124)) && echo "(stopped at the step's limit of $limit s)"
      tail -c 2000000 "$work/tests-$name.log"; } >>"$log_tests"
    summary_line+="$name $passed/$count; "
    if ((has_gpu)); then
      ((rc != 0 || passed != count)) && failed=1
    else
      ((rc != 0 || skipped != count)) && failed=1
    fi
  done
  if ((has_gpu)); then
    if ((failed)); then mark 2 FAIL "passed $total_passed of $total_expected CUDA cases: $summary_line"
    else mark 2 PASS "all $total_expected CUDA cases passed (VSAE_EXPECT_CUDA=1): $summary_line"; fi
  else
    if ((failed)); then mark 2 FAIL "without a GPU every CUDA case should skip; got $total_skipped of $total_expected skipped"
    else mark 2 "SKIPPED (no GPU)" "all $total_expected CUDA cases listed and skipped in their $(wc -l <"$kit/cuda_cases.txt") binaries (they start)"; fi
  fi
}
step2

# ---- 3. the CUDA end-to-end tests -----------------------------------------------------------------
step3() {
  local limit t rc pids=() tests=(cuda_graph cuda_cpu cuda_resume) results="" failed=0 skipped=0 i
  limit=$(budget 240)
  ((limit > 0)) || { mark 3 "SKIPPED (out of time)" ""; return; }
  ((binaries_ok)) || { mark 3 FAIL "no working binaries"; return; }
  : >"$log_e2e"
  for t in "${tests[@]}"; do
    run_limited "$limit" "${expect[@]}" "$python" "$kit/src/tests/e2e/test_$t.py" "$bin/vsae_gpu" >"$work/e2e-$t.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!tests[@]}"; do
    wait "${pids[$i]}"
    rc=$?
    t=${tests[$i]}
    { echo "===== e2e.$t: exit $rc"; cat "$work/e2e-$t.log"; } >>"$log_e2e"
    case $rc in
      0) results+="$t PASS; " ;;
      77) results+="$t skipped; "; skipped=$((skipped + 1)) ;;
      *) results+="$t FAIL (exit $rc); "; failed=1 ;;
    esac
  done
  if ((failed)); then mark 3 FAIL "$results"
  elif ((skipped == ${#tests[@]})); then
    if ((has_gpu)); then mark 3 FAIL "$results (a GPU is here: nothing may skip)"; else mark 3 "SKIPPED (no GPU)" "$results"; fi
  else mark 3 PASS "$results"; fi
}
step3

# ---- 4. compute-sanitizer on a few kernel cases ----------------------------------------------------
memcheck_filter='Table/TopkBackends.CudaMatchesCpu/B3_W500_k*:Table/TopkBackends.CudaMatchesCpu/B64_W512_k50:Topk.Cuda*:Table/FiringBackends.CudaMatchesCpu/B64_W500:Table/L1Backends.CudaMatchesCpu/B64_W500:SparsityController.CudaMatchesCpu:Table/SparseBackwardBackends.CudaMatchesCpu/B64_W500:Table/RevivalBackends.*/B64_W500:Cases/MigBackends.CudaMatchesCpu/disentangled:Cases/MigBackends.CudaMatchesCpu/sae_codes'
racecheck_filter='Table/TopkBackends.CudaMatchesCpu/B64_W512_k50:Table/TopkBackends.CudaMatchesCpu/B3_W500_k250:Table/FiringBackends.CudaMatchesCpu/B64_W500:Table/L1Backends.CudaMatchesCpu/B64_W500:Table/SparseBackwardBackends.CudaMatchesCpu/B64_W500:Table/RevivalBackends.*/B64_W500:Cases/MigBackends.CudaMatchesCpu/disentangled'
step4() {
  local tool filter limit rc errors cases results="" failed=0
  : >"$log_san"
  for tool in memcheck racecheck; do
    filter=$memcheck_filter
    [[ $tool == racecheck ]] && filter=$racecheck_filter
    cases=$("$bin/tests/test_kernels" --gtest_list_tests --gtest_filter="$filter" 2>/dev/null | grep -c '^  ')
    echo "===== $tool on test_kernels, $cases cases: $filter" >>"$log_san"
    if ((!has_gpu)); then results+="$tool: $cases cases selected; "; continue; fi
    if ((!sanitizer_works)); then results+="$tool not run; "; continue; fi
    limit=$(budget 75)
    ((limit > 0)) || { results+="$tool out of time; "; continue; }
    run_limited "$limit" "${expect[@]}" "$sanitizer" --tool "$tool" --error-exitcode 99 "$bin/tests/test_kernels" \
      --gtest_filter="$filter" --gtest_brief=1 >"$work/san-$tool.log" 2>&1
    rc=$?
    # memcheck ends with "ERROR SUMMARY: N errors", racecheck with "RACECHECK SUMMARY: N hazards displayed"
    errors=$(grep -oE '(ERROR|RACECHECK) SUMMARY: [0-9]+' "$work/san-$tool.log" | grep -oE '[0-9]+$' | tail -1)
    { echo "exit $rc"; tail -c 200000 "$work/san-$tool.log"; } >>"$log_san"
    if ((rc == 0)) && [[ ${errors:-x} == 0 ]]; then results+="$tool: $cases cases, 0 errors; "
    else results+="$tool: exit $rc, ${errors:-?} errors; "; failed=1; fi
  done
  if ((!has_gpu)); then mark 4 "SKIPPED (no GPU)" "$results"
  elif ((!sanitizer_works)); then mark 4 "SKIPPED (compute-sanitizer does not work here)" "see 1-facts.txt"
  elif ((failed)); then mark 4 FAIL "$results"
  else mark 4 PASS "$results"; fi
}
if ((binaries_ok)); then step4; else mark 4 FAIL "no working binaries"; fi

# ---- 6. one full-dSprites epoch (before the benchmarks: the grid estimate matters more) ------------
epoch_ips="" epoch_train_s="" epoch_wall_s="" epoch_total_s="" epoch_eval_s=""
step6() {
  local limit t0 rc
  limit=$(budget 150)
  ((has_gpu)) || { mark 6 "SKIPPED (no GPU)" "config $kit/src/tools/gpu/dsprites_epoch.json not run"; echo "no GPU: not run" >"$log_epoch"; return; }
  ((limit > 0)) || { mark 6 "SKIPPED (out of time)" ""; return; }
  ((binaries_ok)) || { mark 6 FAIL "no working binaries"; return; }
  t0=$("$python" -c 'import time; print(time.time())')
  run_limited "$limit" "$bin/vsae_gpu" --json "$kit/src/tools/gpu/dsprites_epoch.json" --out "$work/epoch" --device cuda \
    >"$log_epoch" 2>&1
  rc=$?
  epoch_total_s=$("$python" -c "import time; print(round(time.time() - $t0, 1))")
  [[ -f $work/epoch/metrics.jsonl ]] && { echo "# metrics.jsonl"; cat "$work/epoch/metrics.jsonl"; } >>"$log_epoch"
  if ((rc != 0)) || [[ ! -f $work/epoch/metrics.jsonl ]]; then mark 6 FAIL "exit $rc (see 6-epoch.log)"; return; fi
  read -r epoch_ips epoch_train_s epoch_wall_s < <("$python" -c "
import json,sys; m=json.loads(open(sys.argv[1]).readline()); print(m['images_per_s'], m['train_s'], m['wall_s'])" \
    "$work/epoch/metrics.jsonl")
  epoch_eval_s=$("$python" -c "print(round($epoch_wall_s - $epoch_train_s, 2))")
  mark 6 PASS "737,280 images in ${epoch_train_s} s of training: ${epoch_ips} images/s; evaluation etc. ${epoch_eval_s} s; whole process ${epoch_total_s} s"
}
step6

# ---- 5. benchmarks ----------------------------------------------------------------------------------
step5() {
  local limit rc results="" failed=0
  : >"$log_bench"
  if ((!has_gpu)); then
    limit=$(budget 60)
    if ((limit > 0)) && ((binaries_ok)); then
      echo "===== no GPU: bench_train on the CPU, one small case (the binary starts and runs)" >>"$log_bench"
      run_limited "$limit" env OMP_NUM_THREADS=2 "$bin/tools/bench_train" --device cpu --steps 2 --repeats 1 --warmup 1 \
        --batch 16 --dataset dsprites >>"$log_bench" 2>&1 && results+="bench_train CPU smoke ran; " || results+="bench_train CPU smoke failed; "
    fi
    mark 5 "SKIPPED (no GPU)" "${results}bench_kernels and the PyTorch comparison not run"
    return
  fi
  ((binaries_ok)) || { mark 5 FAIL "no working binaries"; return; }
  limit=$(budget 90)
  if ((limit > 0)); then
    echo "===== tools/bench_kernels --python $python --reps 30" >>"$log_bench"
    run_limited "$limit" "$bin/tools/bench_kernels" --python "$python" --reps 30 >>"$log_bench" 2>&1
    rc=$?
    ((rc == 0)) && results+="bench_kernels ran; " || { results+="bench_kernels exit $rc; "; failed=1; }
  else
    results+="bench_kernels out of time; "
  fi
  limit=$(budget 60)
  if ((limit > 0)); then
    echo "===== tools/bench_train --device cuda (alone, both datasets, eager and graph)" >>"$log_bench"
    run_limited "$limit" "$bin/tools/bench_train" --device cuda --steps 50 --repeats 3 >"$work/bench_train.txt" 2>&1
    rc=$?
    cat "$work/bench_train.txt" >>"$log_bench"
    ((rc == 0)) && results+="bench_train ran; " || { results+="bench_train exit $rc; "; failed=1; }
  fi
  limit=$(budget 200)
  if ((limit > 0)); then
    echo "===== THREADS=$ncpu PYTHON=$python tools/bench_train.sh (vsae_gpu against PyTorch eager, torch.compile and its whole step as a CUDA graph)" >>"$log_bench"
    # --device cuda for both sides: "auto" would fall back to a long CPU benchmark if CUDA broke.
    # MEMORY=0: the host-memory table (twelve more process starts) belongs to the CPU runs.
    run_limited "$limit" env THREADS="$ncpu" PYTHON="$python" MEMORY=0 bash "$kit/src/tools/bench_train.sh" "$bin" --device cuda \
      --steps 50 --repeats 3 >"$work/bench_train_sh.txt" 2>"$work/bench_train_sh.err"
    rc=$?
    cat "$work/bench_train_sh.txt" >>"$log_bench"
    # stderr (progress lines, and git's complaint that the kit is no checkout) only when it failed
    ((rc == 0)) || { echo "----- stderr (exit $rc)"; tail -40 "$work/bench_train_sh.err"; } >>"$log_bench"
    if ((rc == 0)); then results+="bench_train.sh ran; "
    else
      results+="bench_train.sh exit $rc; "
      limit=$(budget 60)
      if ((limit > 0)); then  # at least PyTorch eager beside ours
        echo "===== fallback: bench_train_torch.py --no-compile" >>"$log_bench"
        run_limited "$limit" "$python" "$kit/src/tools/bench_train_torch.py" --device cuda --no-compile --threads "$ncpu" --steps 50 \
          --repeats 3 >>"$log_bench" 2>&1 && results+="PyTorch eager only; "
      fi
    fi
  else
    results+="the PyTorch comparison out of time; "
  fi
  if ((failed)); then mark 5 FAIL "$results"; else mark 5 PASS "$results"; fi
}
step5

# ---- the grid estimate --------------------------------------------------------------------------------
# Member counts and epochs come from the paper's sweeps themselves: vsae_gpu --plan expands each one
# into its members' config.json under $work/plan (it validates and writes, runs nothing).
grid=""
if [[ -n $epoch_ips ]]; then
  paper="" plans=()
  for d in ${source_root:+"$source_root/configs/paper"} "$kit/src/configs/paper"; do
    [[ -f $d/grid.json ]] && { paper=$d; break; }
  done
  [[ -n $paper ]] || note "no configs/paper here (set VSAE_SOURCE_ROOT): the grid estimate has no member counts"
  for f in ${paper:+"$paper/grid.json" "$paper/ablations.json" "$paper"/ablations/*.json}; do
    n=${f#"$paper"/} && n=${n%.json} && n=${n//\//_}
    echo "# vsae_gpu --json $f --plan" >>"$log_setup"
    if run_limited 30 "$bin/vsae_gpu" --json "$f" --plan --out "$work/plan/$n" >"$work/plan-$n.txt" 2>>"$log_setup"; then
      plans+=("$work/plan-$n.txt")
    else
      note "vsae_gpu --plan failed on $f (see 0-setup.log): the grid estimate leaves it out"
    fi
  done
  grid=$("$python" - "$epoch_ips" "$epoch_eval_s" "$epoch_total_s" "$epoch_wall_s" "$work/bench_train.txt" \
    "${plans[@]}" <<'PY'
import json, os, sys
ips_d, eval_s, total_s, wall_s = (float(v) if v else 0.0 for v in sys.argv[1:5])
ratio, how = 1.0, "assumed equal to dSprites' (no bench_train rows)"
try:
    rows = {}
    for line in open(sys.argv[5]):
        f = line.split()
        if len(f) >= 6 and f[0] in ("dsprites", "shapes3d") and f[3] == "graph":  # + GFLOP/s
            rows[(f[0], f[2])] = float(f[5])
    if ("dsprites", "64") in rows and ("shapes3d", "64") in rows:
        ratio = rows[("shapes3d", "64")] / rows[("dsprites", "64")]
        how = f"dSprites' x {ratio:.3f}, the bench_train ratio at batch 64 (graph)"
except OSError:
    pass
ips_s = ips_d * ratio
startup = max(total_s - wall_s, 0.0)  # data generation, upload, planning: once per member
train = {"dsprites": 737280 / ips_d, "shapes3d": 480000 / ips_s}  # one epoch's training, s

def members(plan):  # (dataset, epochs) of each member config that a --plan listing names
    out = []
    for line in open(plan):
        c = json.load(open(line.strip()))
        out.append((c["dataset"]["name"], c["training"]["epochs"] + c["training"]["extra_epochs"]))
    return out

def hours(ms):  # members one after another on this GPU
    return sum(e * (train[d] + eval_s) + startup for d, e in ms) / 3600

def epochs(ms):
    return "/".join(str(e) for e in sorted({e for _, e in ms}))

grid, ablation = [], []
for plan in sys.argv[6:]:
    (grid if os.path.basename(plan) == "plan-grid.txt" else ablation).extend(members(plan))
gd = [m for m in grid if m[0] == "dsprites"]
gs = [m for m in grid if m[0] == "shapes3d"]
if grid:
    print(f"dSprites: {len(gd)} members x {epochs(gd)} epochs x ({train['dsprites']:.1f} s training + {eval_s:.1f} s evaluation) "
          f"+ {startup:.1f} s start-up each = {hours(gd):.2f} h")
    print(f"Shapes3D: images/s {how} = {ips_s:.0f}; {len(gs)} x {epochs(gs)} x ({train['shapes3d']:.1f} s + {eval_s:.1f} s) "
          f"+ start-ups = {hours(gs):.2f} h")
    print(f"configs/paper/grid.json, members one after another on this GPU: about {hours(grid):.2f} h "
          f"(assumed: L1 members as fast as Top-k; Shapes3D's evaluation and start-up as long as dSprites')")
else:
    print(f"one epoch: dSprites {train['dsprites']:.1f} s training, Shapes3D (images/s {how} = {ips_s:.0f}) "
          f"{train['shapes3d']:.1f} s, + {eval_s:.1f} s evaluation; {startup:.1f} s start-up per member "
          f"(configs/paper/grid.json not planned: see Notes)")
if ablation:
    print(f"configs/paper/ablations.json and ablations/*.json ({len(ablation)} members): about "
          f"{hours(ablation):.2f} h (assumed: every arm as fast as Top-k)")
PY
)
fi

# ---- summary -----------------------------------------------------------------------------------------
names=([1]="device facts" [2]="CUDA test cases (VSAE_EXPECT_CUDA=1)" [3]="CUDA end-to-end" [4]="compute-sanitizer"
       [5]="benchmarks vs PyTorch" [6]="full-dSprites epoch")
any_fail=0
{
  echo "# vsae_gpu GPU check"
  echo
  echo "- kit: $(head -1 "$kit/manifest.txt"); $(sed -n 2p "$kit/manifest.txt")"
  echo "- machine: $(uname -n), $ncpu cores; GPU: $gpu_name"
  echo "- binaries: $( ((source_build)) && echo "built from source here ($bin)" || echo "carried ($kit)")"
  echo "- LD_LIBRARY_PATH: ${LD_LIBRARY_PATH:-(unset)}"
  echo "- wall time: $(elapsed) s of the ${VSAE_CHECK_BUDGET_S:-450} s budget"
  echo
  echo "| step | what | result | details |"
  echo "| --- | --- | --- | --- |"
  for s in 1 2 3 4 5 6; do
    echo "| $s | ${names[$s]} | ${status[$s]:-NOT RUN} | ${detail[$s]:-} |"
    [[ ${status[$s]:-} == FAIL ]] && any_fail=1
  done
  if [[ -n $grid ]]; then
    echo
    echo "## Estimated time of configs/paper/grid.json and the ablations"
    echo
    echo "$grid" | sed 's/^/- /'
  fi
  if ((${#notes[@]})); then
    echo
    echo "## Notes"
    echo
    printf -- '- %s\n' "${notes[@]}"
  fi
  echo
  echo "Raw logs beside this file: 0-setup.log, 1-facts.txt, 2-tests.log, 3-e2e.log, 4-sanitizer.log, 5-bench.txt, 6-epoch.log."
} >"$summary"
cat "$summary"
rm -rf "$work"
exit $any_fail
