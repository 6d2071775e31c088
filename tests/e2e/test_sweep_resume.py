"""An interrupted sweep rerun with --resume keeps finished members, resumes the started one, runs the rest."""
import json
import os
import signal
import subprocess
import time

import e2e_common as e2e

work = e2e.tempdir()
out = os.path.join(work, "sweep")
cfg = e2e.tiny_config(out)
cfg["sweep"] = {"seed": [0, 1, 2]}
path = e2e.write_config(work, cfg)

env = dict(os.environ, OMP_NUM_THREADS="2", OMP_WAIT_POLICY="passive")
p = subprocess.Popen([e2e.binary(), "--json", path], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
second = os.path.join(out, "seed1", "checkpoint.safetensors")
deadline = time.time() + 240
while time.time() < deadline and p.poll() is None and not os.path.exists(second):
    time.sleep(0.05)
e2e.check(p.poll() is None, "the sweep finished before it could be killed")
p.send_signal(signal.SIGKILL)
p.wait()
first = open(os.path.join(out, "seed0", "results.json")).read()
e2e.check(not os.path.exists(os.path.join(out, "seed1", "results.json")), "seed1 finished before the kill")

r = e2e.run(["--json", path])
e2e.check(r.returncode != 0 and "pass --resume" in r.stderr, "a rerun without --resume must refuse: " + r.stderr)

r = e2e.run(["--json", path, "--resume"])
e2e.check(r.returncode == 0, "the resumed sweep failed: " + r.stderr)
e2e.check("seed0 already finished; kept" in r.stderr, "seed0 should be kept:\n" + r.stderr)
e2e.check("resuming seed1" in r.stderr, "seed1 should resume from its checkpoint:\n" + r.stderr)
e2e.check("running seed2" in r.stderr, "seed2 should run:\n" + r.stderr)
e2e.check(open(os.path.join(out, "seed0", "results.json")).read() == first, "seed0's results were rewritten")
summary = json.load(open(os.path.join(out, "summary.json")))
e2e.check(summary["finished"] == 3, "summary: expected 3 finished members")

# A changed sweep must not silently mix with the runs already in the directory.
cfg["training"]["lr"] = 2e-3
r = e2e.run(["--json", e2e.write_config(work, cfg, "changed.json"), "--resume"])
e2e.check(r.returncode != 0 and "config differs" in r.stderr, "a changed sweep must be refused: " + r.stderr)
print("PASSED: the interrupted sweep resumed where it stopped")
