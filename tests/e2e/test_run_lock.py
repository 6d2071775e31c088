"""One process per run directory: a second vsae_gpu started while the first trains there (a run, a
resume or a whole sweep) is refused with the holder's pid and touches nothing, as is a second export
to one file; a lock left by a killed process never blocks."""
import os
import signal

import e2e_common as e2e

work = e2e.tempdir()


def wait_for_holder(lock, process):
    """The pid in DIR/.lock once `process` holds it."""
    held = e2e.wait_until(lambda: e2e.lock_holder(lock) != "", process, 60)
    e2e.check(held, "the first process ended before the second could start")
    return e2e.lock_holder(lock)


def refused(args, holder, what):
    r = e2e.run(args)
    e2e.check(r.returncode != 0, f"{what}: a second process was accepted")
    lines = r.stderr.strip().splitlines()
    e2e.check(f"is in use by another vsae_gpu process (pid {holder})" in lines[-1],
              f"{what}: the refusal names the directory and pid {holder}: {r.stderr}")
    return r


# A run and a second run into the same directory, before the first epoch ends.
run_dir = os.path.join(work, "run")
cfg = e2e.tiny_config(run_dir, **{"dataset.subset": 2048})
config = e2e.write_config(work, cfg, "run.json")
first = e2e.start(["--json", config])
holder = wait_for_holder(os.path.join(run_dir, ".lock"), first)
e2e.check(holder == str(first.pid), f"the lock holds pid {holder}, the run is {first.pid}")
e2e.check(not os.path.exists(os.path.join(run_dir, "metrics.jsonl")), "the first epoch ended too soon for this test")
refused(["--json", config], holder, "a second run")
refused(["--json", config, "--resume"], holder, "a resume")
first.communicate(timeout=300)
e2e.check(first.returncode == 0, "the first run failed beside the refused ones")
epochs = cfg["training"]["epochs"] + cfg["training"]["extra_epochs"]
e2e.check([line["epoch"] for line in e2e.metrics_lines(run_dir)] == list(range(epochs)),
          "metrics.jsonl has each epoch once, in order")

# A run killed with SIGKILL leaves its lock file, but not the lock: --resume takes it.
killed_dir = os.path.join(work, "killed")
config = e2e.write_config(work, e2e.tiny_config(killed_dir, **{"dataset.subset": 2048}), "killed.json")
p = e2e.start(["--json", config])
e2e.check(e2e.wait_until(lambda: os.path.exists(os.path.join(killed_dir, "checkpoint.safetensors")), p),
          "the run ended before it was killed")
p.send_signal(signal.SIGKILL)
p.wait()
r = e2e.run(["--json", config, "--resume"])
e2e.check(r.returncode == 0, "resume after SIGKILL is blocked by the dead process's lock: " + r.stderr)

# A sweep holds its directory and each running member's; a second sweep, or the running member on
# its own (as a requeued job array task would start it), is refused.
sweep_dir = os.path.join(work, "sweep")
cfg = e2e.tiny_config(sweep_dir, **{"dataset.subset": 2048})
cfg["sweep"] = {"seed": [0, 1]}
config = e2e.write_config(work, cfg, "sweep.json")
sweep = e2e.start(["--json", config])
member = os.path.join(sweep_dir, "seed0")
# Until seed0 trains in the sweep's process (prepare() held its lock briefly before).
e2e.check(e2e.wait_until(lambda: os.path.exists(os.path.join(member, "metrics.jsonl")), sweep, 60),
          "the sweep ended before the second process could start")
refused(["--json", config, "--resume"], str(sweep.pid), "a second sweep")
refused(["--json", os.path.join(member, "config.json"), "--resume"], str(sweep.pid), "a member started on its own")
sweep.communicate(timeout=300)
e2e.check(sweep.returncode == 0, "the sweep failed beside the refused processes")
e2e.check(os.path.exists(os.path.join(sweep_dir, "summary.json")), "the sweep finished its summary")
# Two exports to one file: the second is refused while the first (300,000 images) writes.
out = os.path.join(work, "all.npz")
export = e2e.start(["export-dataset", "--name", "dsprites", "--count", "300000", "--out", out])
holder = wait_for_holder(out + ".lock", export)
e2e.check(holder == str(export.pid), f"the export's lock holds pid {holder}, the export is {export.pid}")
r = e2e.run(["export-dataset", "--name", "dsprites", "--count", "8", "--out", out])
e2e.check(r.returncode != 0 and "output file " + out + " is in use by another vsae_gpu process (pid " + holder
          in r.stderr, "a second export to the same file: " + r.stderr)
export.communicate(timeout=300)
e2e.check(export.returncode == 0 and os.path.getsize(out) > 1 << 20, "the first export failed beside the refused one")
print("PASSED: second run, resume, sweep, member and export refused with the holder's pid; a killed run's lock "
      "never blocks")
