"""Shared helpers for the end-to-end tests: run the vsae_gpu binary on small configs."""
import json
import os
import subprocess
import sys
import tempfile

SKIP = 77  # ctest's SKIP_RETURN_CODE for these tests


def binary():
    return sys.argv[1]


def tiny_config(out_dir, **overrides):
    """A run small enough for seconds on two CPU cores, with every output switched on."""
    cfg = {
        "name": "tiny",
        "seed": 3,
        "device": "cpu",
        "dataset": {"name": "dsprites", "subset": 256},
        "model": {"sae_width": 64},
        "sparsity": {"method": "topk", "schedule": {"start": 64, "end": 8, "epochs": 3}},
        "training": {"epochs": 3, "extra_epochs": 1, "batch_size": 32, "lr": 1e-3},
        "evaluation": {"samples": 128},
        "output": {"dir": out_dir, "checkpoint_every": 1},
    }
    for key, value in overrides.items():
        section, _, leaf = key.partition(".")
        if leaf:
            cfg.setdefault(section, {})[leaf] = value
        else:
            cfg[section] = value
    return cfg


def write_config(directory, cfg, name="run.json"):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def environment(env_extra=None):
    env = dict(os.environ, OMP_NUM_THREADS="2", OMP_WAIT_POLICY="passive")
    env.update(env_extra or {})
    return env


def run(args, env_extra=None, **kwargs):
    return subprocess.run([binary()] + args, capture_output=True, text=True, env=environment(env_extra), **kwargs)


def tempdir():
    return tempfile.mkdtemp(prefix="vsae_e2e_")


def check(condition, message):
    if not condition:
        print("FAILED: " + message)
        sys.exit(1)


# ---- CUDA end-to-end tests -------------------------------------------------------------------

# What the binary prints when a "cuda" device was asked for and no GPU is usable (Backend::make_cuda,
# cuda_usable): the CUDA tests skip on those and fail on anything else.
NO_CUDA_MARKERS = ("was requested but", "no usable CUDA", "no CUDA device", "no CUDA backend",
                   "no NVIDIA driver")


def expect_cuda():
    """VSAE_EXPECT_CUDA is set (not "" or "0"): a GPU run, where a CUDA test that cannot run fails."""
    return os.environ.get("VSAE_EXPECT_CUDA", "") not in ("", "0")


def skip_or_fail(reason):
    """A CUDA test that cannot run: skipped (77), or failed under VSAE_EXPECT_CUDA=1."""
    if expect_cuda():
        print("FAILED: VSAE_EXPECT_CUDA is set but " + reason)
        sys.exit(1)
    print("SKIPPED: " + reason)
    sys.exit(SKIP)


def require_cuda():
    """Returns when the binary can train on a GPU here, else skip_or_fail. The probe is a tiny run
    on --device cuda (seconds on a GPU, an immediate error without one), so it needs nothing
    beside the binary; a probe that fails for any other reason is a failure, never a skip."""
    work = tempdir()
    cfg = tiny_config(os.path.join(work, "probe"), **{
        "device": "cuda", "dataset.subset": 64, "training.epochs": 1, "training.extra_epochs": 0,
        "sparsity.schedule": {"start": 16, "end": 16, "epochs": 1}, "evaluation.samples": 64})
    r = run(["--json", write_config(work, cfg, "probe.json")], timeout=600)
    if r.returncode == 0:
        return
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else f"exit code {r.returncode}"
    if any(marker in r.stderr for marker in NO_CUDA_MARKERS):
        skip_or_fail("no usable GPU: " + last)
    print("FAILED: a tiny run on --device cuda failed for a reason other than a missing GPU:\n" + r.stderr)
    sys.exit(1)


def cpu_threads():
    """OpenMP threads for a CPU reference run beside a CUDA one (the GPU machine has more cores)."""
    return str(max(2, min(os.cpu_count() or 2, 16)))


TIMING_KEYS = ("wall_s", "train_s", "images_per_s")


def metrics_lines(directory):
    """metrics.jsonl without its timings (which differ between runs)."""
    with open(os.path.join(directory, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f]
    for line in lines:
        for key in TIMING_KEYS:
            line.pop(key, None)
    return lines


def checkpoint_tensors(path):
    """A safetensors checkpoint's tensor table and data bytes, without its metadata (which holds
    the config digest, so two runs whose configs differ in, say, training.cuda_graph differ there)."""
    import struct
    with open(path, "rb") as f:
        blob = f.read()
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + size])
    header.pop("__metadata__", None)
    return header, blob[8 + size:]


def safetensors_header(path):
    """A safetensors file's JSON header (tensor table and __metadata__) and the header's byte size."""
    import struct
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(size)), size


def start(args, env_extra=None):
    """vsae_gpu in the background, stderr piped (for the tests that signal or race it)."""
    return subprocess.Popen([binary()] + args, env=environment(env_extra), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def lock_holder(lock):
    """The pid recorded in a lock file (its first line; see engine/io/file_lock.cpp), "" if none."""
    return open(lock).read().split("\n")[0] if os.path.exists(lock) else ""


def wait_until(condition, process, timeout=300):
    """Polls `condition()` while `process` runs; False if the process ended (or time ran out) first."""
    import time
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if condition():
            return True
        time.sleep(0.01)
    return False


def wait_for_lines(path, count, process, timeout=300):
    """Waits until `path` (metrics.jsonl) has `count` lines while `process` runs."""
    return wait_until(lambda: os.path.exists(path) and sum(1 for _ in open(path)) >= count, process, timeout)


def kill_after_epochs(args, directory, epochs):
    """Starts vsae_gpu, SIGKILLs it once metrics.jsonl in `directory` has `epochs` lines, and returns
    how many lines it left (a kill test fails if the run ends first)."""
    import signal
    p = start(args)
    metrics = os.path.join(directory, "metrics.jsonl")
    check(wait_for_lines(metrics, epochs, p), "the run finished before it could be killed")
    p.send_signal(signal.SIGKILL)
    p.wait()
    return sum(1 for _ in open(metrics))
