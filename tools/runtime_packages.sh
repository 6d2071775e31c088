#!/bin/bash
# Prints the Debian packages (dpkg) that hold the shared libraries BINARY links directly, one per line,
# without glibc's and the C++ runtime's, which every base image has. The Dockerfile's runtime stage
# installs exactly these, so it needs no per-distribution list and no -dev package.
# Usage: tools/runtime_packages.sh BINARY
set -euo pipefail
binary=${1:?usage: runtime_packages.sh BINARY}
[[ -x $binary ]] || { echo "runtime_packages.sh: $binary is not an executable" >&2; exit 2; }
command -v objdump >/dev/null || { echo "runtime_packages.sh: needs objdump (binutils)" >&2; exit 2; }
# Only the libraries BINARY names itself (DT_NEEDED); apt brings what they depend on.
needed=$(objdump -p "$binary" | awk '$1 == "NEEDED" {print $2}')
# A library the loader cannot find would be missing from the image too; the driver's libcuda is
# the GPU machine's, never the image's.
libs=$(ldd "$binary")
missing=$(awk '/=> not found/ && $1 != "libcuda.so.1" {print $1}' <<<"$libs")
[[ -z $missing ]] || { echo "runtime_packages.sh: $binary links libraries the loader cannot find: $missing" >&2; exit 1; }
# The last grep exits 1 when it keeps nothing: a binary that links only those is no error.
awk '/=> \// {print $1, $3}' <<<"$libs" | while read -r name lib; do
  grep -q -x -F "$name" <<<"$needed" || continue
  # merged /usr: dpkg may know the file under /lib or /usr/lib, by its link name or its target.
  for path in "$lib" "$(readlink -f "$lib")" "/usr$lib" "${lib#/usr}"; do
    if owner=$(dpkg -S "$path" 2>/dev/null); then
      echo "${owner%%:*}"
      continue 2
    fi
  done
  # A CUDA toolkit installed without dpkg (NVIDIA's runfile): its libraries come with the CUDA
  # base image, not from this list.
  case $name in
    libcudart.so.*|libcublas.so.*|libcublasLt.so.*|libcudnn*.so.*|libnvrtc*.so.*|libnvJitLink.so.*)
      echo "runtime_packages.sh: no package holds $lib; left to the CUDA base image" >&2
      continue ;;
  esac
  echo "runtime_packages.sh: no package holds $lib" >&2
  exit 1
done | sort -u | { grep -v -x -E 'libc6|libstdc\+\+6|libgcc-s1' || [[ $? == 1 ]]; }
