"""tools/slurm/sweep_to_slurm.py writes a job array of the members and a dependent summary job; the
scripts, run by hand as Slurm would run them, train the members and aggregate them."""
import json
import os
import re
import subprocess

import e2e_common as e2e

tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "slurm", "sweep_to_slurm.py")
work = e2e.tempdir()
out = os.path.join(work, "sweep")
cfg = e2e.tiny_config(out)
cfg["training"] = {"epochs": 1, "extra_epochs": 0, "batch_size": 32}
cfg["sparsity"]["schedule"] = {"start": 64, "end": 8, "epochs": 1}
cfg["sweep"] = {"sparsity.method": ["topk", "l1"], "seed": [0, 1]}
path = e2e.write_config(work, cfg)

r = subprocess.run(["/usr/bin/python3", tool, path, "--binary", os.path.abspath(e2e.binary()), "--max-parallel", "2",
                    "--partition", "gpu"], capture_output=True, text=True, cwd=work)
e2e.check(r.returncode == 0, "sweep_to_slurm failed: " + r.stderr)
slurm = os.path.join(out, "slurm")
array = open(os.path.join(slurm, "array.sbatch")).read()
summary_job = open(os.path.join(slurm, "summary.sbatch")).read()
submit = open(os.path.join(slurm, "submit.sh")).read()
members = open(os.path.join(slurm, "members.txt")).read().split()
e2e.check(len(members) == 4, f"expected 4 members, got {members}")
e2e.check([os.path.basename(os.path.dirname(m)) for m in members] ==
          ["topk-seed0", "topk-seed1", "l1-seed0", "l1-seed1"], f"member order: {members}")
e2e.check("#SBATCH --array=0-3%2" in array, "array range:\n" + array)
e2e.check("#SBATCH --partition=gpu" in array and "#SBATCH --gpus-per-task=1" in array, "array options:\n" + array)
e2e.check("sweep-summary" in summary_job and out in summary_job, "summary job:\n" + summary_job)
e2e.check(re.search(r"--dependency=afterany:\$\{array", submit) is not None, "the summary must depend on the array:\n" + submit)
e2e.check("#SBATCH --signal=B:USR1@120" in array and "#SBATCH --requeue" in array and "scontrol requeue" in array,
          "the array asks for a signal ahead of the time limit and requeues a stopped task:\n" + array)

# Slurm runs the same script once per task with SLURM_ARRAY_TASK_ID set; #SBATCH lines are comments.
for task in (0, 2):
    r = subprocess.run(["bash", os.path.join(slurm, "array.sbatch")], capture_output=True, text=True, cwd=work,
                       env=dict(os.environ, SLURM_ARRAY_TASK_ID=str(task), OMP_NUM_THREADS="2"))
    e2e.check(r.returncode == 0, f"task {task} failed: " + r.stderr)
r = subprocess.run(["bash", os.path.join(slurm, "array.sbatch")], capture_output=True, text=True, cwd=work,
                   env=dict(os.environ, SLURM_ARRAY_TASK_ID="0"))
e2e.check(r.returncode == 0 and "already finished" in r.stdout, "a rerun task should skip its finished member")

# A requeued task that starts while its first attempt still runs is refused and changes nothing.
member_dir = os.path.dirname(members[1])
lock = os.path.join(member_dir, ".lock")
planner = e2e.lock_holder(lock)  # --plan held the lock briefly to write the member's config
first = subprocess.Popen(["bash", os.path.join(slurm, "array.sbatch")], cwd=work, text=True, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=dict(os.environ, SLURM_ARRAY_TASK_ID="1", OMP_NUM_THREADS="2"))
e2e.check(e2e.wait_until(lambda: e2e.lock_holder(lock) not in ("", planner), first, 60),
          "the first attempt ended before the requeued one could start")
holder = e2e.lock_holder(lock)
second = subprocess.run(["bash", os.path.join(slurm, "array.sbatch")], capture_output=True, text=True, cwd=work,
                        env=dict(os.environ, SLURM_ARRAY_TASK_ID="1"))
e2e.check(second.returncode != 0 and f"is in use by another vsae_gpu process (pid {holder})" in second.stderr,
          f"the second attempt of task 1 should be refused naming pid {holder}: {second.stderr}")
first.communicate(timeout=300)
e2e.check(first.returncode == 0, "the first attempt of task 1 failed after the refused second one")
e2e.check(len(e2e.metrics_lines(member_dir)) == 1, "task 1 wrote one epoch of metrics, once")
os.remove(os.path.join(member_dir, "results.json"))  # leave task 1 unfinished for the summary below

r = subprocess.run(["bash", os.path.join(slurm, "summary.sbatch")], capture_output=True, text=True, cwd=work)
e2e.check(r.returncode == 0, "summary job failed: " + r.stderr)
summary = json.load(open(os.path.join(out, "summary.json")))
e2e.check(summary["finished"] == 2 and sorted(summary["missing"]) == ["l1-seed1", "topk-seed1"],
          f"summary after two tasks: {summary['finished']} finished, missing {summary['missing']}")
print("PASSED: the Slurm array and its summary job")
