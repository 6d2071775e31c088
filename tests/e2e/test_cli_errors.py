"""Bad input gets one clear line on stderr and a non-zero exit, and never destroys a run's data."""
import json
import os

import e2e_common as e2e

work = e2e.tempdir()


def expect_error(args, fragment, label):
    r = e2e.run(args)
    lines = [line for line in r.stderr.strip().splitlines() if line.startswith("vsae_gpu: error")]
    e2e.check(r.returncode != 0, f"{label}: exit code 0")
    e2e.check(len(lines) == 1 and fragment in lines[0], f"{label}: expected one error line with '{fragment}', got:\n{r.stderr}")
    print(f"ok  {label}: {lines[0]}")


def config_file(name, content):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(content if isinstance(content, str) else json.dumps(content))
    return path


run_dir = os.path.join(work, "run")
good = config_file("good.json", e2e.tiny_config(run_dir, **{"training": {"epochs": 1, "extra_epochs": 0, "batch_size": 32}},
                                                **{"sparsity": {"schedule": {"start": 64, "end": 8, "epochs": 1}}}))

expect_error(["--json", config_file("bad.json", "{ not json")], "not valid JSON", "invalid JSON")
expect_error(["--json", config_file("huge.json", "{\"seed\": 1e999}")], "not valid JSON", "a number too large for a double")
expect_error(["--json", config_file("unknown.json", {"trainig": {}})], "unknown config key trainig", "unknown key")
expect_error(["--json", config_file("range.json", {"sparsity": {"schedule": {"end": 0}}})],
             "sparsity.schedule.end must be between 1 and sae_width (500), got 0", "k out of range")
expect_error(["--json", config_file("src.json", {"dataset": {"source": os.path.join(work, "missing.npz")}})],
             "missing.npz", "missing dataset file")
expect_error(["--json", good, "--resume"], "no checkpoint", "resume without a checkpoint")

r = e2e.run(["--json", good])
e2e.check(r.returncode == 0, "the good run failed: " + r.stderr)
before = open(os.path.join(run_dir, "metrics.jsonl")).read()
expect_error(["--json", good], "already holds a run", "rerun into a finished run directory")
e2e.check(open(os.path.join(run_dir, "metrics.jsonl")).read() == before, "metrics.jsonl was changed by the refused run")

checkpoint = os.path.join(run_dir, "checkpoint.safetensors")
data = open(checkpoint, "rb").read()
open(checkpoint, "wb").write(data[: len(data) // 2])
expect_error(["--json", good, "--resume"], "checkpoint.safetensors", "truncated checkpoint")
other = e2e.tiny_config(run_dir, **{"model": {"sae_width": 32}})
other["sparsity"] = {"schedule": {"start": 32, "end": 8, "epochs": 1}}
other["training"] = {"epochs": 1, "extra_epochs": 0, "batch_size": 32}
open(checkpoint, "wb").write(data)
expect_error(["--json", config_file("other.json", other), "--resume"], "different config (model.sae_width differs)",
             "checkpoint of another config")
# A diverging run (lr 10 with a huge L1 weight) stops at the NaN guard with the step number and
# writes no results from the broken state.
nan_dir = os.path.join(work, "nan")
diverge = e2e.tiny_config(nan_dir, **{"training": {"epochs": 2, "extra_epochs": 0, "batch_size": 32, "lr": 10.0}})
diverge["sparsity"] = {"method": "l1", "schedule": {"start": 64, "end": 8, "epochs": 2},
                       "controller": {"initial": 1000, "max": 1000}}
expect_error(["--json", config_file("nan.json", diverge)], "training diverged: the loss is not finite at step",
             "NaN guard")
e2e.check(not os.path.exists(os.path.join(nan_dir, "results.json")), "a diverged run must not write results.json")

# --set KEY=VALUE edits the config before validation: a bad key gets the config's own error naming
# the key path, a malformed argument an error naming the argument, and nothing is written.
set_dir = os.path.join(work, "set")
set_cfg = config_file("set.json", e2e.tiny_config(set_dir))
expect_error(["--json", set_cfg, "--set", "training.lrr=1"], "unknown config key training.lrr", "--set of an unknown key")
expect_error(["--json", set_cfg, "--set", "training.lr=fast"], "training.lr must be a number", "--set of a wrong type")
expect_error(["--json", set_cfg, "--set", "training.lr"], "--set training.lr: expected KEY=VALUE", "--set without '='")
expect_error(["--json", set_cfg, "--set", "=1"], "--set =1: the key is empty", "--set of an empty key")
expect_error(["--json", set_cfg, "--set", "seed.x=1"], "--set seed.x=1: seed is not an object", "--set through a number")
expect_error(["--json", set_cfg, "--seed", "1", "--set", "seed=2"], "--seed and --set seed=2 both set seed",
             "--seed and --set seed")
e2e.check(not os.path.exists(set_dir), "a refused --set created the run directory")

# For a sweep, --set edits the base config (--plan writes each member's config.json and trains nothing);
# a later --set of the same key wins; a key the sweep sweeps is refused.
sweep_dir = os.path.join(work, "set_sweep")
sweep_cfg = e2e.tiny_config(sweep_dir)
sweep_cfg["sweep"] = {"seed": [0, 1]}
sweep_json = config_file("set_sweep.json", sweep_cfg)
expect_error(["--json", sweep_json, "--plan", "--set", "seed=5"], "--set seed=5: the sweep sets this key",
             "--set of a swept key")
expect_error(["--json", sweep_json, "--plan", "--set", "sweep.seed=[3]"], "--set sweep.seed=[3]: keys under sweep",
             "--set of a sweep key")
r = e2e.run(["--json", sweep_json, "--plan", "--set", "training.lr=0.5", "--set", "training.lr=3e-4",
             "--set", "sparsity.method=l1", "--set", "model.conv_channels=[16,16,32,32]",
             "--set", "name=\"123\""])  # JSON quotes keep a numeric-looking string a string (name must be one)
e2e.check(r.returncode == 0, "--plan with --set failed: " + r.stderr)
members = r.stdout.split()
e2e.check(len(members) == 2, "expected 2 member configs, got:\n" + r.stdout)
for member in members:
    resolved = json.load(open(member))
    e2e.check(resolved["training"]["lr"] == 3e-4, f"{member}: training.lr is {resolved['training']['lr']}, not 3e-4")
    e2e.check(resolved["sparsity"]["method"] == "l1", f"{member}: sparsity.method is {resolved['sparsity']['method']}")
    e2e.check(resolved["model"]["conv_channels"] == [16, 16, 32, 32],
              f"{member}: model.conv_channels is {resolved['model']['conv_channels']}")
print("ok  --set values reach the resolved config.json of every sweep member")
print("PASSED: every bad input gave one clear error line and a non-zero exit")
