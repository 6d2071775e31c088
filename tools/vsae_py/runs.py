"""Run and sweep directories (DESIGN §8) as pandas objects, for notebooks and scripts."""
import dataclasses
import os

import pandas as pd

from .files import load_json, load_metrics

# load_sweep's figure columns: name -> the flattened key of results.json it reads.
SWEEP_FIGURES = {
    "dead_schedule_end": "at_schedule_end.dead.headline_dead_fraction",
    "dead_final": "final.dead.headline_dead_fraction",
    "units_dead_schedule_end": "dead_at_schedule_end",
    "recovered_neurons": "recovered_neurons",
    "mig_schedule_end": "at_schedule_end.mig.mig",
    "mig_final": "final.mig.mig",
    "sae_mig_schedule_end": "at_schedule_end.sae_mig.mig",
    "sae_mig_final": "final.sae_mig.mig",
    "k_final": "final.k",
    "mean_l0_final": "final.mean_l0",
    "recon_final": "final.eval_loss.recon",
    "kl_final": "final.eval_loss.kl",
    "images_per_s": "images_per_s",
    "wall_s": "wall_s",
    "device": "device",
}
# Axes that load_sweep always reports under short names (from results.json), not as swept keys.
NAMED_AXES = ("dataset.name", "sparsity.method", "seed")


def flatten(obj, prefix=""):
    """Nested dicts and lists as one dict of dotted keys, lists by index: {"eval_loss": {"recon": 1}}
    gives {"eval_loss.recon": 1}, and dead.grid's third cell is "dead.grid.2.dead_fraction", the
    names summary.json gives the same figures."""
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, list):
        items = enumerate(obj)
    else:
        return {prefix: obj}
    out = {}
    for key, value in items:
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


@dataclasses.dataclass
class Run:
    """One run directory: the resolved config, one metrics row per epoch (nested keys flattened,
    e.g. `eval_loss.recon`, `dead.headline_dead_fraction`), and results.json (None until the run
    has finished)."""
    dir: str
    config: dict
    metrics: pd.DataFrame
    results: dict = None


def load_run(run_dir):
    """The Run of a run directory; also mid-run (results None, a torn last metrics line skipped)."""
    results = os.path.join(run_dir, "results.json")
    return Run(dir=run_dir, config=load_json(os.path.join(run_dir, "config.json")),
               metrics=pd.DataFrame([flatten(line) for line in load_metrics(os.path.join(run_dir, "metrics.jsonl"))]),
               results=load_json(results) if os.path.exists(results) else None)


def load_sweep(sweep_dir):
    """One row per finished member (one with results.json) of a sweep directory, in sweep.json's
    order: member, dataset, method, seed, any other swept key under its key path, then the
    SWEEP_FIGURES columns (None where a member lacks the figure, e.g. SAE-MIG without an SAE)."""
    sweep = load_json(os.path.join(sweep_dir, "sweep.json"))
    rows = []
    for member in sweep["members"]:
        path = os.path.join(sweep_dir, member["name"], "results.json")
        if not os.path.exists(path):
            continue
        results = load_json(path)
        figures = flatten(results)
        row = {"member": member["name"], "dataset": results["dataset"], "method": results["method"],
               "seed": results["seed"]}
        row.update({k: v for k, v in member["values"].items() if k not in NAMED_AXES})
        row.update({name: figures.get(key) for name, key in SWEEP_FIGURES.items()})
        rows.append(row)
    if not rows:  # nothing finished yet: still the columns, so filters on them work
        return pd.DataFrame(columns=["member", "dataset", "method", "seed", *SWEEP_FIGURES])
    return pd.DataFrame(rows)
