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


def run(args, env_extra=None, **kwargs):
    env = dict(os.environ, OMP_NUM_THREADS="2", OMP_WAIT_POLICY="passive")
    env.update(env_extra or {})
    return subprocess.run([binary()] + args, capture_output=True, text=True, env=env, **kwargs)


def tempdir():
    return tempfile.mkdtemp(prefix="vsae_e2e_")


def check(condition, message):
    if not condition:
        print("FAILED: " + message)
        sys.exit(1)
