#!/usr/bin/env python3
"""Turns a sweep config into a Slurm job array (one member per task) and a dependent summary job.

`vsae_gpu --json SWEEP --plan` expands and validates the grid and writes each member's config.json;
this script writes SWEEP_DIR/slurm/{array.sbatch,summary.sbatch,submit.sh}, and with --submit runs
submit.sh. A requeued or rerun task resumes its member from the checkpoint, or skips it when done.
"""
import argparse
import os
import shlex
import subprocess
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", help="sweep config (JSON with a \"sweep\" section)")
    p.add_argument("--binary", default="vsae_gpu", help="the vsae_gpu binary (default: vsae_gpu on PATH)")
    p.add_argument("--out", help="override the sweep's output.dir")
    p.add_argument("--partition", help="Slurm partition")
    p.add_argument("--time", default="04:00:00", help="time limit per member (default 04:00:00)")
    p.add_argument("--max-parallel", type=int, default=0, help="at most this many tasks at once (array %%N)")
    p.add_argument("--signal-lead", type=int, default=120,
                   help="seconds before the time limit at which a task is asked to checkpoint and requeue (default 120)")
    p.add_argument("--gpus-per-task", type=int, default=1, help="GPUs per member (0 for CPU members)")
    p.add_argument("--submit", action="store_true", help="submit with sbatch after writing the scripts")
    args = p.parse_args()

    binary = os.path.abspath(args.binary) if os.path.sep in args.binary else args.binary
    # --resume: regenerating the scripts of a started sweep is fine as long as its configs are unchanged.
    plan = [binary, "--json", args.config, "--plan", "--resume"] + (["--out", args.out] if args.out else [])
    r = subprocess.run(plan, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(r.stderr.strip() or f"sweep_to_slurm: {' '.join(plan)} failed")
    configs = [os.path.abspath(line) for line in r.stdout.splitlines() if line.strip()]
    sweep_dir = os.path.dirname(os.path.dirname(configs[0]))
    slurm_dir = os.path.join(sweep_dir, "slurm")
    os.makedirs(slurm_dir, exist_ok=True)
    members = os.path.join(slurm_dir, "members.txt")
    with open(members, "w") as f:
        f.write("\n".join(configs) + "\n")

    array = f"0-{len(configs) - 1}" + (f"%{args.max_parallel}" if args.max_parallel > 0 else "")
    common = [f"#SBATCH --chdir={os.getcwd()}"] + ([f"#SBATCH --partition={args.partition}"] if args.partition else [])
    gpus = [f"#SBATCH --gpus-per-task={args.gpus_per_task}"] if args.gpus_per_task > 0 else []
    q = shlex.quote
    array_script = "\n".join(
        ["#!/bin/bash", "# One sweep member per array task (written by tools/slurm/sweep_to_slurm.py).",
         "#SBATCH --job-name=vsae_sweep", f"#SBATCH --array={array}", f"#SBATCH --time={args.time}",
         "#SBATCH --ntasks=1", f"#SBATCH --output={slurm_dir}/member-%a.log", "#SBATCH --open-mode=append",
         f"#SBATCH --signal=B:USR1@{args.signal_lead}", "#SBATCH --requeue"] + common + gpus +
        ["set -uo pipefail",
         f'config=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {q(members)})',
         'dir=$(dirname "$config")',
         '# A requeued task keeps a finished member and resumes a started one.',
         'if [ -f "$dir/results.json" ]; then echo "already finished: $dir"; exit 0; fi',
         'resume=(); if [ -f "$dir/checkpoint.safetensors" ]; then resume=(--resume); fi',
         f'{q(binary)} --json "$config" "${{resume[@]}}" &',
         "pid=$!",
         "# Ahead of the time limit Slurm sends SIGUSR1 to this shell alone (--signal=B:USR1@...): pass it",
         "# on, and once the run has checkpointed, put the task back in the queue to resume it. SIGTERM",
         "# comes from scancel, scontrol requeue or preemption and reaches the run itself as well: pass it",
         "# on as SIGUSR1 (the same graceful stop, which never escalates) and leave any requeue to Slurm,",
         "# so that a cancelled task stays cancelled.",
         "requeue=0",
         """trap 'requeue=1; kill -USR1 "$pid" 2>/dev/null' USR1""",
         """trap 'kill -USR1 "$pid" 2>/dev/null' TERM INT""",
         'while :; do wait "$pid"; status=$?; kill -0 "$pid" 2>/dev/null || break; done',
         "# Stopped gracefully (128 + SIGINT, SIGUSR1 or SIGTERM): the checkpoint holds the exact position.",
         'case $requeue:$status in 1:130|1:138|1:143)',
         '  if [ -n "${SLURM_ARRAY_JOB_ID:-}" ]; then scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"; fi;;',
         "esac",
         'exit "$status"', ""])
    summary_script = "\n".join(
        ["#!/bin/bash", "# Aggregates the finished members into summary.json (runs after the array).",
         "#SBATCH --job-name=vsae_sweep_summary", "#SBATCH --time=00:10:00", "#SBATCH --ntasks=1",
         f"#SBATCH --output={slurm_dir}/summary.log"] + common +
        ["set -euo pipefail", f"exec {q(binary)} sweep-summary {q(sweep_dir)}", ""])
    submit_script = "\n".join(
        ["#!/bin/bash", "# Submits the member array, then the summary once every task has ended (ok or not).",
         "set -euo pipefail", f"array=$(sbatch --parsable {q(os.path.join(slurm_dir, 'array.sbatch'))})",
         f"summary=$(sbatch --parsable --dependency=afterany:${{array%%;*}} "
         f"{q(os.path.join(slurm_dir, 'summary.sbatch'))})",
         'echo "submitted array job $array and summary job $summary"', ""])
    for name, text in (("array.sbatch", array_script), ("summary.sbatch", summary_script),
                       ("submit.sh", submit_script)):
        path = os.path.join(slurm_dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    print(f"sweep_to_slurm: {len(configs)} members; scripts in {slurm_dir}")
    if args.submit:
        subprocess.run([os.path.join(slurm_dir, "submit.sh")], check=True)


if __name__ == "__main__":
    main()
