#!/usr/bin/env python3
"""What creating the library handles costs a fresh CUDA process: the start-up that CudaContext's
first-use handles spare a process that runs only hand-written kernels (issue 18).

Each trial is a new process. It creates the primary context (cudaFree(0)), then times, apart:
loading cuBLAS and cuDNN (a vsae_gpu process pays this anyway: both are linked), cublasCreate with
the 32 MiB workspace CudaContext gives it, and cudnnCreate. Prints each trial and the medians.

  usage: python3 tools/gpu/handle_startup.py [--trials N]   (on a machine with a GPU)
"""
import argparse
import ctypes
import glob
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import time

LIBS = {"cudart": "libcudart.so.13", "cublas": "libcublas.so.13", "cudnn": "libcudnn.so.9"}


def find(soname):
    """The library's path in LD_LIBRARY_PATH, CUDA's prefix or pip's nvidia/ folders, else the bare
    name for dlopen's own search."""
    folders = os.environ.get("LD_LIBRARY_PATH", "").split(":") + ["/usr/local/cuda/lib64", "/usr/local/nvidia/lib64"]
    folders += glob.glob(os.path.join(sysconfig.get_paths()["purelib"], "nvidia", "*", "lib"))
    for folder in folders:
        path = os.path.join(folder, soname)
        if folder and os.path.exists(path):
            return path
    return soname  # let dlopen search


def check(status, what):
    if status != 0:
        raise SystemExit(f"handle_startup: {what} returned status {status}")


def trial():
    ms = lambda t0: round((time.perf_counter() - t0) * 1e3, 2)
    out = {}
    t0 = time.perf_counter()
    cudart = ctypes.CDLL(find(LIBS["cudart"]), mode=ctypes.RTLD_GLOBAL)
    check(cudart.cudaFree(None), "cudaFree(0)")
    out["context_ms"] = ms(t0)
    t0 = time.perf_counter()
    cublas = ctypes.CDLL(find(LIBS["cublas"]), mode=ctypes.RTLD_GLOBAL)
    cudnn = ctypes.CDLL(find(LIBS["cudnn"]), mode=ctypes.RTLD_GLOBAL)
    out["load_ms"] = ms(t0)
    t0 = time.perf_counter()
    handle, workspace = ctypes.c_void_p(), ctypes.c_void_p()
    check(cublas.cublasCreate_v2(ctypes.byref(handle)), "cublasCreate")
    check(cudart.cudaMalloc(ctypes.byref(workspace), ctypes.c_size_t(32 << 20)), "cudaMalloc")
    check(cublas.cublasSetWorkspace_v2(handle, workspace, ctypes.c_size_t(32 << 20)), "cublasSetWorkspace")
    check(cudart.cudaDeviceSynchronize(), "cudaDeviceSynchronize")
    out["cublas_create_ms"] = ms(t0)
    t0 = time.perf_counter()
    dnn = ctypes.c_void_p()
    check(cudnn.cudnnCreate(ctypes.byref(dnn)), "cudnnCreate")
    out["cudnn_create_ms"] = ms(t0)
    print(json.dumps(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return trial()
    rows = []
    for _ in range(args.trials):
        done = subprocess.run([sys.executable, __file__, "--one"], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise SystemExit(f"handle_startup: a trial failed: {done.stderr.strip() or done.stdout.strip()}")
        rows.append(json.loads(done.stdout))
        print("trial", rows[-1])
    keys = rows[0].keys()
    print("median over", len(rows), "fresh processes:",
          ", ".join(f"{k} {statistics.median(r[k] for r in rows):.1f}" for k in keys))


if __name__ == "__main__":
    main()
