"""tools/vsae_py on a tiny two-seed sweep: load_model's encode reproduces the run's latents.npy and
sae_codes.npy on the re-created evaluation images, loading is strict, and load_run / load_sweep
return the run's files and the members' final figures."""
import json
import os
import shutil
import sys

import e2e_common as e2e

try:
    import pandas  # noqa: F401
    import torch
except ImportError as e:
    print(f"FAILED: {e}: the package needs Debian's python3-pandas and python3-torch (tools/setup.sh installs them)")
    sys.exit(1)
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from vsae_py import load_images, load_model, load_run, load_sweep  # noqa: E402

# float32 on both sides (im2col + OpenBLAS against PyTorch's CPU convolutions): |Δ| ≤ ATOL + RTOL·|ref|.
ATOL, RTOL = 1e-5, 1e-4

work = e2e.tempdir()
sweep_dir = os.path.join(work, "sweep")
cfg = e2e.tiny_config(sweep_dir, **{"output.save_latents": True, "dataset.subset": 128, "evaluation.samples": 96,
                                    "sparsity.schedule": {"start": 32, "end": 8, "epochs": 2},
                                    "training.epochs": 2})
cfg["sweep"] = {"seed": [0, 1]}
r = e2e.run(["--json", e2e.write_config(work, cfg, "sweep.json"), "--parallel", "2"])
e2e.check(r.returncode == 0, "the tiny sweep failed: " + r.stderr)
run_dir = os.path.join(sweep_dir, "seed0")

# ---- load_model against latents.npy and sae_codes.npy --------------------------------------------
indices = np.load(os.path.join(run_dir, "eval_indices.npy"))
samples = cfg["evaluation"]["samples"]
e2e.check(indices.shape == (samples,) and np.all(np.diff(indices) > 0), f"eval_indices.npy {indices.shape}, ascending")
images_path = os.path.join(work, "eval.npz")
r = e2e.run(["export-dataset", "--name", "dsprites", "--out", images_path, "--indices", ",".join(map(str, indices))])
e2e.check(r.returncode == 0, "export-dataset --indices failed: " + r.stderr)
# The re-created images are the evaluation set's: their factors are factors.npy (dropping color).
with np.load(images_path) as f:
    classes = f["latents_classes"][:, 1:]
e2e.check(np.array_equal(classes, np.load(os.path.join(run_dir, "factors.npy"))), "exported factors != factors.npy")

model = load_model(run_dir)
e2e.check(isinstance(model, torch.nn.Module) and not model.training, "load_model gives a torch.nn.Module in eval mode")
e2e.check(model.k == cfg["sparsity"]["schedule"]["end"], f"k from the checkpoint: {model.k}")
with torch.no_grad():
    mu, codes = model.encode(load_images(images_path))
for name, got in (("latents.npy", mu), ("sae_codes.npy", codes)):
    ref = np.load(os.path.join(run_dir, name))
    err = np.abs(got.numpy() - ref)
    worst = float(np.max(err / (ATOL + RTOL * np.abs(ref))))
    print(f"{name}: shape {ref.shape}, max |Δ| {err.max():.3e}, max |ref| {np.abs(ref).max():.3e}, worst Δ/limit {worst:.4f}")
    e2e.check(got.shape == ref.shape and worst <= 1.0, f"load_model(...).encode disagrees with {name}")
e2e.check(np.array_equal(codes.numpy() > 0, np.load(os.path.join(run_dir, "sae_codes.npy")) > 0),
          "the same SAE units fire on every image")

# Every sparsifier beyond the paper, and the SAE controls: same seed and evaluation images as seed0.
EXTRA = {"batchtopk": {"method": "batchtopk", "batchtopk": {"threshold_beta": 0.9}},
         "jumprelu": {"method": "jumprelu"},
         "topk_multi": {"method": "topk", "multi_topk": True},
         "l1_prox_relative": {"method": "l1_prox", "l1_prox": {"threshold": "relative", "scale_beta": 0.9},
                              "controller": {"initial": 0.5}},
         "l1_prox_per_unit": {"method": "l1_prox", "l1_prox": {"threshold": "per_unit", "scale_beta": 0.9},
                              "controller": {"initial": 0.5}}}
for label, sparsity in EXTRA.items():
    extra = e2e.tiny_config(os.path.join(work, label), **{
        "seed": 0, "output.save_latents": True, "dataset.subset": 128, "evaluation.samples": 96, "training.epochs": 2,
        "model": {"sae_width": 64, "sae": {"pre_encoder_bias": True, "decoder_bias_init": "mean", "init_samples": 64,
                                           "unit_norm_decoder": True}}})
    extra["sparsity"] = dict(sparsity, schedule={"start": 32, "end": 8, "epochs": 2})
    r = e2e.run(["--json", e2e.write_config(work, extra, label + ".json")])
    e2e.check(r.returncode == 0, f"{label}: the run failed: {r.stderr}")
    e2e.check(np.array_equal(np.load(os.path.join(work, label, "eval_indices.npy")), indices), f"{label}: same images")
    with torch.no_grad():
        _, got = load_model(os.path.join(work, label)).encode(load_images(images_path))
    ref = np.load(os.path.join(work, label, "sae_codes.npy"))
    worst = float(np.max(np.abs(got.numpy() - ref) / (ATOL + RTOL * np.abs(ref))))
    print(f"{label}: sae_codes.npy worst Δ/limit {worst:.4f}, {int((ref > 0).sum())} active codes")
    e2e.check(worst <= 1.0 and np.array_equal(got.numpy() > 0, ref > 0), f"{label}: encode disagrees with sae_codes.npy")

# Strict loading: a config that does not match the checkpoint is an error, not a partial load.
other = os.path.join(work, "mismatch")
shutil.copytree(run_dir, other)
config_path = os.path.join(other, "config.json")
bad = json.load(open(config_path))
bad["model"]["sae_width"] = 2 * bad["model"]["sae_width"]
json.dump(bad, open(config_path, "w"))
try:
    load_model(other)
    e2e.check(False, "load_model accepted a checkpoint whose shapes differ from config.json")
except ValueError as e:
    e2e.check("sae." in str(e), f"the error names the tensor: {e}")

# ---- load_run ------------------------------------------------------------------------------------
run = load_run(run_dir)
epochs = cfg["training"]["epochs"] + cfg["training"]["extra_epochs"]
lines = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl"))]
e2e.check(run.config == json.load(open(os.path.join(run_dir, "config.json"))), "load_run's config is config.json")
e2e.check(run.results == json.load(open(os.path.join(run_dir, "results.json"))), "load_run's results is results.json")
e2e.check(list(run.metrics["epoch"]) == list(range(epochs)), "one metrics row per epoch")
for column, get in (("eval_loss.recon", lambda line: line["eval_loss"]["recon"]), ("k", lambda line: line["k"]),
                    ("dead.headline_dead_fraction", lambda line: line["dead"]["headline_dead_fraction"]),
                    ("mig.mig", lambda line: line["mig"]["mig"]),
                    ("dead.grid.1.dead_fraction", lambda line: line["dead"]["grid"][1]["dead_fraction"])):
    e2e.check(list(run.metrics[column]) == [get(line) for line in lines], f"metrics column {column}")

# ---- load_sweep ----------------------------------------------------------------------------------
sweep = load_sweep(sweep_dir)
print(sweep.to_string())
e2e.check(list(sweep["member"]) == ["seed0", "seed1"] and list(sweep["seed"]) == [0, 1], "one row per member")
for _, row in sweep.iterrows():
    results = json.load(open(os.path.join(sweep_dir, row["member"], "results.json")))
    expected = {"dataset": "dsprites", "method": "topk",
                "dead_schedule_end": results["at_schedule_end"]["dead"]["headline_dead_fraction"],
                "dead_final": results["final"]["dead"]["headline_dead_fraction"],
                "mig_final": results["final"]["mig"]["mig"], "recovered_neurons": results["recovered_neurons"],
                "units_dead_schedule_end": results["dead_at_schedule_end"], "images_per_s": results["images_per_s"]}
    for column, value in expected.items():
        e2e.check(row[column] == value, f"{row['member']}: {column} {row[column]} != results.json's {value}")
os.remove(os.path.join(sweep_dir, "seed1", "results.json"))
e2e.check(list(load_sweep(sweep_dir)["member"]) == ["seed0"], "an unfinished member is left out")
print("PASSED: load_model reproduces latents.npy and sae_codes.npy, loads strictly; load_run and load_sweep match "
      "the run files")
