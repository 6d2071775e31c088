#!/usr/bin/env bash
# Prepares the GPU kit on a machine without a GPU: builds a Release tree for sm_90 (the tests,
# tools/bench_kernels, tools/bench_train and vsae_gpu) and gathers into one folder everything those
# binaries need at run time that a bare CUDA machine may lack, so that the folder can travel to the
# GPU machine (device run's carry) and tools/gpu/check.sh can run there. See tools/gpu/README.md.
#
#   usage: tools/gpu/prepare.sh            (from anywhere; writes <repo>/build-gpu)
# Environment: VSAE_KIT_DIR (the kit, default build-gpu), VSAE_KIT_TREE (the build tree, default
# build-gpu-tree; it stays here), VSAE_CUDA_ARCHS (default 90), JOBS (default nproc).
#
# The kit, all paths relative to it:
#   vsae_gpu, tests/test_*, tools/bench_kernels, tools/bench_train   stripped, RPATH into lib/
#   lib.tar.xz      OpenBLAS, libgomp, libgfortran, HDF5 and what it links (libcurl ...), libzip, oneDNN,
#                   cudart, zlib; lib/fallback/ holds libstdc++ and libgcc_s, used only where missing
#   dev.tar.xz      headers, CMake configs and GoogleTest for a source build there (check.sh's
#                   fallback when the carried binaries cannot start)
#   check.sh        the checks; src/ the scripts and configs they run; cuda_cases.txt the gtest
#                   filter of every CUDA case per test binary; manifest.txt what was built
# Not bundled: libcuda (the driver's), cuBLAS (CUDA 13 is on the GPU machine) and cuDNN (235 MB
# and more; check.sh finds the machine's own or the one inside PyTorch's nvidia/cudnn package).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
kit=${VSAE_KIT_DIR:-$root/build-gpu}
tree=${VSAE_KIT_TREE:-$root/build-gpu-tree}
archs=${VSAE_CUDA_ARCHS:-90}
jobs=${JOBS:-$(nproc)}
max_kit_mib=48

say() { printf '[prepare] %s\n' "$*"; }
die() { printf '[prepare] error: %s\n' "$*" >&2; exit 1; }

[[ -x /usr/local/cuda/bin/nvcc ]] || die "the CUDA toolkit (/usr/local/cuda/bin/nvcc) is needed to build the kit"
export PATH=/usr/local/cuda/bin:$PATH
source "$root/tools/debian_packages.sh"
install_missing "[prepare]" patchelf xz-utils

# ---- 1. the build -----------------------------------------------------------------------------
say "configuring $tree (Release, CUDA archs $archs)"
cmake -S "$root" -B "$tree" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVSAE_CUDA=ON -DVSAE_CUDA_ARCHS="$archs" \
  -DVSAE_BUILD_TESTS=ON >/dev/null
say "building with $jobs jobs"
cmake --build "$tree" --parallel "$jobs"

# ---- 2. the binaries --------------------------------------------------------------------------
rm -rf "${kit:?}"
mkdir -p "$kit/tests" "$kit/tools" "$kit/lib/fallback" "$kit/src"
binaries=(vsae_gpu tools/bench_kernels tools/bench_train)
for t in "$tree"/tests/test_*; do
  [[ -f $t && -x $t ]] && binaries+=("tests/$(basename "$t")")
done
for b in "${binaries[@]}"; do
  [[ -x $tree/$b ]] || die "$tree/$b was not built"
  cp "$tree/$b" "$kit/$b"
  strip --strip-unneeded "$kit/$b"
done

# ---- 3. the run-time libraries ------------------------------------------------------------------
# Never bundled: glibc (it must match the machine's loader), the driver and the large CUDA libraries.
is_system() {
  case $1 in
    linux-vdso.so.*|ld-linux*|*/ld-linux*|libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|libresolv.so.*|libutil.so.*) return 0 ;;
    libcuda.so.*|libcublas.so.*|libcublasLt.so.*|libcudnn*.so.*|libnvrtc*.so.*) return 0 ;;
  esac
  return 1
}
declare -A seen=()
for b in "${binaries[@]}"; do
  while read -r name path; do
    [[ -n $name && -z ${seen[$name]:-} ]] || continue
    seen[$name]=1
    is_system "$name" && continue
    [[ -f $path ]] || die "ldd of $b: $name resolves to '$path'"
    case $name in
      libstdc++.so.*|libgcc_s.so.*) cp -L "$path" "$kit/lib/fallback/$name" ;;
      *) cp -L "$path" "$kit/lib/$name" ;;
    esac
  done < <(ldd "$tree/$b" | awk '/=>/ {print $1, $3} !/=>/ && NF {print $1, $1}')
done
# Each bundled library finds its own dependencies beside it; each binary finds lib/ through a
# DT_RPATH (not RUNPATH: RPATH also applies to the libraries' own dependencies, e.g. HDF5's libcurl).
for l in "$kit"/lib/*.so* "$kit"/lib/fallback/*.so*; do
  chmod u+w "$l"
  patchelf --set-rpath '$ORIGIN' "$l"
done
for b in "${binaries[@]}"; do
  case $b in
    */*) rpath='$ORIGIN/../lib' ;;
    *) rpath='$ORIGIN/lib' ;;
  esac
  patchelf --force-rpath --set-rpath "$rpath" "$kit/$b"
done

# The CUDA libraries each binary still needs from the GPU machine, for check.sh to look for.
ldd "$tree/vsae_gpu" | awk '/=>/ {print $1}' | grep -E '^lib(cublas|cublasLt|cudnn)\.so' | sort -u >"$kit/needed_cuda_libs.txt"

# ---- 4. headers and configs for a source build there (check.sh's fallback) ---------------------
dev=$kit/dev
mkdir -p "$dev/include" "$dev/lib" "$dev/share/cmake"
copy_package_files() {  # copies a Debian package's installed files under /usr into the prefix
  dpkg -L "$1" | while read -r f; do
    [[ $f == /usr/* && -f $f && $f != /usr/share/doc/* && $f != /usr/share/man/* && $f != /usr/src/* ]] || continue
    rel=${f#/usr/}
    case $rel in *.so|*.so.*) continue ;; esac  # shared objects come from lib/
    mkdir -p "$dev/$(dirname "$rel")"
    cp -L "$f" "$dev/$rel"
  done
}
for p in libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && copy_package_files "$p"
done
cblas_dir=$(sed -n 's/^CBLAS_INCLUDE_DIR:PATH=//p' "$tree/CMakeCache.txt")
cp "$cblas_dir"/cblas.h "$cblas_dir"/openblas_config.h "$dev/include/"
[[ -f $cblas_dir/f77blas.h ]] && cp "$cblas_dir/f77blas.h" "$dev/include/"
hdf5_inc=$(sed -n 's/^HDF5_C_INCLUDE_DIR:PATH=//p' "$tree/CMakeCache.txt")
[[ -n $hdf5_inc ]] || hdf5_inc=/usr/include/hdf5/serial
cp "$hdf5_inc"/*.h "$dev/include/"
cp /usr/include/zlib.h /usr/include/zconf.h "$dev/include/" 2>/dev/null || true
cp /usr/include/zip.h /usr/include/zipconf.h "$dev/include/"
cp -r /usr/include/oneapi "$dev/include/"
# Link names for the bundled libraries (lib/ unpacks beside dev/).
hdf5_so=$(cd "$kit/lib" && ls libhdf5*.so.* | head -1)
ln -s "../../lib/libopenblas.so.0" "$dev/lib/libopenblas.so"
ln -s "../../lib/$hdf5_so" "$dev/lib/libhdf5.so"
[[ -f $kit/lib/libz.so.1 ]] && ln -s ../../lib/libz.so.1 "$dev/lib/libz.so"
ln -s "../../lib/$(cd "$kit/lib" && ls libzip.so.* | head -1)" "$dev/lib/libzip.so"
ln -s "../../lib/$(cd "$kit/lib" && ls libdnnl.so.* | head -1)" "$dev/lib/libdnnl.so"

# ---- 5. the CUDA cases of each test binary -------------------------------------------------------
# Every TEST/TEST_P/TEST_F whose body calls VSAE_REQUIRE_CUDA() or VSAE_REQUIRE_CUDA_LIBRARIES(...)
# (the cases that also need cuBLAS, cuDNN or graph capture; a filter that took the first alone
# missed 71 cases on the first GPU run), found in the sources and checked
# against the binary's own test list, becomes one gtest filter per binary.
python3 - "$root/tests" "$kit" <<'PY'
import os, re, subprocess, sys
tests_dir, kit = sys.argv[1], sys.argv[2]
macro = re.compile(r"^\s*TEST(_P|_F)?\(\s*(\w+)\s*,\s*(\w+)\s*\)", re.M)
requires_cuda = re.compile(r"\bVSAE_REQUIRE_CUDA\w*\(")  # any variant of the macro
lines = []
for folder in sorted(os.listdir(tests_dir)):
    binary = os.path.join(kit, "tests", "test_" + folder)
    src_dir = os.path.join(tests_dir, folder)
    if not os.path.isfile(binary) or not os.path.isdir(src_dir):
        continue
    patterns = []
    for name in sorted(os.listdir(src_dir)):
        if not (name.startswith("test_") and name.endswith(".cpp")):
            continue
        text = open(os.path.join(src_dir, name)).read()
        found = list(macro.finditer(text))
        for i, m in enumerate(found):
            body = text[m.end():found[i + 1].start() if i + 1 < len(found) else len(text)]
            if requires_cuda.search(body):
                suite, case = m.group(2), m.group(3)
                patterns.append(f"*/{suite}.{case}/*" if m.group(1) == "_P" else f"{suite}.{case}")
    if not patterns:
        continue
    listed = subprocess.run([binary, "--gtest_list_tests"], capture_output=True, text=True, check=True).stdout
    names, suite = [], ""
    for line in listed.splitlines():
        if not line.startswith(" "):
            suite = line.split()[0]
        elif line.strip():
            names.append(suite + line.split()[0])
    import fnmatch
    count = 0
    for p in patterns:
        hits = [n for n in names if fnmatch.fnmatchcase(n, p)]
        if not hits:
            sys.exit(f"prepare: CUDA case pattern {p} matches no test of {binary}")
        count += len(hits)
    lines.append(f"test_{folder}\t{count}\t{':'.join(patterns)}")
    print(f"[prepare] test_{folder}: {count} CUDA cases in {len(patterns)} patterns")
open(os.path.join(kit, "cuda_cases.txt"), "w").write("\n".join(lines) + "\n")
PY

# ---- 6. the scripts check.sh runs, and the manifest --------------------------------------------
cp "$root/tools/gpu/check.sh" "$kit/check.sh"
mkdir -p "$kit/src/tests/e2e" "$kit/src/configs" "$kit/src/tools/gpu"
cp "$root"/tests/e2e/*.py "$kit/src/tests/e2e/"
cp "$root/configs/quick.json" "$kit/src/configs/"
cp -r "$root/configs/paper" "$kit/src/configs/"  # check.sh counts the sweeps' members from them
# Every Python tool (a few KiB each), so that one a script imports is never left behind.
cp "$root"/tools/bench_train.sh "$root"/tools/*.py "$kit/src/tools/"
cp -r "$root/tools/vsae_py" "$kit/src/tools/"  # torch_reference.py imports the shared package
rm -rf "$kit/src/tools/vsae_py/__pycache__"
cp "$root"/tools/gpu/*.json "$kit/src/tools/gpu/"
commit=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" diff --quiet HEAD -- engine kernels apps tests tools 2>/dev/null || echo "+dirty")
{
  echo "commit $commit$dirty"
  echo "built $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -n), $(. /etc/os-release && echo "$PRETTY_NAME"), glibc $(ldd --version | head -1 | awk '{print $NF}')"
  echo "nvcc $(nvcc --version | tail -1)"
  echo "cuda_archs $archs"
  echo "cudnn_headers $(awk '/define CUDNN_MAJOR|define CUDNN_MINOR|define CUDNN_PATCHLEVEL/ {printf "%s.", $3}' /usr/local/cuda/include/cudnn_version.h 2>/dev/null | sed 's/\.$//')"
  echo "source_dir $root"
  echo "binaries ${binaries[*]}"
  echo "bundled $(cd "$kit/lib" && ls *.so* | tr '\n' ' ')"
  echo "fallback $(cd "$kit/lib/fallback" && ls | tr '\n' ' ')"
  echo "from_the_gpu_machine libcuda.so.1 $(tr '\n' ' ' <"$kit/needed_cuda_libs.txt")"
} >"$kit/manifest.txt"

# ---- 7. compress what is large, and check the size ----------------------------------------------
tar -C "$kit" -cf - lib | xz -T"$jobs" -6 >"$kit/lib.tar.xz"
tar -C "$kit" -cf - dev | xz -T"$jobs" -6 >"$kit/dev.tar.xz"
rm -rf "${kit:?}/lib" "${kit:?}/dev"
size_kib=$(du -sk "$kit" | cut -f1)
say "kit: $kit"
(cd "$kit" && du -sh -- * | sort -h | sed 's/^/[prepare]   /')
say "total $((size_kib / 1024)) MiB ($size_kib KiB; the carry limit for the kit is $max_kit_mib MiB)"
((size_kib <= max_kit_mib * 1024)) || die "the kit is larger than $max_kit_mib MiB"
