#!/usr/bin/env bash
# Installs the Debian packages vsae_gpu needs (only the missing ones), then configures and builds
# into build/ (Release). Idempotent: a second run installs nothing and rebuilds only what changed.
#
# Environment overrides:
#   VSAE_CUDA=AUTO|ON|OFF    build the CUDA backend (AUTO: when the toolkit is found)
#   VSAE_CUDA_ARCHS="80;90"  CUDA architectures
#   VSAE_WERROR=ON|OFF       warnings as errors (CI turns it on)
#   VSAE_BUILD_DIR=build     where to build
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${VSAE_BUILD_DIR:-build}
packages=(
  cmake ninja-build g++ git pkg-config
  libgtest-dev libopenblas-openmp-dev libdnnl-dev nlohmann-json3-dev libhdf5-dev zlib1g-dev libzip-dev libcli11-dev
  python3 python3-venv python3-numpy python3-pandas python3-sklearn python3-h5py python3-pil python3-matplotlib python3-torch
  slurm-wlm munge
)

say() { printf '[setup] %s\n' "$*"; }

source tools/debian_packages.sh
install_missing "[setup]" "${packages[@]}"

# The Python tools run from a project environment over Debian's python3 (whose numpy, scikit-learn,
# h5py, matplotlib and torch it sees), never from whichever python3 is first on PATH.
if [[ ! -x .venv/bin/python ]]; then
  say "creating .venv over /usr/bin/python3 (--system-site-packages)"
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
# The real safetensors library (not a Debian package), for the test that checks our files against it.
if ! .venv/bin/python -c "import safetensors.numpy" 2>/dev/null; then
  say "installing safetensors into .venv from PyPI"
  .venv/bin/pip install -q safetensors ||
    say "safetensors is not available from PyPI here: SafetensorsLibrary.* will be skipped"
fi

# The CUDA toolkit (with cuDNN and cuBLAS) is not a Debian package here; it is found at its
# standard prefix when installed.
if [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH=/usr/local/cuda/bin:$PATH
  say "CUDA toolkit: $(nvcc --version | tail -1)"
else
  say "no CUDA toolkit found: building the CPU backend only"
fi

if [[ ! -f $build_dir/build.ninja ]]; then
  say "configuring $build_dir (Release)"
fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DVSAE_CUDA="${VSAE_CUDA:-AUTO}" -DVSAE_CUDA_ARCHS="${VSAE_CUDA_ARCHS:-80;90}" \
  -DVSAE_WERROR="${VSAE_WERROR:-OFF}" >/dev/null

say "building $build_dir"
cmake --build "$build_dir" --parallel "$(nproc)"
say "done: binaries in $build_dir"
