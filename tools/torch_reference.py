#!/usr/bin/env python3
"""The PyTorch oracle of the vsae_gpu VAE-SAE (DESIGN §4): checks a training step of the C++ engine.

`check DUMP` loads a golden training step written by `vsae_gpu --dump-step DIR` (a safetensors
file with the inputs, the noise, the parameters before the step, every loss term, every parameter
gradient and the SAE activations), recomputes all of it in PyTorch, and fails when any loss term
or gradient disagrees beyond tolerance. The model is vsae_py.model.VaeSae (the package's, which
load_model also uses), written from DESIGN §4 and not from the C++ code.
"""
import argparse
import json
import sys

import numpy as np
import torch

from vsae_py.files import read_safetensors
from vsae_py.model import VaeSae


def check(path, rtol, atol):
    t, meta = read_safetensors(path)
    method = meta["method"]
    model = VaeSae(int(meta["channels"]), json.loads(meta["conv_channels"]), int(meta["hidden"]),
                   int(meta["sae_width"]), int(meta["latent"]), method,
                   pre_encoder_bias=meta.get("pre_encoder_bias") == "true",
                   multi_topk=meta.get("multi_topk") == "true",
                   bandwidth=float(meta.get("bandwidth", 1e-3)),
                   l1_prox_threshold=meta.get("l1_prox_threshold", "absolute")).double()
    state = {name[len("params."):]: torch.from_numpy(v.astype(np.float64))
             for name, v in t.items() if name.startswith("params.")}
    model.load_state_dict(state, strict=True)
    x = torch.from_numpy(t["input"].astype(np.float64))
    eps = torch.from_numpy(t["eps"].astype(np.float64))
    dead = torch.from_numpy(t["revival.dead"].astype(np.float64)) if "revival.dead" in t else None
    out = model(x, eps, k=int(meta.get("k", 0)), coef=float(meta.get("coef", 0.0)),
                beta=float(meta["beta"]), gamma=float(meta["gamma"]), dead=dead,
                auxk_k=int(meta.get("auxk_k", 0)), auxk_alpha=float(meta.get("auxk_alpha", 0.0)))
    out["total"].backward()

    failures = []

    def compare(name, ref, got):
        ref = np.asarray(ref, dtype=np.float64)
        got = np.asarray(got, dtype=np.float64)
        err = np.abs(ref - got)
        limit = atol + rtol * np.abs(ref)
        worst = float(np.max(err / limit)) if err.size else 0.0
        status = "ok" if worst <= 1.0 and np.all(np.isfinite(got)) else "MISMATCH"
        print(f"{status:8s} {name:32s} max|err| {float(err.max()) if err.size else 0:.3e}  worst err/limit {worst:.3f}")
        if status != "ok":
            failures.append(name)

    for term in ("recon", "kl", "sae", "l1", "aux", "sparsity", "multi_topk", "total"):
        if f"loss.{term}" in t and term in out:
            compare(f"loss.{term}", out[term].detach().numpy(), t[f"loss.{term}"].reshape(()))
    if out["codes"] is not None and "sae.codes" in t:
        compare("sae.codes", out["codes"].detach().numpy(), t["sae.codes"])
    for name, p in model.named_parameters():
        compare(f"grads.{name}", p.grad.numpy(), t[f"grads.{name}"])
    if failures:
        print(f"FAILED: {len(failures)} tensors disagree: {', '.join(failures)}")
        return 1
    print(f"PASSED: every loss term and gradient agrees ({len(list(model.parameters()))} parameters)")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="check a golden step dump against PyTorch")
    c.add_argument("dump", help="step.safetensors written by vsae_gpu --dump-step")
    c.add_argument("--rtol", type=float, default=2e-3)
    c.add_argument("--atol", type=float, default=2e-5)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    return check(args.dump, args.rtol, args.atol)


if __name__ == "__main__":
    sys.exit(main())
