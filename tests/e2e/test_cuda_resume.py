"""On --device cuda, a run killed (SIGKILL) mid-way and resumed with --resume ends with the
uninterrupted run's figures: the same metrics.jsonl, final results and checkpoint bytes. The CUDA
kernels use no float atomics and cuDNN only deterministic algorithms, so the figures are compared
exactly, as test_resume.py does on the CPU. Skips (77) without a GPU; fails there under
VSAE_EXPECT_CUDA=1."""
import json
import os

import e2e_common as e2e

e2e.require_cuda()


def final_state(directory):
    with open(os.path.join(directory, "results.json")) as f:
        results = json.load(f)
    summary = {k: results[k] for k in ("final", "at_schedule_end", "dead_at_schedule_end", "recovered_neurons")}
    for value in summary.values():
        if isinstance(value, dict):
            for key in e2e.TIMING_KEYS:
                value.pop(key, None)
    with open(os.path.join(directory, "checkpoint.safetensors"), "rb") as f:
        checkpoint = f.read()
    return summary, e2e.metrics_lines(directory), checkpoint


work = e2e.tempdir()
whole_dir, cut_dir = os.path.join(work, "whole"), os.path.join(work, "cut")
# More and longer epochs than the CPU test (subset 4096: 128 steps each, 10 epochs with a
# checkpoint after each), so that the kill after 2 epochs lands mid-run even on a fast GPU.
overrides = {"device": "cuda", "dataset.subset": 4096, "training.epochs": 8, "training.extra_epochs": 2,
             "sparsity.schedule": {"start": 64, "end": 8, "epochs": 8}, "evaluation.samples": 512}
whole = e2e.write_config(work, e2e.tiny_config(whole_dir, **overrides), "whole.json")
cut = e2e.write_config(work, e2e.tiny_config(cut_dir, **overrides), "cut.json")

r = e2e.run(["--json", whole], timeout=600)
e2e.check(r.returncode == 0, "uninterrupted CUDA run failed: " + r.stderr)

killed_after = e2e.kill_after_epochs(["--json", cut], cut_dir, 2)
print(f"killed after {killed_after} epochs of metrics")

r = e2e.run(["--json", cut, "--resume"], timeout=600)
e2e.check(r.returncode == 0, "CUDA resume failed: " + r.stderr)
e2e.check("resuming" in r.stderr, "the second run resumed from the checkpoint")
a, b = final_state(whole_dir), final_state(cut_dir)
e2e.check(a[0] == b[0], f"final metrics differ after resume:\n{json.dumps(a[0])}\n{json.dumps(b[0])}")
e2e.check(a[1] == b[1], "metrics.jsonl differs after resume")
e2e.check(a[2] == b[2], "the final checkpoints differ after resume")
print(f"PASSED: on CUDA the run resumed after {killed_after} epochs equals the uninterrupted run "
      "(metrics and checkpoint bytes)")
