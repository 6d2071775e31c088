"""The same small config trained on --device cuda and on --device cpu (training.tf32 false, so the
GPU does plain float32 arithmetic) agrees within stated tolerances, epoch by epoch: losses, dead
fractions, MIG, mean L0, and λ for L1. Top-k and L1 (with the adaptive λ controller) both run.
Skips (77) without a GPU; fails there under VSAE_EXPECT_CUDA=1.

The tolerances, and why, are tools/compare_runs.py's."""
import os
import sys

import e2e_common as e2e

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from compare_runs import compare  # noqa: E402

e2e.require_cuda()

work = e2e.tempdir()
problems = []


for method in ("topk", "l1"):
    dirs = {}
    for device in ("cuda", "cpu"):
        out = os.path.join(work, f"{method}-{device}")
        cfg = e2e.tiny_config(out, **{"device": device, "training.tf32": False, "sparsity.method": method})
        env = {"OMP_NUM_THREADS": e2e.cpu_threads()} if device == "cpu" else None
        r = e2e.run(["--json", e2e.write_config(work, cfg, f"{method}-{device}.json")], env_extra=env,
                    timeout=600)
        e2e.check(r.returncode == 0, f"the {method} run on {device} failed:\n" + r.stderr)
        dirs[device] = out
    gpu, cpu = e2e.metrics_lines(dirs["cuda"]), e2e.metrics_lines(dirs["cpu"])
    problems += compare(gpu, cpu, cfg["model"]["sae_width"], label=f"{method} ", names=("cuda", "cpu"))
    last_a, last_b = gpu[-1], cpu[-1]
    print(f"{method}: final eval loss cuda {last_a['eval_loss']['total']:.4f} / cpu {last_b['eval_loss']['total']:.4f}, "
          f"dead {last_a['dead']['headline_dead_fraction']:.4f} / {last_b['dead']['headline_dead_fraction']:.4f}, "
          f"MIG {last_a['mig']['mig']:.4f} / {last_b['mig']['mig']:.4f}")

e2e.check(not problems, "CUDA and CPU runs disagree beyond the tolerances:\n  " + "\n  ".join(problems))
print("PASSED: CUDA (TF32 off) and CPU runs agree within the stated tolerances (Top-k and L1)")
