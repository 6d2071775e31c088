"""The smoke sweep's Slurm scripts (tools/slurm/sweep_to_slurm.py) on a real single-node cluster
(slurm_cluster.LocalSlurm). submit.sh submits the job array and the summary that depends on it.
Three running tasks are stopped after their first epoch: task 0 with `scontrol requeue`, task 1
with the time-limit warning (SIGUSR1 to the batch shell alone, as --signal=B:USR1@... sends it),
after which the script requeues it, and task 2 with `scancel`, after which it stays cancelled.
Each checkpoints; tasks 0 and 1 resume from there (their logs show two attempts, their metrics
each epoch once), the summary lacks only member 2, and submitting again finishes that one."""
import json
import os
import re
import signal
import subprocess

import e2e_common as e2e
from slurm_cluster import LocalSlurm, wait_for

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
tool = os.path.join(root, "tools", "slurm", "sweep_to_slurm.py")
work = e2e.tempdir()
out = os.path.join(work, "smoke")
cfg = json.load(open(os.path.join(root, "configs", "paper", "smoke.json")))
# 5 + 1 epochs of 1024 images, about a second each on one core: a task still runs when it is stopped.
cfg["dataset"]["subset"] = 1024
cfg["training"]["epochs"] = cfg["sparsity"]["schedule"]["epochs"] = 5
cfg["output"]["dir"] = out
epochs = cfg["training"]["epochs"] + cfg["training"]["extra_epochs"]
path = e2e.write_config(work, cfg, "smoke.json")

r = subprocess.run(["/usr/bin/python3", tool, path, "--binary", os.path.abspath(e2e.binary()), "--gpus-per-task", "0",
                    "--time", "00:30:00"], capture_output=True, text=True, cwd=work)
e2e.check(r.returncode == 0, "sweep_to_slurm failed: " + r.stderr)
slurm_dir = os.path.join(out, "slurm")
members = [os.path.dirname(m) for m in open(os.path.join(slurm_dir, "members.txt")).read().split()]
names = [os.path.basename(m) for m in members]


def metrics_count(member):
    path = os.path.join(member, "metrics.jsonl")
    return sum(1 for _ in open(path)) if os.path.exists(path) else 0


def log(task):
    return open(os.path.join(slurm_dir, f"member-{task}.log")).read()


with LocalSlurm() as slurm:
    slurm.logs.append(os.path.join(slurm_dir, "*.log"))
    # One core per task (two at a time), one thread per run.
    env = dict(slurm.env, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")

    def submit():
        r = subprocess.run([os.path.join(slurm_dir, "submit.sh")], capture_output=True, text=True, cwd=work, env=env)
        ids = re.search(r"submitted array job (\d+) and summary job (\d+)", r.stdout)
        e2e.check(r.returncode == 0 and ids is not None, f"submit.sh failed: {r.stdout}{r.stderr}")
        return ids.groups()

    def stop_after_first_epoch(task, stop):
        job = f"{array}_{task}"
        e2e.check(wait_for(lambda: metrics_count(members[task]) >= 1 and slurm.state(job) == "RUNNING", 120),
                  f"task {task} did not run its first epoch: {slurm.jobs(job)}")
        stop(job)

    def client_ok(*args):
        r = slurm.client(*args)
        e2e.check(r.returncode == 0, f"{' '.join(args)} failed: {r.stderr}")

    def task_record(task):
        return slurm.jobs(f"{array}_{task}")[0]

    array, summary = submit()
    stop_after_first_epoch(0, lambda job: client_ok("scontrol", "requeue", job))
    stop_after_first_epoch(1, lambda job: os.kill(slurm.batch_shell(job), signal.SIGUSR1))  # the time-limit warning
    stop_after_first_epoch(2, lambda job: client_ok("scancel", job))
    e2e.check(slurm.wait_ended(summary, 240) == "COMPLETED", f"the summary job did not complete: {slurm.jobs(summary)}")
    for task in range(len(members)):
        record = task_record(task)
        expected = ("CANCELLED", "0") if task == 2 else ("COMPLETED", "1" if task < 2 else "0")
        e2e.check((record.get("JobState"), record.get("Restarts")) == expected,
                  f"task {task}: state and restarts {record.get('JobState')}, {record.get('Restarts')}; expected {expected}")
    result = json.load(open(os.path.join(out, "summary.json")))
    e2e.check(result["finished"] == len(members) - 1 and result["missing"] == [names[2]],
              f"summary after the cancel: {result['finished']} finished, missing {result['missing']}")

    # Submitting again skips the finished members and resumes the cancelled one.
    array, summary = submit()
    e2e.check(slurm.wait_ended(summary, 120) == "COMPLETED", f"the second summary job did not complete: {slurm.jobs(summary)}")
    e2e.check(all(task_record(task).get("JobState") == "COMPLETED" for task in range(len(members))),
              f"the second array: {slurm.jobs(array)}")

result = json.load(open(os.path.join(out, "summary.json")))
e2e.check(result["finished"] == len(members) and result["missing"] == [],
          f"final summary: {result['finished']} finished, missing {result['missing']}")
for task, member in enumerate(members):
    e2e.check(os.path.exists(os.path.join(member, "results.json")), f"{names[task]} has no results.json")
    seen = [line["epoch"] for line in e2e.metrics_lines(member)]
    e2e.check(seen == list(range(epochs)), f"{names[task]}: metrics.jsonl epochs {seen}, expected 0..{epochs - 1} once each")
    text = log(task)
    resumes = re.findall(r"vsae_gpu: resuming \S+ after epoch (\d+), step \d+", text)
    if task < 3:
        e2e.check("vsae_gpu: stopped by SIG" in text and len(resumes) == 1 and int(resumes[0]) >= 1,
                  f"task {task} should stop once and resume once from a checkpoint after epoch >= 1:\n{text}")
    else:
        e2e.check(not resumes, f"task {task} was never stopped, yet resumed:\n{text}")
    e2e.check(text.count("already finished") == (0 if task == 2 else 1), f"task {task} on the second submission:\n{text}")
e2e.check("stopped by SIGUSR1" in log(1), "task 1 stops on the forwarded time-limit warning:\n" + log(1))
print(f"PASSED: the smoke sweep's job array and summary on a local Slurm cluster ({len(members)} members); "
      "requeued and warned tasks resume from their checkpoints, a cancelled one stays cancelled and finishes "
      "when submitted again")
