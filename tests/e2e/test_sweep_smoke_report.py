"""configs/paper/smoke.json runs on the CPU, and tools/report.py turns it into report.md with every
table and figure of the paper-reproduction report."""
import os
import re
import subprocess

import e2e_common as e2e

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
work = e2e.tempdir()
out = os.path.join(work, "smoke")
r = e2e.run(["--json", os.path.join(root, "configs", "paper", "smoke.json"), "--out", out, "--parallel", "2"])
e2e.check(r.returncode == 0, "the smoke sweep failed: " + r.stderr)

r = subprocess.run(["/usr/bin/python3", os.path.join(root, "tools", "report.py"), out], capture_output=True, text=True)
e2e.check(r.returncode == 0, "report.py failed: " + r.stderr)
report = open(os.path.join(out, "report.md")).read()
for heading in ("## Dead neurons at the schedule's end", "### Shapes3D / dSprites ratio", "### MIG before",
                "## Extended training", "## Threshold robustness", "## Sparsity actually reached",
                "At the schedule's end (the paper's comparison point)", "## When units die"):
    e2e.check(heading in report, f"report.md lacks '{heading}'")
for row in ("| dSprites | Top-k |", "| Shapes3D | Top-k |", "| dSprites | L1 |", "| Shapes3D | L1 |"):
    e2e.check(row in report, f"report.md lacks the row '{row}'")
e2e.check("34.4 ± 0.9" in report and "90.6 ± 0.5" in report, "report.md lacks the paper's numbers")
# Every L1 cell is judged against its target at the schedule's end, flagged or not.
end_rows = re.findall(r"^\| (\S+ L1) \| 50 \| [0-9.]+ \| [-+][0-9.]+ % \| (ok|\*\*missed .*\*\*) \|$", report, re.M)
e2e.check(len(end_rows) == 2, f"report.md lacks the L0-vs-target row of each L1 cell: {end_rows}")
death_rows = re.findall(r"^\| (\S+ (?:Top-k|L1)) \| [0-9.]+ ± .* \| [0-9.]+ ± .* % \(n=2\) \|", report, re.M)
e2e.check(len(death_rows) == 4, f"report.md lacks a death-time row per cell: {death_rows}")
figures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", report)
for name in ("dead_vs_epoch.png", "mig_vs_epoch.png", "fire_frequency_hist.png", "features_dsprites-topk.png",
             "features_shapes3d-l1.png", "l0_vs_target_k.png", "death_time_hist.png"):
    e2e.check(name in figures, f"report.md does not show {name}")
for name in figures:
    path = os.path.join(out, name)
    e2e.check(os.path.exists(path) and open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n", f"{name} is not a PNG")

# An arm of an ablation: the same sweep with the SAE input centred, reported beside the plain one.
arm = os.path.join(work, "smoke_centred")
r = e2e.run(["--json", os.path.join(root, "configs", "paper", "smoke.json"), "--out", arm, "--parallel", "2",
             "--set", "model.sae.pre_encoder_bias=true", "--set", "model.sae.decoder_bias_init=mean",
             "--set", "output.save_latents=true"])
e2e.check(r.returncode == 0, "the centred smoke sweep failed: " + r.stderr)
report_py = ["/usr/bin/python3", os.path.join(root, "tools", "report.py")]
r = subprocess.run(report_py + [out, arm], capture_output=True, text=True)
e2e.check(r.returncode != 0 and "--out is needed with several sweep directories" in r.stderr,
          "two sweeps without --out must be refused: " + r.stderr)
both = os.path.join(work, "both")
# The suite takes minutes per saved point; --cached-disentanglement scores nothing new and says so
# (8 centred members saved their codes at the schedule's end and at the end).
r = subprocess.run(report_py + [out, arm, "--out", both, "--cached-disentanglement"], capture_output=True, text=True)
e2e.check(r.returncode == 0, "report.py over two sweeps failed: " + r.stderr)
arms = open(os.path.join(both, "report.md")).read()
e2e.check("Scored so far: 0 of 16 saved points" in arms and "disentanglement metrics of" not in r.stderr,
          "--cached-disentanglement computed scores or miscounted the saved points:\n" + r.stderr)
e2e.check("16 of 16 members finished" in arms, "the report counts the members of both sweeps")
section = arms.split("## Arms side by side")[1].split("\n## ")[0]
for dataset in ("dSprites", "Shapes3D"):
    plain = re.findall(rf"^\| {dataset} Top-k \| [0-9.]+ ± [0-9.]+ \(n=2\) \| — \|", section, re.M)
    centred = re.findall(rf"^\| {dataset} Top-k \(pre-encoder bias, b_dec=mean\) \| [0-9.]+ ± [0-9.]+ \(n=2\) \| "
                         r"[-+][0-9.]+ \|", section, re.M)
    e2e.check(len(plain) == 1 and len(centred) == 1, f"{dataset}: the arms table lacks the plain or centred row")
ratios = arms.split("### Shapes3D / dSprites ratio")[1].split("\n#")[0]
e2e.check(re.search(r"^\| Top-k \(pre-encoder bias, b_dec=mean\) \| [0-9.]+× \| — \| — \|$", ratios, re.M),
          "the ratio table lacks the centred arm's Shapes3D / dSprites ratio")
e2e.check("![dead_vs_k_by_dataset.png](dead_vs_k_by_dataset.png)" in arms, "the per-dataset dead-vs-k figure")
arm_figures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", arms)
e2e.check("features_dsprites-topk-pre-encoder-bias-b_dec-mean.png" in arm_figures, f"the centred arm's features: {arm_figures}")
for name in arm_figures:
    e2e.check(" " not in name and os.path.exists(os.path.join(both, name)), f"figure {name!r}: a space or missing")
print(report.split("## Extended")[0])
print(f"PASSED: report.md with every table and {len(figures)} figures, and an arms report over two sweeps")
