"""tools/compare_runs.py: two runs agree within its tolerances, a loss or a dead fraction beyond
them is named, and runs of different configs are refused (exit 0, 1, 2).
Run: python3 tests/python/test_compare_runs.py (exit 0: passed)."""
import copy
import json
import os
import subprocess
import sys
import tempfile

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
script = os.path.join(root, "tools", "compare_runs.py")


def line(epoch, recon, dead):
    return {"epoch": epoch, "k": 50, "eval_loss": {"recon": recon, "kl": 3.0},
            "train_loss_last_batch": {"recon": recon + 1.0, "kl": 3.1},
            "dead": {"headline_dead_fraction": dead, "grid": [{"t": 0.0, "eps": 0.0, "dead_fraction": dead}]},
            "dead_in_training": dead, "mean_l0": 50.0, "mig": {"mig": 0.05}, "sae_mig": {"mig": 0.04}}


def write_run(directory, config, lines):
    os.makedirs(directory)
    json.dump(config, open(os.path.join(directory, "config.json"), "w"))
    with open(os.path.join(directory, "metrics.jsonl"), "w") as f:
        f.writelines(json.dumps(x) + "\n" for x in lines)
    return directory


def compare(a, b):
    r = subprocess.run([sys.executable, script, a, b], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


work = tempfile.mkdtemp(prefix="vsae_compare_")
config = {"seed": 0, "device": "cpu", "model": {"sae_width": 100}, "output": {"dir": "x"}}
base = [line(0, 200.0, 0.10), line(1, 150.0, 0.20)]
ref = write_run(os.path.join(work, "ref"), config, base)
failures = []

near = copy.deepcopy(base)
near[1]["eval_loss"]["recon"] *= 1.001  # within 2e-3 relative
near[1]["dead"]["headline_dead_fraction"] += 0.01  # one unit of 100
other = dict(config, device="cuda", output={"dir": "y"})  # device and output may differ
code, out = compare(write_run(os.path.join(work, "near"), other, near), ref)
if code != 0:
    failures.append(f"within the tolerances: exit {code}: {out}")

far = copy.deepcopy(base)
far[1]["eval_loss"]["recon"] *= 1.01
far[0]["dead"]["headline_dead_fraction"] += 0.05  # five units
code, out = compare(write_run(os.path.join(work, "far"), config, far), ref)
if code != 1 or "epoch 1 eval_loss.recon" not in out or "epoch 0 dead.headline" not in out:
    failures.append(f"beyond the tolerances: exit {code}: {out}")

code, out = compare(write_run(os.path.join(work, "seed1"), dict(config, seed=1), base), ref)
if code != 2 or "different configs" not in out:
    failures.append(f"different configs: exit {code}: {out}")

# A Top-k run does not use the JumpReLU settings, so they may differ (as for vsae_gpu's --resume);
# an L1 run's controller settings count.
topk = dict(config, sparsity={"method": "topk", "jumprelu": {"coefficient": 1.0}})
code, out = compare(write_run(os.path.join(work, "topk_a"), topk, base),
                    write_run(os.path.join(work, "topk_b"), dict(topk, sparsity={"method": "topk"}), base))
if code != 0:
    failures.append(f"unused sparsifier settings: exit {code}: {out}")
l1 = dict(config, sparsity={"method": "l1", "controller": {"rate": 0.1}})
code, out = compare(write_run(os.path.join(work, "l1_a"), l1, base),
                    write_run(os.path.join(work, "l1_b"), dict(l1, sparsity={"method": "l1"}), base))
if code != 2 or "different configs" not in out:
    failures.append(f"different controller settings: exit {code}: {out}")

# An absolute L1-prox threshold ignores the scale's decay (and runs from before the l1_prox section
# existed compare with newer ones); a relative one does not.
prox = dict(config, sparsity={"method": "l1_prox", "l1_prox": {"threshold": "absolute", "scale_beta": 0.5}})
code, out = compare(write_run(os.path.join(work, "prox_a"), prox, base),
                    write_run(os.path.join(work, "prox_b"), dict(prox, sparsity={"method": "l1_prox"}), base))
if code != 0:
    failures.append(f"absolute L1-prox with another scale_beta: exit {code}: {out}")
relative = dict(config, sparsity={"method": "l1_prox", "l1_prox": {"threshold": "relative", "scale_beta": 0.5}})
code, out = compare(write_run(os.path.join(work, "rel_a"), relative, base),
                    write_run(os.path.join(work, "rel_b"), dict(relative, sparsity={
                        "method": "l1_prox", "l1_prox": {"threshold": "relative", "scale_beta": 0.9}}), base))
if code != 2 or "different configs" not in out:
    failures.append(f"relative L1-prox with another scale_beta: exit {code}: {out}")
per_unit = dict(config, sparsity={"method": "l1_prox", "l1_prox": {"threshold": "per_unit", "scale_beta": 0.5}})
code, out = compare(write_run(os.path.join(work, "unit_a"), per_unit, base),
                    write_run(os.path.join(work, "unit_b"), relative, base))
if code != 2 or "different configs" not in out:
    failures.append(f"per-unit against relative L1-prox: exit {code}: {out}")

code, out = compare(write_run(os.path.join(work, "no_width_a"), {"seed": 0}, base),
                    write_run(os.path.join(work, "no_width_b"), {"seed": 0}, base))
if code != 2 or "lacks a positive model.sae_width" not in out:
    failures.append(f"no sae_width: exit {code}: {out}")

code, out = compare(os.path.join(work, "missing"), ref)
if code != 2 or "cannot read a run" not in out:
    failures.append(f"a missing run: exit {code}: {out}")

if failures:
    print("FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("PASSED: compare_runs.py agrees, disagrees and refuses as it should")
