"""The README's Python commands, as written, with a foreign python3 first on PATH (a pyenv or conda
one without numpy, torch or matplotlib): they work because they run through the project's .venv
(tools/setup.sh), never through whichever python3 PATH finds."""
import os
import re
import shlex
import stat
import subprocess
import sys

import e2e_common as e2e

root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if not os.access(os.path.join(root, ".venv", "bin", "python"), os.X_OK):
    print(f"FAILED: {root}/.venv is missing: tools/setup.sh makes it (the README's Python commands run through it)")
    sys.exit(1)

work = e2e.tempdir()
# The foreign python3: Debian's interpreter without its site packages, i.e. the standard library only.
fake_bin = os.path.join(work, "bin")
os.makedirs(fake_bin)
for name in ("python3", "python"):
    path = os.path.join(fake_bin, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n# a foreign python3: the standard library only\nexec /usr/bin/python3 -S -I \"$@\"\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
env = {k: v for k, v in e2e.environment().items() if not k.startswith("PYTHON")}
env["PATH"] = fake_bin + os.pathsep + env["PATH"]


def shell(command, what, stdin=None):
    """`command` in bash from the repository root, with the foreign python3 first on PATH."""
    r = subprocess.run(["bash", "-c", command], cwd=root, env=env, input=stdin, capture_output=True, text=True)
    e2e.check(r.returncode == 0, f"{what}: `{command}` failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    print(f"ok: {what}: {command.splitlines()[0][:110]}")
    return r


r = subprocess.run(["bash", "-c", "python3 -c 'import numpy'"], env=env, capture_output=True, text=True)
e2e.check(r.returncode != 0 and "No module named 'numpy'" in r.stderr, "the fake python3 is first on PATH and lacks numpy")

binary = shlex.quote(os.path.abspath(e2e.binary()))
q = shlex.quote

# --dump-step, then `.venv/bin/python tools/torch_reference.py check DIR/step.safetensors`
cfg = e2e.tiny_config(os.path.join(work, "run"), **{"model": {"sae_width": 64}})
dump = os.path.join(work, "dump")
shell(f"{binary} --json {q(e2e.write_config(work, cfg))} --dump-step {q(dump)}", "--dump-step")
shell(f".venv/bin/python tools/torch_reference.py check {q(os.path.join(dump, 'step.safetensors'))}", "torch_reference")

# A tiny sweep, then `.venv/bin/python tools/report.py DIR`
sweep_dir = os.path.join(work, "sweep")
cfg = e2e.tiny_config(sweep_dir, **{"dataset.subset": 128, "evaluation.samples": 64, "training.epochs": 2,
                                    "sparsity.schedule": {"start": 32, "end": 8, "epochs": 2}})
cfg["sweep"] = {"seed": [0, 1]}
sweep_config = e2e.write_config(work, cfg, "sweep.json")
shell(f"{binary} --json {q(sweep_config)} --parallel 2", "the tiny sweep")
shell(f".venv/bin/python tools/report.py {q(sweep_dir)}", "report.py")
e2e.check(os.path.exists(os.path.join(sweep_dir, "report.md")), "report.py wrote report.md")

# tools/slurm/sweep_to_slurm.py (standard library only, so its `env python3` may be any python3)
shell(f"tools/slurm/sweep_to_slurm.py {q(sweep_config)} --binary {binary} --out {q(os.path.join(work, 'slurm_sweep'))}",
      "sweep_to_slurm.py")
e2e.check(os.path.exists(os.path.join(work, "slurm_sweep", "slurm", "array.sbatch")), "sweep_to_slurm wrote array.sbatch")

# The "Python analysis" example: its shell lines, then its Python block fed to the interpreter line,
# on this sweep (runs/quick -> a member, runs/smoke -> the sweep, eval.npz -> a file here).
readme = open(os.path.join(root, "README.md")).read()
section = readme.split("## Python analysis", 1)
e2e.check(len(section) == 2, "README.md has a 'Python analysis' section")
blocks = re.findall(r"```(sh|python)\n(.*?)```", section[1].split("\n## ", 1)[0], re.S)
e2e.check([kind for kind, _ in blocks] == ["sh", "python"], f"the section has a sh and a python block: {blocks}")
paths = {"runs/quick": os.path.join(sweep_dir, "seed0"), "runs/smoke": sweep_dir,
         "eval.npz": os.path.join(work, "eval.npz"), "build/vsae_gpu": os.path.abspath(e2e.binary())}


def localise(text):
    """The example's paths replaced in one pass: quoted ones by a Python literal, bare ones by a shell word."""
    pattern = "|".join(f'"?{re.escape(old)}"?' for old in paths)
    return re.sub(pattern, lambda m: repr(paths[m[0].strip('"')]) if m[0].startswith('"') else q(paths[m[0]]), text)


export_line, interpreter_line = [line.split("#")[0].strip() for line in blocks[0][1].strip().splitlines()]
e2e.check(interpreter_line.endswith(".venv/bin/python"), f"the example runs through .venv: {interpreter_line}")
shell(localise(export_line), "README example: export-dataset")
shell(interpreter_line, "README example: the Python block", stdin=localise(blocks[1][1]))
print("PASSED: torch_reference.py, report.py, sweep_to_slurm.py and the Python analysis example work with a "
      "foreign python3 first on PATH")
