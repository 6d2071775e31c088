"""A 2-member sweep with --parallel 2 runs both members at once as child processes and aggregates them."""
import json
import os

import e2e_common as e2e

work = e2e.tempdir()
out = os.path.join(work, "sweep")
cfg = e2e.tiny_config(out)
cfg["sweep"] = {"seed": [0, 1]}
r = e2e.run(["--json", e2e.write_config(work, cfg), "--parallel", "2"])
e2e.check(r.returncode == 0, "the sweep failed: " + r.stderr)
events = [line for line in r.stderr.splitlines() if line.startswith("sweep: started") or line.startswith("sweep: finished")]
e2e.check([e.split()[1] for e in events[:2]] == ["started", "started"],
          "both members should start before either finishes:\n" + r.stderr)
for member in ("seed0", "seed1"):
    d = os.path.join(out, member)
    e2e.check(os.path.exists(os.path.join(d, "results.json")), member + ": no results.json")
    e2e.check(os.path.exists(os.path.join(d, "log.txt")), member + ": no log.txt from the child process")
    e2e.check(json.load(open(os.path.join(d, "config.json")))["seed"] == int(member[-1]), member + ": wrong seed")

summary = json.load(open(os.path.join(out, "summary.json")))
e2e.check(summary["finished"] == 2 and summary["missing"] == [], "summary: members not all finished")
group = summary["groups"][0]
e2e.check(group["n"] == 2 and group["figures"]["final.dead.headline_dead_fraction"]["n"] == 2,
          "summary: the one group should aggregate both seeds")
seeds = [json.load(open(os.path.join(out, m, "results.json")))["final"]["dead"]["headline_dead_fraction"]
         for m in ("seed0", "seed1")]
mean = group["figures"]["final.dead.headline_dead_fraction"]["mean"]
e2e.check(abs(mean - sum(seeds) / 2) < 1e-12, f"summary mean {mean} != mean of {seeds}")

# The aggregation subcommand (Slurm's summary job) writes the same summary.
os.remove(os.path.join(out, "summary.json"))
r = e2e.run(["sweep-summary", out])
e2e.check(r.returncode == 0, "sweep-summary failed: " + r.stderr)
e2e.check(json.load(open(os.path.join(out, "summary.json"))) == summary, "sweep-summary differs from the runner's")
print("PASSED: two members ran in parallel and summary.json aggregates them")
