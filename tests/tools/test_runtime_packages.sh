#!/bin/bash
# tools/runtime_packages.sh on the built vsae_gpu: the packages the Dockerfile's runtime stage
# installs. They must hold every library vsae_gpu names (OpenBLAS, oneDNN, HDF5, libzip, libgomp),
# no -dev package, and not glibc or the C++ runtime, which every base image has.
# Usage: test_runtime_packages.sh SOURCE_DIR VSAE_GPU (exit 0: passed, 77: skipped).
set -u
src=$1 binary=$2
command -v dpkg >/dev/null || { echo "SKIPPED: no dpkg (not a Debian-based system)"; exit 77; }
command -v objdump >/dev/null || { echo "SKIPPED: no objdump (binutils)"; exit 77; }
packages=$("$src/tools/runtime_packages.sh" "$binary") || { echo "FAILED: runtime_packages.sh failed"; exit 1; }
echo "$packages"
fail=0
for lib in libopenblas libdnnl libhdf5 libzip libgomp; do
  grep -q "^$lib" <<<"$packages" || { echo "FAILED: no package for $lib"; fail=1; }
done
if grep -q -E -- '-dev$|^libc6$|^libstdc\+\+6$' <<<"$packages"; then
  echo "FAILED: a -dev package, glibc or libstdc++ is listed"; fail=1
fi
"$src/tools/runtime_packages.sh" /nonexistent 2>/dev/null && { echo "FAILED: a missing binary must fail"; fail=1; }
((fail)) || echo "PASSED: $(wc -l <<<"$packages") runtime packages"
exit $fail
