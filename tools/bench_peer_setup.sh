#!/usr/bin/env bash
# Creates .venv-bench: PyTorch 2.x from PyPI (with torch.compile), the peer that tools/bench_train.sh
# times against vsae_gpu. Only the benchmark uses it; the tests keep Debian's python3-torch as
# their oracle. About 5 GiB (PyPI's Linux wheel brings CUDA libraries; the CPU runs use none).
#   usage: tools/bench_peer_setup.sh        (idempotent; TORCH_VERSION overrides the pin)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=${TORCH_VERSION:-2.15.0}
venv=$root/.venv-bench
if [[ -x $venv/bin/python ]] && "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$version')" 2>/dev/null; then
  echo "[bench-peer] $venv has torch $version"
  exit 0
fi
echo "[bench-peer] creating $venv with torch==$version from PyPI"
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install -q "torch==$version" numpy
# torch.compile's inductor compiles C++ on the CPU and needs Python's headers.
source "$root/tools/debian_packages.sh"
install_missing "[bench-peer]" python3-dev
"$venv/bin/python" -c "import torch; print('[bench-peer] torch', torch.__version__, 'ready')"
