#!/usr/bin/env python3
"""Compares two run directories of the same config epoch by epoch (metrics.jsonl) within the
tolerances of vsae_gpu's backend checks, and says where they disagree.

Usage: tools/compare_runs.py RUN_A RUN_B (exit 0: they agree; 1: they disagree; 2: bad input).
Used by the CUDA-against-CPU check (tests/e2e/test_cuda_cpu.py) and to check a run inside the
Docker image against a native one (README: Docker).

Tolerances, and why. Two builds or backends run the same float32 arithmetic in different
summation orders, so each op differs by a few ulps and Adam and the Top-k selection can carry that
through training. As a proxy, the CPU backend with OpenBLAS's Nehalem kernels
(OPENBLAS_CORETYPE=Nehalem: other summation order, no FMA) against its default ones gave, on the
e2e tiny config: losses within 2e-6 relative, KL within 1.5e-5, identical dead fractions and mean
L0, and MIG within 0.0032 (these MIG values are near 0.02, where a few evaluation images moving
across one of the 20 histogram bin edges shift it by a few 1e-3). The bounds leave a wide margin:
  - loss terms: |a - b| <= 2e-3·|b| + 1e-3;
  - dead fractions (headline, every (t, eps) cell, dead in training): within 2 units of the
    sae_width, as a unit that fires on one or two evaluation images may flip;
  - mean L0: within 0.5 + 1 % (a flipped unit moves it by 1/samples per image);
  - MIG and SAE MIG: within 0.02 absolute;
  - the sparsity coefficient (λ or τ): within 2 % relative (the controller integrates L0);
  - k: equal (the schedule is host arithmetic).
"""
import json
import os
import sys

LOSS_RTOL, LOSS_ATOL = 2e-3, 1e-3
DEAD_UNITS = 2
L0_ATOL, L0_RTOL = 0.5, 1e-2
MIG_ATOL = 0.02
COEF_RTOL = 2e-2


def read_json(path):
    with open(path) as f:
        return json.load(f)


def read_metrics(run_dir):
    """metrics.jsonl's lines. Standard library only (vsae_py's readers need numpy), so that any
    python3 runs this tool."""
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def run_identity(config):
    """The settings that decide a run's results, as vsae_gpu's resume identity
    (apps/vsae/config/run_config.cpp, resume_identity): the config without device and output, and
    without the sections of the sparsifiers the run does not use."""
    config = {k: v for k, v in config.items() if k not in ("device", "output")}
    sparsity = config.get("sparsity")
    if isinstance(sparsity, dict) and isinstance(sparsity.get("method"), str):
        method = sparsity["method"]
        unused = [name for name in ("jumprelu", "batchtopk") if method != name]
        unused += ["controller"] if method not in ("l1", "l1_prox") else []
        l1_prox = sparsity.get("l1_prox")
        absolute = not isinstance(l1_prox, dict) or l1_prox.get("threshold", "absolute") == "absolute"
        unused += ["l1_prox"] if method != "l1_prox" or absolute else []
        config["sparsity"] = {k: v for k, v in sparsity.items() if k not in unused}
    return config


def compare(a_lines, b_lines, sae_width, label="", names=("a", "b")):
    """The disagreements between two runs' metrics lines (empty: they agree)."""
    problems = []

    def near(what, got, ref, tol):
        if not abs(got - ref) <= tol:  # also catches NaN
            problems.append(f"{what}: {names[0]} {got!r} vs {names[1]} {ref!r} (tolerance {tol:.3g})")

    if len(a_lines) != len(b_lines) or not b_lines:
        return [f"{label}{len(a_lines)} against {len(b_lines)} metrics lines"]
    dead_tol = DEAD_UNITS / sae_width + 1e-9
    for a, b in zip(a_lines, b_lines):
        at = f"{label}epoch {b['epoch']}"
        if a["k"] != b["k"]:
            problems.append(f"{at}: k {a['k']} vs {b['k']}")
        for section in ("eval_loss", "train_loss_last_batch"):
            for term, ref in b[section].items():
                near(f"{at} {section}.{term}", a[section][term], ref, LOSS_RTOL * abs(ref) + LOSS_ATOL)
        near(f"{at} dead.headline", a["dead"]["headline_dead_fraction"], b["dead"]["headline_dead_fraction"], dead_tol)
        if len(a["dead"]["grid"]) != len(b["dead"]["grid"]):
            problems.append(f"{at}: dead grids of {len(a['dead']['grid'])} and {len(b['dead']['grid'])} cells")
        for ca, cb in zip(a["dead"]["grid"], b["dead"]["grid"]):
            near(f"{at} dead(t={cb['t']}, eps={cb['eps']})", ca["dead_fraction"], cb["dead_fraction"], dead_tol)
        near(f"{at} dead_in_training", a["dead_in_training"], b["dead_in_training"], dead_tol)
        near(f"{at} mean_l0", a["mean_l0"], b["mean_l0"], L0_ATOL + L0_RTOL * abs(b["mean_l0"]))
        near(f"{at} mig", a["mig"]["mig"], b["mig"]["mig"], MIG_ATOL)
        near(f"{at} sae_mig", a["sae_mig"]["mig"], b["sae_mig"]["mig"], MIG_ATOL)
        for scalar in ("coefficient", "l1_prox_running_scale", "l1_prox_eval_tau"):
            if scalar in b:
                near(f"{at} {scalar}", a[scalar], b[scalar], COEF_RTOL * abs(b[scalar]))
    return problems


def main(argv):
    if len(argv) != 2 or argv[0] in ("-h", "--help"):
        print(__doc__.strip().split("\n\n")[1])
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    try:
        configs = [read_json(os.path.join(d, "config.json")) for d in argv]
        lines = [read_metrics(d) for d in argv]
    except (OSError, ValueError) as e:
        print(f"compare_runs.py: cannot read a run: {e}", file=sys.stderr)
        return 2
    if run_identity(configs[0]) != run_identity(configs[1]):
        print("compare_runs.py: the two runs have different configs (beyond device, output and unused sparsifiers)",
              file=sys.stderr)
        return 2
    sae_width = configs[1].get("model", {}).get("sae_width")
    if not isinstance(sae_width, int) or sae_width < 1:
        print(f"compare_runs.py: {argv[1]}/config.json lacks a positive model.sae_width", file=sys.stderr)
        return 2
    try:
        problems = compare(lines[0], lines[1], sae_width, names=tuple(argv))
    except (KeyError, TypeError) as e:
        print(f"compare_runs.py: a metrics line lacks a figure it compares: {e}", file=sys.stderr)
        return 2
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"compare_runs.py: {len(lines[1])} epochs agree within the tolerances")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
