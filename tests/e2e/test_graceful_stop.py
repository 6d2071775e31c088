"""SIGTERM or SIGINT mid-epoch: the run finishes its step, checkpoints that exact position and exits
128 + signal with how to resume; --resume then ends bit for bit like the uninterrupted run (CPU). A
second signal stops at once."""
import json
import os
import signal
import time

import e2e_common as e2e

work = e2e.tempdir()


def config(name):
    # 64 steps per epoch, so a signal lands inside an epoch far more often than on its boundary.
    cfg = e2e.tiny_config(os.path.join(work, name), **{"dataset.subset": 2048})
    return e2e.write_config(work, cfg, name + ".json"), os.path.join(work, name)


def final(directory):
    results = json.load(open(os.path.join(directory, "results.json")))
    untimed = {k: v for k, v in results["final"].items() if k not in e2e.TIMING_KEYS}
    checkpoint = open(os.path.join(directory, "checkpoint.safetensors"), "rb").read()
    return untimed, results["death_epoch"], results["recovered_neurons"], e2e.metrics_lines(directory), checkpoint


whole_json, whole_dir = config("whole")
r = e2e.run(["--json", whole_json])
e2e.check(r.returncode == 0, "uninterrupted run failed: " + r.stderr)

# The stop must land mid-epoch to test the batch cursor; a signal on an epoch boundary is tried again.
for attempt, (sig, delay) in enumerate([(signal.SIGTERM, 0.15), (signal.SIGINT, 0.35), (signal.SIGTERM, 0.05)]):
    cut_json, cut_dir = config(f"cut{attempt}")
    p = e2e.start(["--json", cut_json])
    e2e.check(e2e.wait_for_lines(os.path.join(cut_dir, "metrics.jsonl"), 1, p), "the run ended before its first epoch")
    time.sleep(delay)
    p.send_signal(sig)
    _, stderr = p.communicate(timeout=300)
    e2e.check(p.returncode == 128 + sig, f"exit status {p.returncode} after {sig.name}, expected {128 + sig}: {stderr}")
    e2e.check(f"stopped by {sig.name}" in stderr and "--resume" in stderr, "the stop message says how to resume: " + stderr)
    meta = e2e.safetensors_header(os.path.join(cut_dir, "checkpoint.safetensors"))[0]["__metadata__"]
    if int(meta["steps_done"]) > 0:
        break
e2e.check(int(meta["steps_done"]) > 0, "no stop landed mid-epoch in three tries")
print(f"{sig.name} stopped the run at epoch {int(meta['epochs_done']) + 1}, after step {meta['steps_done']}")

r = e2e.run(["--json", cut_json, "--resume"])
e2e.check(r.returncode == 0, "resume after the graceful stop failed: " + r.stderr)
e2e.check(f"step {meta['steps_done']}" in r.stderr, "the resume starts at the saved step: " + r.stderr)
a, b = final(whole_dir), final(cut_dir)
for name, x, y in zip(("final metrics", "death epochs", "recovered units", "metrics.jsonl", "checkpoint bytes"), a, b):
    e2e.check(x == y, f"{name} differ between the resumed and the uninterrupted run")

# A second signal does not wait for the step: the process ends by the signal itself. The default
# model's steps are slow enough that the graceful stop cannot finish between the two signals.
cfg = e2e.tiny_config(os.path.join(work, "twice"), **{"dataset.subset": 2048})
del cfg["model"]
p = e2e.start(["--json", e2e.write_config(work, cfg, "twice.json")])
e2e.check(e2e.wait_for_lines(os.path.join(work, "twice", "metrics.jsonl"), 1, p), "the run ended before its first epoch")
p.send_signal(signal.SIGTERM)
for line in p.stderr:  # the handler's notice: the first signal has been taken
    if "stopping after the current step" in line:
        break
p.send_signal(signal.SIGTERM)
p.communicate(timeout=300)
e2e.check(p.returncode == -signal.SIGTERM, f"a second SIGTERM should end the process at once; exit status {p.returncode}")

# A sweep of member processes: SIGTERM to the sweep alone reaches its members (as SIGUSR1), each
# checkpoints, the sweep exits 143, and --resume finishes every member.
cfg = e2e.tiny_config(os.path.join(work, "sweep"), **{"dataset.subset": 2048})
cfg["sweep"] = {"seed": [0, 1]}
sweep_json = e2e.write_config(work, cfg, "sweep.json")
p = e2e.start(["--json", sweep_json, "--parallel", "2"])
members = [os.path.join(work, "sweep", f"seed{i}") for i in (0, 1)]
e2e.check(e2e.wait_until(lambda: all(os.path.exists(os.path.join(m, "metrics.jsonl")) for m in members), p),
          "the sweep ended before it could be stopped")
p.send_signal(signal.SIGTERM)
_, stderr = p.communicate(timeout=300)
e2e.check(p.returncode == 128 + signal.SIGTERM, f"the stopped sweep exits {p.returncode}, expected 143: {stderr}")
e2e.check(stderr.count("(checkpointed)") == 2 and "--resume" in stderr, "both members checkpointed: " + stderr)
r = e2e.run(["--json", sweep_json, "--resume"])
summary = json.load(open(os.path.join(work, "sweep", "summary.json")))
e2e.check(r.returncode == 0 and summary["finished"] == 2, "the resumed sweep finishes both members: " + r.stderr)
print("PASSED: graceful stop mid-epoch, exact resume (metrics and checkpoint bytes), second signal stops at once, "
      "a stopped sweep of member processes resumes")
