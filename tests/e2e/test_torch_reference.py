"""The golden step of each sparsifier, checked by the independent PyTorch model (tools/torch_reference.py)."""
import os
import subprocess
import sys

import e2e_common as e2e

try:
    import torch  # noqa: F401
except ImportError:
    print("SKIPPED: python3-torch is not installed")
    sys.exit(e2e.SKIP)

reference = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "torch_reference.py")
work = e2e.tempdir()
# "topk_auxk": Top-k plus the AuxK revival loss; the golden step marks every second unit dead.
# "topk_controls": Top-k with every SAE control (DESIGN §10): the pre-encoder bias at the geometric
# median of h, tied initialisation and the unit-norm decoder; "l1_centred": L1 with the pre-encoder
# bias at the mean. The controls that act on the optimizer step (the unit-norm projection and
# renormalisation) are checked by their kernel tests; here the dumped parameters carry their effect.
CONTROLS = {"pre_encoder_bias": True, "decoder_bias_init": "geometric_median", "init_samples": 64,
            "tied_init": True, "unit_norm_decoder": True}
CENTRED = {"pre_encoder_bias": True, "decoder_bias_init": "mean", "init_samples": 64}
# "batchtopk", "jumprelu" (its straight-through threshold gradient and sparsity loss; ε = 0.05 so
# that the window holds entries) and "topk_multi" (Multi-TopK) are the sparsifiers beyond the paper.
# "l1_prox_relative": L1-prox with τ in units of the pre-activations' root mean square;
# "l1_prox_per_unit": each unit's mean plus τ of its standard deviations, the gradient through both.
METHODS = ("topk", "l1", "l1_prox", "l1_prox_relative", "l1_prox_per_unit", "topk_auxk", "topk_controls", "l1_centred", "batchtopk",
           "jumprelu", "topk_multi")
for method in METHODS:
    sae = CONTROLS if method == "topk_controls" else CENTRED if method == "l1_centred" else {}
    cfg = e2e.tiny_config(os.path.join(work, method), **{"model": {"sae_width": 500, "sae": sae}})
    cfg["sparsity"] = {"method": method.split("_")[0] if "_prox" not in method else "l1_prox",
                       "schedule": {"start": 200, "end": 50, "epochs": 3}, "controller": {"initial": 0.05}}
    if method == "jumprelu":
        cfg["sparsity"]["jumprelu"] = {"bandwidth": 0.05, "initial_threshold": 0.02, "coefficient": 3.0}
    if method.startswith("l1_prox_"):
        cfg["sparsity"]["l1_prox"] = {"threshold": method[len("l1_prox_"):]}
    if method == "topk_multi":
        cfg["sparsity"]["multi_topk"] = True
    if method.endswith("_auxk"):
        cfg["revival"] = {"method": "auxk", "auxk_k": 64, "auxk_alpha": 0.5}
    path = e2e.write_config(work, cfg, method + ".json")
    dump = os.path.join(work, "dump_" + method)
    r = e2e.run(["--json", path, "--dump-step", dump])
    e2e.check(r.returncode == 0, f"{method}: dump failed: {r.stderr}")
    c = subprocess.run([sys.executable, reference, "check", os.path.join(dump, "step.safetensors")],
                       capture_output=True, text=True)
    print(f"--- {method}\n{c.stdout}")
    e2e.check(c.returncode == 0, f"{method}: PyTorch disagrees:\n{c.stdout}{c.stderr}")
print(f"PASSED: PyTorch agrees on every loss term and gradient for {', '.join(METHODS)}")
