"""configs/quick.json on --device cuda with training.cuda_graph true and false: the graph-replayed
run and the eager one give identical metrics.jsonl (losses, dead fractions, MIG, ...) and the same
final checkpoint tensors (parameters, Adam moments, device scalars). Skips (77) without a GPU;
fails there under VSAE_EXPECT_CUDA=1."""
import json
import os
import time

import e2e_common as e2e

e2e.require_cuda()

config = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "quick.json")
work = e2e.tempdir()
runs = {}
for graph in (True, False):
    cfg = json.load(open(config))
    cfg["training"]["cuda_graph"] = graph
    out = os.path.join(work, "graph" if graph else "eager")
    path = e2e.write_config(work, cfg, ("graph" if graph else "eager") + ".json")
    start = time.time()
    r = e2e.run(["--json", path, "--out", out, "--device", "cuda"], timeout=600)
    e2e.check(r.returncode == 0, f"the cuda_graph={graph} run failed:\n" + r.stderr)
    e2e.check("re-captured" not in r.stderr, "the training step was captured more than once:\n" + r.stderr)
    runs[graph] = (out, time.time() - start)

graph_lines, eager_lines = (e2e.metrics_lines(runs[g][0]) for g in (True, False))
e2e.check(len(graph_lines) == len(eager_lines) > 0, "both runs write one metrics line per epoch")
for a, b in zip(graph_lines, eager_lines):
    for key in ("train_loss_last_batch", "eval_loss"):
        e2e.check(a[key] == b[key], f"epoch {a['epoch']}: {key} differs: graph {a[key]} vs eager {b[key]}")
    e2e.check(a == b, f"epoch {a['epoch']}: metrics differ:\ngraph {json.dumps(a)}\neager {json.dumps(b)}")
# The tensors, not the metadata: the config digest there covers training.cuda_graph.
checkpoints = [e2e.checkpoint_tensors(os.path.join(runs[g][0], "checkpoint.safetensors")) for g in (True, False)]
e2e.check(checkpoints[0] == checkpoints[1], "the final checkpoint tensors differ between graph replay and eager")
results = json.load(open(os.path.join(runs[True][0], "results.json")))
e2e.check(results["backend"] == "cuda", "the run used the CUDA backend, not " + str(results["backend"]))
last = graph_lines[-1]
print(f"PASSED: graph replay = eager on {results['device']} over {len(graph_lines)} epochs "
      f"(final loss {last['eval_loss']['total']:.4f}, dead {last['dead']['headline_dead_fraction']:.3f}); "
      f"graph run {runs[True][1]:.1f} s, eager run {runs[False][1]:.1f} s")
