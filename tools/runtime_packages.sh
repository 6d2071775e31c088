#!/bin/bash
# Prints the Debian packages (dpkg) that hold the shared libraries BINARY links directly, one per line,
# without glibc's and the C++ runtime's, which every base image has. The Dockerfile's runtime stage
# installs exactly these, so it needs no per-distribution list and no -dev package.
# Usage: tools/runtime_packages.sh BINARY
set -euo pipefail
binary=${1:?usage: runtime_packages.sh BINARY}
[[ -x $binary ]] || { echo "runtime_packages.sh: $binary is not an executable" >&2; exit 2; }
# Only the libraries BINARY names itself (DT_NEEDED); apt brings what they depend on.
needed=$(objdump -p "$binary" | awk '$1 == "NEEDED" {print $2}')
ldd "$binary" | awk '/=> \// {print $1, $3}' | while read -r name lib; do
  grep -q -x -F "$name" <<<"$needed" || continue
  # merged /usr: dpkg may know the file under /lib or /usr/lib, by its link name or its target.
  for path in "$lib" "$(readlink -f "$lib")" "/usr$lib" "${lib#/usr}"; do
    if owner=$(dpkg -S "$path" 2>/dev/null); then
      echo "${owner%%:*}"
      continue 2
    fi
  done
  echo "runtime_packages.sh: no package holds $lib" >&2
  exit 1
done | sort -u | grep -v -x -E 'libc6|libstdc\+\+6|libgcc-s1'
