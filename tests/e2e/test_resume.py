"""A run killed (SIGKILL) mid-way and resumed with --resume ends identical to an uninterrupted run."""
import json
import os

import e2e_common as e2e


def final_state(directory):
    with open(os.path.join(directory, "results.json")) as f:
        results = json.load(f)
    with open(os.path.join(directory, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f]
    for line in lines:  # timings differ between runs, everything else must not
        for key in ("wall_s", "train_s", "images_per_s"):
            line.pop(key, None)
    with open(os.path.join(directory, "checkpoint.safetensors"), "rb") as f:
        checkpoint = f.read()
    return {k: results[k] for k in ("final", "at_schedule_end", "dead_at_schedule_end", "recovered_neurons", "death_epoch")}, lines, checkpoint


work = e2e.tempdir()
whole_dir, cut_dir = os.path.join(work, "whole"), os.path.join(work, "cut")
whole = e2e.write_config(work, e2e.tiny_config(whole_dir), "whole.json")
cut = e2e.write_config(work, e2e.tiny_config(cut_dir), "cut.json")

r = e2e.run(["--json", whole])
e2e.check(r.returncode == 0, "uninterrupted run failed: " + r.stderr)

killed_after = e2e.kill_after_epochs(["--json", cut], cut_dir, 2)
print(f"killed after {killed_after} epochs of metrics")

r = e2e.run(["--json", cut, "--resume"])
e2e.check(r.returncode == 0, "resume failed: " + r.stderr)
a, b = final_state(whole_dir), final_state(cut_dir)
def untimed(summary):
    return {key: {k: v for k, v in value.items() if k not in ("wall_s", "train_s", "images_per_s")}
            if isinstance(value, dict) else value for key, value in summary.items()}


a_final, b_final = untimed(a[0]), untimed(b[0])
e2e.check(a_final == b_final, "final metrics differ after resume")
e2e.check(a[1] == b[1], "metrics.jsonl differs after resume")
e2e.check(a[2] == b[2], "the final checkpoints differ after resume")
print("PASSED: the resumed run equals the uninterrupted run (metrics and checkpoint bytes)")
