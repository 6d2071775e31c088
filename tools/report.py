#!/usr/bin/env python3
"""Turns a sweep directory (vsae_gpu --json sweep.json) into report.md and PNG figures beside it.

Usage: tools/report.py SWEEP_DIR [SWEEP_DIR ...] [--out DIR]. Reads each SWEEP_DIR/summary.json (the C++ aggregation,
`vsae_gpu sweep-summary`), and each member's metrics.jsonl, results.json and checkpoint for the
curves, histograms and feature images, and the latents and SAE codes members saved
(output.save_latents) for the disentanglement metrics. Needs numpy and matplotlib; torch only for
feature images, scikit-learn only for the disentanglement metrics.
"""
import argparse
import math
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from vsae_py.files import SCHEDULE_END_DIR, load_json, load_metrics  # noqa: E402

# The paper's published figures (arXiv 2603.18056, abstract): dead % at k = 50, mean ± std.
PAPER_DEAD = {("dsprites", "topk"): (34.4, 0.9), ("shapes3d", "topk"): (62.7, 1.3),
              ("dsprites", "l1"): (41.7, 4.4), ("shapes3d", "l1"): (90.6, 0.5)}
PAPER_RATIO = {"topk": 1.8, "l1": 2.2}
DATASET_LABEL = {"dsprites": "dSprites", "shapes3d": "Shapes3D"}
METHOD_LABEL = {"topk": "Top-k", "l1": "L1", "l1_prox": "L1-prox", "batchtopk": "BatchTopK", "jumprelu": "JumpReLU"}


# The SAE controls, the Multi-TopK term and the L1-prox threshold's form (README: model.sae,
# sparsity.multi_topk, sparsity.l1_prox.threshold), as short tags in a cell's label, when a
# member's config.json sets them away from their defaults.
def sae_controls(config):
    sae = config.get("model", {}).get("sae", {})
    tags = []
    if sae.get("pre_encoder_bias"):
        tags.append("pre-encoder bias")
    if sae.get("decoder_bias_init", "default") != "default":
        tags.append(f"b_dec={sae['decoder_bias_init']}")
    if sae.get("tied_init"):
        tags.append("tied init")
    if sae.get("unit_norm_decoder"):
        tags.append("unit-norm decoder")
    if config.get("sparsity", {}).get("multi_topk"):
        tags.append("Multi-TopK")
    threshold = config.get("sparsity", {}).get("l1_prox", {}).get("threshold", "absolute")
    if threshold != "absolute":
        tags.append(f"{threshold.replace('_', '-')} threshold")
    return tags


def slugify(text):
    """A file-name part: letters, digits, '_', '.' and '-' only (Markdown links break on spaces)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def mean_std(xs):
    """Sample std (n − 1), as summary.json reports it."""
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not xs:
        return None
    a = np.asarray(xs, dtype=np.float64)
    return a.mean(), (a.std(ddof=1) if a.size > 1 else 0.0), a.size


def fmt(stat, scale=1.0, digits=1, unit="", with_n=True):
    """"mean ± std (n=N)" of a (mean, std, n) triple or a summary.json figure; "—" when absent."""
    if stat is None:
        return "—"
    if isinstance(stat, dict):
        stat = (stat["mean"], stat["std"], stat["n"])
    m, s, n = stat
    return f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}{unit}" + (f" (n={n})" if with_n else "")


class Cell:
    """One group of the sweep (a dataset × method × other non-seed values) and its finished members."""

    def __init__(self, sweep_dir, group):
        self.values = group["values"]
        self.figures = group["figures"]
        self.dirs = [os.path.join(sweep_dir, name) for name in group["members"]]
        self.results = [load_json(os.path.join(d, "results.json")) for d in self.dirs]
        self.metrics = [load_metrics(os.path.join(d, "metrics.jsonl")) for d in self.dirs]
        first = self.results[0] if self.results else {}
        self.dataset = self.values.get("dataset.name", first.get("dataset", "?"))
        self.method = self.values.get("sparsity.method", first.get("method", "?"))
        config = os.path.join(self.dirs[0], "config.json") if self.dirs else ""
        self.controls = sae_controls(load_json(config)) if os.path.exists(config) else []
        others = [f"{k}={v}" for k, v in self.values.items() if k not in ("dataset.name", "sparsity.method")]
        self.label = " ".join([DATASET_LABEL.get(self.dataset, self.dataset), METHOD_LABEL.get(self.method, self.method)]
                              + ([f"({', '.join(self.controls)})"] if self.controls else []) + others)
        self.slug = slugify("-".join([str(v) for v in self.values.values()] + self.controls)) or "all"

    def stat(self, figure):
        f = self.figures.get(figure)
        return None if f is None else (f["mean"], f["std"], f["n"])

    def per_epoch(self, getter):
        """(epochs, mean, std) over seeds of getter(metrics line), on the epochs every seed has."""
        n = min((len(m) for m in self.metrics), default=0)
        if n == 0:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        values = np.array([[getter(m[e]) for e in range(n)] for m in self.metrics], dtype=np.float64)
        return np.arange(1, n + 1), values.mean(axis=0), values.std(axis=0)


def main_table(cells):
    lines = ["## Dead neurons at the schedule's end (k = 50 in the paper)", "",
             "Headline definition: a unit is dead when it never fires on the evaluation set (t = 0, ε = 0).", "",
             "| dataset | method | ours: dead % | paper: dead % | difference (points) |",
             "| --- | --- | --- | --- | --- |"]
    for c in cells:
        ours = c.stat("at_schedule_end.dead.headline_dead_fraction")
        paper = PAPER_DEAD.get((c.dataset, c.method)) if not c.controls else None  # the paper ran plain SAEs
        diff = "—" if ours is None or paper is None else f"{100 * ours[0] - paper[0]:+.1f}"
        paper_s = "—" if paper is None else f"{paper[0]:.1f} ± {paper[1]:.1f}"
        lines.append(f"| {DATASET_LABEL.get(c.dataset, c.dataset)} | {c.label.split(' ', 1)[1]} | "
                     f"{fmt(ours, 100)} | {paper_s} | {diff} |")

    lines += ["", "### Shapes3D / dSprites ratio of dead neurons", "",
              "| method | ours | paper | difference |", "| --- | --- | --- | --- |"]
    by_key = {(c.dataset, c.label.split(" ", 1)[1]): c for c in cells}
    for (dataset, rest), c in by_key.items():
        if dataset != "dsprites" or ("shapes3d", rest) not in by_key:
            continue
        a = c.stat("at_schedule_end.dead.headline_dead_fraction")
        b = by_key[("shapes3d", rest)].stat("at_schedule_end.dead.headline_dead_fraction")
        ratio = None if not a or not b or a[0] == 0 else b[0] / a[0]
        paper = PAPER_RATIO.get(c.method) if not c.controls else None
        lines.append(f"| {rest} | {'—' if ratio is None else f'{ratio:.2f}×'} | "
                     f"{'—' if paper is None else f'{paper:.1f}×'} | "
                     f"{'—' if ratio is None or paper is None else f'{ratio - paper:+.2f}'} |")

    lines += ["", "### MIG before (first epoch) and after (schedule end)", "",
              "| cell | MIG first epoch | MIG schedule end | SAE-MIG first epoch | SAE-MIG schedule end |",
              "| --- | --- | --- | --- | --- |"]
    for c in cells:
        first = mean_std([m[0]["mig"]["mig"] for m in c.metrics if m])
        first_sae = mean_std([m[0]["sae_mig"]["mig"] for m in c.metrics if m and "sae_mig" in m[0]])
        lines.append(f"| {c.label} | {fmt(first, 1, 3)} | {fmt(c.stat('at_schedule_end.mig.mig'), 1, 3)} | "
                     f"{fmt(first_sae, 1, 3)} | {fmt(c.stat('at_schedule_end.sae_mig.mig'), 1, 3)} |")
    return lines


def extended_table(cells):
    lines = ["## Extended training at the final sparsity", "",
             "| cell | dead % at schedule end | dead % final | units dead at schedule end | recovered units | "
             "MIG final | images/s |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for c in cells:
        lines.append(f"| {c.label} | {fmt(c.stat('at_schedule_end.dead.headline_dead_fraction'), 100)} | "
                     f"{fmt(c.stat('final.dead.headline_dead_fraction'), 100)} | "
                     f"{fmt(c.stat('dead_at_schedule_end'), 1, 1)} | {fmt(c.stat('recovered_neurons'), 1, 1)} | "
                     f"{fmt(c.stat('final.mig.mig'), 1, 3)} | {fmt(c.stat('images_per_s'), 1, 0)} |")
    return lines


def is_plain(cell, method):
    return cell.method == method and not cell.controls


def arms_table(cells):
    """Every cell against the plain Top-k cell of its dataset (and the paper's Top-k and L1
    figures): what the collapse looks like at the schedule's end, what the extra epochs revive, the
    SAE input's γ and the sparsity reached, and the losses paid."""
    dead_end = "at_schedule_end.dead.headline_dead_fraction"
    lines = ["## Arms side by side (each control or sparsifier against plain Top-k)", "",
             "At the schedule's end (k = end), t = 0, ε = 0; mean ± sample std over seeds (n). Δ: points against "
             "the plain Top-k cell of the same dataset. γ = ‖mean(x)‖ / ‖std(x)‖ of the SAE encoder's input x on the "
             "evaluation set. Losses on the evaluation set: recon and KL in nats per image, SAE as trained. The "
             "Shapes3D / dSprites ratios are in the first table.", "",
             "| cell | dead % | Δ vs plain Top-k | paper (Top-k / L1) | dead % final | units recovered | γ | "
             "mean L0 / k | recon | KL | SAE loss |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in cells:
        base = next((b for b in cells if b.dataset == c.dataset and is_plain(b, "topk")), None)
        ours, ref = c.stat(dead_end), base.stat(dead_end) if base else None
        delta = "—" if ours is None or ref is None or c is base else f"{100 * (ours[0] - ref[0]):+.1f}"
        paper = " / ".join(f"{PAPER_DEAD[c.dataset, m][0]:.1f}" if (c.dataset, m) in PAPER_DEAD else "—"
                           for m in ("topk", "l1"))
        l0, k = c.stat("at_schedule_end.mean_l0"), c.stat("at_schedule_end.k")
        loss = {key: fmt(c.stat(f"at_schedule_end.eval_loss.{key}"), 1, 3 if key == "sae" else 1, with_n=False)
                for key in ("recon", "kl", "sae")}
        lines.append(f"| {c.label} | {fmt(ours, 100)} | {delta} | {paper} | "
                     f"{fmt(c.stat('final.dead.headline_dead_fraction'), 100)} | "
                     f"{fmt(c.stat('recovered_neurons'), 1, 1, with_n=False)} | "
                     f"{fmt(c.stat('at_schedule_end.sae_input.gamma'), 1, 2, with_n=False)} | "
                     f"{'—' if l0 is None or k is None else f'{l0[0]:.1f} / {k[0]:.0f}'} | {loss['recon']} | "
                     f"{loss['kl']} | {loss['sae']} |")
    return lines


def dead_percent(line):
    return 100 * line["dead"]["headline_dead_fraction"]


def plot_dead_vs_k_by_dataset(cells, out_dir):
    """Dead % against the target k, every cell of a dataset on one axis (mean over seeds)."""
    datasets = sorted({c.dataset for c in cells})
    fig, axes = plt.subplots(1, len(datasets), figsize=(7 * len(datasets), 4.8), squeeze=False)
    for ax, dataset in zip(axes.flat, datasets):
        for c in (c for c in cells if c.dataset == dataset):
            e, m, _ = c.per_epoch(dead_percent)
            k = np.array([line["k"] for line in c.metrics[0][:len(e)]]) if c.metrics else np.zeros(0)
            # The extra epochs repeat k = end; the last of them shows where each arm ended.
            ax.plot(k, m, marker="o", ms=3, label=c.label.split(" ", 1)[1] + f" (n={len(c.metrics)})")
        ax.set(xlabel="k (target active units)", ylabel="dead units (%)", ylim=(0, 100),
               title=f"{DATASET_LABEL.get(dataset, dataset)}: dead SAE units vs k")
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return [save(fig, out_dir, "dead_vs_k_by_dataset.png")]


def threshold_table(cells):
    """Dead % at the schedule's end for every (t, ε) of the evaluation grid."""
    grid = next((c.results[0]["at_schedule_end"]["dead"]["grid"] for c in cells
                 if c.results and "at_schedule_end" in c.results[0]), None)
    if grid is None:
        return ["## Threshold robustness", "", "No member reached the schedule's end."]
    heads = [f"t={g['t']:g}, ε={g['eps']:g}" for g in grid]
    lines = ["## Threshold robustness (dead % at the schedule's end)", "",
             "A unit is dead when its firing frequency f ≤ t, where it fires on x when a(x) > ε.", "",
             "| cell | " + " | ".join(heads) + " |", "| --- |" + " --- |" * len(heads)]
    for c in cells:
        row = [fmt(c.stat(f"at_schedule_end.dead.grid.{i}.dead_fraction"), 100, with_n=False)
               for i in range(len(grid))]
        lines.append(f"| {c.label} | " + " | ".join(row) + " |")
    return lines


def schedule_end_line(metrics):
    """The metrics line of the schedule's last epoch (k at its final value), or None."""
    lines = [line for line in metrics if line.get("phase") == "schedule"]
    return lines[-1] if lines else None


def sparsity_table(cells, tolerance=0.10):
    """Mean L0 on the evaluation set against the target k per epoch: L1 is compared with Top-k 'at
    the same sparsity' only if its controller tracked k. Cells off by more than `tolerance` at the
    schedule's end are flagged."""
    n = min((len(m) for c in cells for m in c.metrics), default=0)
    if n == 0:
        return []
    ks = [line["k"] for line in cells[0].metrics[0][:n]]
    lines = ["## Sparsity actually reached: mean L0 against the target k", "",
             "Mean number of active SAE units per evaluation image (mean over seeds). Top-k meets k by "
             "construction (or stays below it when fewer than k pre-activations are positive); L1 tracks k "
             "through its adaptive λ.", "",
             "| epoch | target k | " + " | ".join(c.label for c in cells) + " |",
             "| --- | --- |" + " --- |" * len(cells)]
    for e in range(n):
        row = [f"{np.mean([m[e]['mean_l0'] for m in c.metrics]):.1f}" for c in cells]
        lines.append(f"| {e + 1} | {ks[e]} | " + " | ".join(row) + " |")
    lines += ["", "At the schedule's end (the paper's comparison point):", "",
              "| cell | target k | mean L0 | miss | flag |", "| --- | --- | --- | --- | --- |"]
    for c in cells:
        ends = [schedule_end_line(m) for m in c.metrics]
        ends = [line for line in ends if line is not None]
        if not ends:
            continue
        k = ends[0]["k"]
        l0 = float(np.mean([line["mean_l0"] for line in ends]))
        miss = (l0 - k) / k
        flag = f"**missed the target by more than {100 * tolerance:.0f} %**" if abs(miss) > tolerance else "ok"
        lines.append(f"| {c.label} | {k} | {l0:.1f} | {100 * miss:+.1f} % | {flag} |")
    return lines


def death_epochs(cell):
    """Per member: (death epochs of the units dead at the schedule's end that stayed dead, how many
    such units revived later, k per epoch). results.json gives each unit's final death epoch; a unit
    that revived in the extra epochs has no death epoch of the schedule's end, so it is left out and
    counted instead."""
    out = []
    for r, m in zip(cell.results, cell.metrics):
        end = schedule_end_line(m)
        if "death_epoch" not in r or end is None:
            continue
        death = [d for d in r["death_epoch"] if d is not None and d <= end["epoch"]]
        revived = r.get("recovered_neurons") or 0
        out.append((np.asarray(death, dtype=np.int64), revived, np.array([line["k"] for line in m])))
    return out


def death_table(cells, k_mark=100):
    lines = ["## When units die", "",
             "A unit's death epoch is the first epoch from which it never fires again on the evaluation set. "
             f"Below: the units dead at the schedule's end, and the share of them that had already died while "
             f"the target k was still above {k_mark}.", "",
             f"| cell | units dead at schedule end (stayed dead) | revived later (left out) | "
             f"died while k > {k_mark} | never fired at all | median death epoch |",
             "| --- | --- | --- | --- | --- | --- |"]
    for c in cells:
        members = death_epochs(c)
        if not members:
            lines.append(f"| {c.label} | — | — | — | — | — |")
            continue
        early = mean_std([float(np.mean(k[d] > k_mark)) if d.size else float("nan") for d, _, k in members])
        never = mean_std([float(np.mean(d == 0)) if d.size else float("nan") for d, _, _ in members])
        pooled = np.concatenate([d for d, _, _ in members])
        median = f"{np.median(pooled) + 1:.0f}" if pooled.size else "—"
        lines.append(f"| {c.label} | {fmt(mean_std([d.size for d, _, _ in members]), 1, 1)} | "
                     f"{fmt(mean_std([r for _, r, _ in members]), 1, 1)} | {fmt(early, 100, 1, ' %')} | "
                     f"{fmt(never, 100, 1, ' %')} | {median} |")
    lines += ["", "Epochs are counted from 1 as in the figures; a death epoch of 1 means the unit never fired."]
    return lines


# Columns of the disentanglement table: (key in vsae_py.disentanglement's scores, heading).
DISENTANGLEMENT_COLUMNS = (("dci_disentanglement", "DCI D"), ("dci_completeness", "DCI C"),
                           ("dci_completeness_live", "DCI C (live)"), ("dci_informativeness_test", "DCI I"),
                           ("sap", "SAP"), ("modularity", "modularity"), ("modularity_live", "modularity (live)"),
                           ("explicitness_test", "explicitness"), ("factor_vae", "FactorVAE"))
# Where a member's saved representations are (vsae_gpu's output.save_latents): the folder under the
# run directory ("" for the run directory itself), the results.json key of the same evaluation, and
# the table's name for it.
SAVED_POINTS = ((SCHEDULE_END_DIR, "at_schedule_end", "schedule end"), ("", "final", "end"))


def disentanglement_scores(run_dir, subdir, cache, dci_train, compute=True):
    """evaluate_run's scores for the representations one member saved in run_dir/subdir, from
    `cache` when the files it reads and its settings are the ones cached (the suite takes minutes
    on wide SAE codes); None when they are not cached and `compute` is False."""
    from vsae_py.disentanglement import VERSION, evaluate_run, representation_files

    present, factors = representation_files(run_dir, subdir)
    stats = [(path, os.stat(path)) for path in (*present.values(), factors)]
    key = {"files": [[os.path.basename(path), st.st_size, st.st_mtime_ns] for path, st in stats],
           "dci_train": dci_train, "version": VERSION}
    where = os.path.abspath(os.path.join(run_dir, subdir))
    entry = cache.get(where)
    if entry is not None and entry["key"] == key:
        return entry["scores"]
    if not compute:
        return None
    print(f"report.py: disentanglement metrics of {os.path.join(run_dir, subdir)} ...", file=sys.stderr, flush=True)
    scores = evaluate_run(run_dir, subdir=subdir, **({"dci_num_train": dci_train} if dci_train else {}))
    cache[where] = {"key": key, "scores": scores}
    return scores


def disentanglement_table(cells, out_dir, dci_train=None, cached_only=False):
    """DCI, SAP, modularity/explicitness and FactorVAE (tools/vsae_py/disentanglement.py) beside MIG,
    on the latents and SAE codes that members saved (output.save_latents) at the schedule's end and
    at the end of training. The scores are cached in OUT/disentanglement_cache.json; with
    cached_only, members whose scores are not there yet are left out, and the section says how
    many."""
    import json

    from vsae_py.disentanglement import representation_files

    members = [(c, d, sub) for c in cells for d in c.dirs if os.path.exists(os.path.join(d, "factors.npy"))
               for sub, _, _ in SAVED_POINTS if representation_files(d, sub)[0]]
    head = ["## Disentanglement metrics", ""]
    if not members:
        return head + ["No member saved its latents (output.save_latents), so there are no disentanglement metrics "
                       "beside MIG."]
    cache_path = os.path.join(out_dir, "disentanglement_cache.json")
    cache = load_json(cache_path) if os.path.exists(cache_path) else {}
    scores = {}
    for c, d, sub in members:
        found = disentanglement_scores(d, sub, cache, dci_train, compute=not cached_only)
        if found is None:
            continue
        scores[d, sub] = found
        with open(cache_path, "w") as f:
            json.dump(cache, f)
    missing = len(members) - len(scores)
    partial = [f"Scored so far: {len(scores)} of {len(members)} saved points (member × point); the other {missing} "
               "are left out (--cached-disentanglement), so the seeds column counts what each row averages.", ""]
    lines = head + (partial if missing else []) + [
        "disentanglement_lib's definitions and defaults (DCI with gradient-boosted trees, SAP with a linear SVM per "
        "dimension, modularity from 20-bin mutual information, explicitness as one-vs-rest ROC-AUC, the FactorVAE "
        "majority vote), on the evaluation set saved at the schedule's end (k = end) and at the end of training; MIG "
        "is results.json's MIG of the same code at the same point (SAE-MIG for the SAE codes). Dead units: "
        "modularity counts each as 0 and DCI completeness (an entropy in base = number of codes) rises with them; the "
        "(live) columns leave them out. "
        + ("DCI's trees were fitted on all training rows." if not dci_train
           else f"DCI's trees were fitted on at most {dci_train} training rows."), "",
        "| cell | code | point | seeds | MIG | " + " | ".join(h for _, h in DISENTANGLEMENT_COLUMNS) + " |",
        "| --- | --- | --- | --- | --- |" + " --- |" * len(DISENTANGLEMENT_COLUMNS)]
    for c in cells:
        for code, mig_key in (("latents", "mig"), ("sae_codes", "sae_mig")):
            for sub, result_key, point in SAVED_POINTS:
                have = [(d, r) for d, r in zip(c.dirs, c.results) if code in scores.get((d, sub), {})]
                if not have:
                    continue
                migs = mean_std([r.get(result_key, {}).get(mig_key, {}).get("mig") for _, r in have])
                row = [fmt(migs, 1, 3, with_n=False)]
                row += [fmt(mean_std([scores[d, sub][code].get(key) for d, _ in have]), 1, 3, with_n=False)
                        for key, _ in DISENTANGLEMENT_COLUMNS]
                label = "latents (mu)" if code == "latents" else "SAE codes"
                lines.append(f"| {c.label} | {label} | {point} | {len(have)} | " + " | ".join(row) + " |")
    return lines


def plot_sparsity(cells, out_dir):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for c in cells:
        e, m, s = c.per_epoch(lambda line: line["mean_l0"])
        ax.plot(e, m, marker="o", ms=3, label=c.label)
        ax.fill_between(e, m - s, m + s, alpha=0.2)
    if cells and cells[0].metrics:
        m0 = cells[0].metrics[0]
        ax.plot(np.arange(1, len(m0) + 1), [line["k"] for line in m0], "k--", lw=1.5, label="target k")
    mark_schedule_end(ax, cells)
    ax.set(xlabel="epoch", ylabel="mean L0 (active units per image)", title="Mean L0 on the evaluation set vs target k")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return [save(fig, out_dir, "l0_vs_target_k.png")]


def plot_death_times(cells, out_dir):
    """Per cell: a histogram of death epochs (units dead at the schedule's end, pooled over seeds)
    with the k schedule on a second axis."""
    cols = min(len(cells), 2)
    rows = math.ceil(len(cells) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.6 * rows), squeeze=False)
    for ax, c in zip(axes.flat, cells):
        members = death_epochs(c)
        if not members:
            ax.set_title(f"{c.label}: no death_epoch in results.json")
            continue
        k = members[0][2]
        pooled = np.concatenate([d for d, _, _ in members]) + 1
        ax.hist(pooled, bins=np.arange(0.5, len(k) + 1.5), color="tab:red", alpha=0.8, label="units that died")
        ax.set(xlabel="death epoch", ylabel=f"units ({len(members)} seeds pooled)",
               title=f"{c.label}: {pooled.size} units dead at the schedule's end")
        twin = ax.twinx()
        twin.plot(np.arange(1, len(k) + 1), k, "k--", lw=1.2, label="target k")
        twin.set_ylabel("target k")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.legend(loc="upper left", fontsize=8)
        twin.legend(loc="upper right", fontsize=8)
    for ax in list(axes.flat)[len(cells):]:
        ax.axis("off")
    fig.tight_layout()
    return [save(fig, out_dir, "death_time_hist.png")]


def mark_schedule_end(ax, cells):
    """A dotted line where k reaches its final value (the extra epochs follow it)."""
    ends = {line["epoch"] + 1 for c in cells for m in c.metrics[:1] for line in m if line.get("phase") == "schedule"}
    if ends:
        ax.axvline(max(ends), color="grey", ls=":", lw=1)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))


def plot_curves(cells, out_dir):
    files = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for c in cells:
        e, m, s = c.per_epoch(dead_percent)
        ax.plot(e, m, marker="o", ms=3, label=c.label)
        ax.fill_between(e, m - s, m + s, alpha=0.2)
    mark_schedule_end(ax, cells)
    ax.set(xlabel="epoch", ylabel="dead units (%)", ylim=(0, 100), title="Dead SAE units vs epoch (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(save(fig, out_dir, "dead_vs_epoch.png"))

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for c in cells:
        e, m, s = c.per_epoch(lambda line: line["mig"]["mig"])
        axes[0].plot(e, m, marker="o", ms=3, label=c.label)
        axes[0].fill_between(e, m - s, m + s, alpha=0.2)
        e, m, s = c.per_epoch(lambda line: line.get("sae_mig", {}).get("mig", float("nan")))
        axes[1].plot(e, m, marker="o", ms=3, label=c.label)
        axes[1].fill_between(e, m - s, m + s, alpha=0.2)
    mark_schedule_end(axes[0], cells)
    mark_schedule_end(axes[1], cells)
    axes[0].set(xlabel="epoch", ylabel="MIG", title="MIG of the VAE latents vs epoch")
    axes[1].set(xlabel="epoch", ylabel="SAE-MIG", title="MIG of the SAE units vs epoch")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(save(fig, out_dir, "mig_vs_epoch.png"))
    return files


def plot_histograms(cells, out_dir):
    """Final per-unit firing frequency pooled over seeds; never-firing units get their own bar."""
    cols = min(len(cells), 2)
    rows = math.ceil(len(cells) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.6 * rows), squeeze=False)
    for ax, c in zip(axes.flat, cells):
        f = np.concatenate([np.asarray(r.get("final_fire_frequency", []), dtype=np.float64) for r in c.results])
        if f.size == 0:
            ax.set_title(f"{c.label}: no final_fire_frequency in results.json")
            continue
        live = f[f > 0]
        floor = max(1e-5, live.min() / 2) if live.size else 1e-5
        bins = np.logspace(np.log10(floor), 0, 30)
        ax.hist(live, bins=bins, color="tab:blue", label="live units")
        ax.bar(floor / 1.6, np.sum(f == 0), width=floor * 0.5, color="tab:red", label="dead (f = 0)")
        ax.set_xscale("log")
        ax.set(xlabel="firing frequency on the evaluation set", ylabel="units (all seeds)",
               title=f"{c.label}: {100 * np.mean(f == 0):.1f} % dead")
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(cells):]:
        ax.axis("off")
    fig.tight_layout()
    return [save(fig, out_dir, "fire_frequency_hist.png")]


def feature_images(cell, out_dir, scale, per_kind=8):
    """Decoder images of single SAE units: a = scale·e_j through sae.dec, head.mu and the decoder."""
    import torch
    from vsae_py.model import load_model

    run = cell.dirs[0]
    model = load_model(run)
    width = model.sae.enc.out_features
    channels = model.decoder.deconv4.out_channels
    freq = np.asarray(cell.results[0]["final_fire_frequency"])
    live = [int(u) for u in np.argsort(-freq) if freq[u] > 0][:per_kind]
    dead = [int(u) for u in np.flatnonzero(freq == 0)][:per_kind]
    with torch.no_grad():
        units = live + dead
        codes = torch.zeros(len(units) + 1, width)
        for i, u in enumerate(units):
            codes[i, u] = scale
        # The last row is all-zero codes: the image the decoder draws from the SAE's bias alone.
        images = torch.sigmoid(model.decode(model.head.mu(model.sae.dec(codes)))).numpy()
    # A single unit barely moves the image, so each panel shows its change from the bias-only image
    # (last column), grey-averaged, on a symmetric scale of its own; red brightens, blue darkens.
    base = images[-1]
    fig, axes = plt.subplots(2, per_kind + 1, figsize=(1.7 * (per_kind + 1), 4.6), squeeze=False)
    for row, (kind, group, offset) in enumerate((("live", live, 0), ("dead", dead, len(live)))):
        for col in range(per_kind + 1):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col == per_kind:
                ax.imshow(base[0] if channels == 1 else base.transpose(1, 2, 0), cmap="gray", vmin=0, vmax=1)
                ax.set_title("bias only\n(no unit)", fontsize=7)
            elif col < len(group):
                diff = (images[offset + col] - base).mean(axis=0)
                lim = max(float(np.abs(diff).max()), 1e-6)
                ax.imshow(diff, cmap="coolwarm", vmin=-lim, vmax=lim)
                ax.set_title(f"{kind} #{group[col]}\nf={freq[group[col]]:.3f} |Δ|≤{lim:.2g}", fontsize=7)
            else:
                ax.axis("off")
    fig.suptitle(f"{cell.label} ({os.path.basename(run)}): change of the decoded image when one SAE unit is set "
                 f"to a = {scale:g} (top: most frequent live units, bottom: dead units)",
                 fontsize=9)
    fig.tight_layout()
    return save(fig, out_dir, f"features_{cell.slug}.png")


def save(fig, out_dir, name):
    fig.savefig(os.path.join(out_dir, name), dpi=110)
    plt.close(fig)
    return name


def name_duplicate_cells(cells):
    """Cells of several sweeps that would share a label (they differ in a setting the label does
    not show) get their sweep directory's name in the label and the slug."""
    labels = [c.label for c in cells]
    for c in cells:
        if labels.count(c.label) > 1:
            sweep = os.path.basename(os.path.dirname(os.path.normpath(c.dirs[0])))
            c.label += f" [{sweep}]"
            c.slug = slugify(f"{c.slug}-{sweep}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dirs", nargs="+", metavar="SWEEP_DIR",
                        help="one sweep directory, or several reported together (e.g. the arms of an ablation)")
    parser.add_argument("--out", help="where report.md and the PNGs go (default: SWEEP_DIR; needed with several)")
    parser.add_argument("--feature-scale", type=float, default=5.0,
                        help="activation given to one SAE unit for its feature image (default 5)")
    parser.add_argument("--dci-train", type=int, default=None, metavar="N",
                        help="fit DCI's boosted trees on at most N training rows (default: all, as "
                             "disentanglement_lib; the trees take minutes on 500-wide SAE codes)")
    parser.add_argument("--cached-disentanglement", action="store_true",
                        help="use only the disentanglement scores already cached in OUT/disentanglement_cache.json "
                             "(a partial section, which says how many points it has); compute nothing")
    parser.add_argument("--no-disentanglement", action="store_true",
                        help="leave out the disentanglement metrics (DCI, SAP, modularity, FactorVAE)")
    args = parser.parse_args()
    if len(args.sweep_dirs) > 1 and not args.out:
        sys.exit("report.py: --out is needed with several sweep directories")
    out_dir = args.out or args.sweep_dirs[0]
    os.makedirs(out_dir, exist_ok=True)
    cells, finished, members, missing = [], 0, 0, []
    for sweep_dir in args.sweep_dirs:
        summary_path = os.path.join(sweep_dir, "summary.json")
        if not os.path.exists(summary_path):
            sys.exit(f"report.py: {summary_path} is missing; run `vsae_gpu sweep-summary {sweep_dir}` first")
        summary = load_json(summary_path)
        cells += [Cell(sweep_dir, g) for g in summary["groups"] if g["members"]]
        finished += summary["finished"]
        members += summary["members"]
        missing += [os.path.join(os.path.relpath(sweep_dir), m) if len(args.sweep_dirs) > 1 else m
                    for m in summary.get("missing", [])]
    if not cells:
        sys.exit(f"report.py: no finished member in {', '.join(args.sweep_dirs)}")
    name_duplicate_cells(cells)

    figures = (plot_curves(cells, out_dir) + plot_dead_vs_k_by_dataset(cells, out_dir) + plot_histograms(cells, out_dir)
               + plot_sparsity(cells, out_dir) + plot_death_times(cells, out_dir))
    notes = []
    try:
        import torch  # noqa: F401
        figures += [feature_images(c, out_dir, args.feature_scale) for c in cells]
    except ImportError:
        notes.append("Feature images skipped: PyTorch is not installed (Debian: python3-torch).")

    lines = [f"# Sweep report: {', '.join(os.path.relpath(d) for d in args.sweep_dirs)}", "",
             f"{finished} of {members} members finished"
             + (f" (missing: {', '.join(missing)})" if missing else "") + ". "
             "Figures are mean ± sample std over seeds (n = seeds per cell); the paper's numbers are from its "
             "abstract (arXiv 2603.18056).", ""]
    lines += main_table(cells) + [""] + arms_table(cells) + [""] + extended_table(cells) + [""]
    lines += threshold_table(cells) + [""]
    lines += sparsity_table(cells) + [""] + death_table(cells) + [""]
    lines += (["## Disentanglement metrics", "", "Left out (--no-disentanglement)."] if args.no_disentanglement
              else disentanglement_table(cells, out_dir, args.dci_train, args.cached_disentanglement)) + [""]
    lines += ["## Figures", ""] + [f"![{f}]({f})" for f in figures]
    lines += [""] + notes
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"report.py: wrote {os.path.join(out_dir, 'report.md')} and {len(figures)} figures")


if __name__ == "__main__":
    main()
