#!/usr/bin/env python3
"""Independent PyTorch implementation of the vsae_gpu VAE-SAE (DESIGN §4), used as an oracle.

`check DUMP` loads a golden training step written by `vsae_gpu --dump-step DIR` (a safetensors
file with the inputs, the noise, the parameters before the step, every loss term, every parameter
gradient and the SAE activations), recomputes all of it in PyTorch, and fails when any loss term
or gradient disagrees beyond tolerance.
"""
import argparse
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "I32": np.int32, "U8": np.uint8}


def read_safetensors(path):
    """Returns ({name: np.ndarray}, metadata) without the safetensors package (not in Debian)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        arr = np.frombuffer(data[base + begin:base + end], dtype=DTYPES[e["dtype"]])
        tensors[name] = arr.reshape(e["shape"]).copy()
    return tensors, meta


class VaeSae(nn.Module):
    """The model with PyTorch-standard modules; parameter names match vsae_gpu checkpoints."""

    def __init__(self, channels, conv_channels=(32, 32, 64, 64), hidden=256, sae_width=500, latent=10,
                 method="topk"):
        super().__init__()
        self.method = method
        c = [channels] + list(conv_channels)
        self.encoder = nn.Module()
        for i in range(4):
            setattr(self.encoder, f"conv{i + 1}", nn.Conv2d(c[i], c[i + 1], 4, 2, 1))
        self.encoder.fc1 = nn.Linear(conv_channels[-1] * 16, hidden)
        if method != "identity":
            self.sae = nn.Module()
            self.sae.enc = nn.Linear(hidden, sae_width)
            self.sae.dec = nn.Linear(sae_width, hidden)
        self.head = nn.Module()
        self.head.mu = nn.Linear(hidden, latent)
        self.head.logvar = nn.Linear(hidden, latent)
        self.decoder = nn.Module()
        self.decoder.fc2 = nn.Linear(latent, hidden)
        self.decoder.fc3 = nn.Linear(hidden, conv_channels[-1] * 16)
        outs = [conv_channels[2], conv_channels[1], conv_channels[0], channels]
        ins = [conv_channels[3]] + outs[:-1]
        for i in range(4):
            setattr(self.decoder, f"deconv{i + 1}", nn.ConvTranspose2d(ins[i], outs[i], 4, 2, 1))
        self.conv_last = conv_channels[-1]

    def sparsify(self, z, k, coef):
        if self.method == "topk":
            # Stable descending sort: among equal values the lower index is kept, as in vsae_gpu.
            order = torch.sort(z, dim=1, descending=True, stable=True).indices[:, :k]
            mask = torch.zeros_like(z).scatter_(1, order, 1.0)
            return F.relu(z) * mask
        if self.method == "l1":
            return F.relu(z)
        if self.method == "l1_prox":
            return F.relu(z - coef)
        raise ValueError(self.method)

    def decode(self, z):
        """Image logits from latents z (n, latent); tools/report.py traces SAE features with it."""
        y = F.relu(self.decoder.fc3(F.relu(self.decoder.fc2(z))))
        y = y.reshape(z.shape[0], self.conv_last, 4, 4)
        for i in range(4):
            y = getattr(self.decoder, f"deconv{i + 1}")(y)
            if i < 3:
                y = F.relu(y)
        return y

    def forward(self, x, eps, k=None, coef=0.0, beta=1.0, gamma=1.0, dead=None, auxk_k=0, auxk_alpha=0.0):
        n = x.shape[0]
        y = x
        for i in range(4):
            y = F.relu(getattr(self.encoder, f"conv{i + 1}")(y))
        h = F.relu(self.encoder.fc1(y.reshape(n, -1)))
        out = {}
        if self.method == "identity":
            h_hat, a = h, None
        else:
            z_sae = self.sae.enc(h)
            a = self.sparsify(z_sae, k, coef)
            h_hat = self.sae.dec(a)
        mu, logvar = self.head.mu(h_hat), self.head.logvar(h_hat)
        z = mu + torch.exp(0.5 * logvar) * eps
        y = self.decode(z)
        out["recon"] = F.binary_cross_entropy_with_logits(y, x, reduction="sum") / n
        out["kl"] = (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)).sum() / n
        out["sae"] = (h_hat - h).pow(2).sum() / n if a is not None else torch.zeros(())
        total = out["recon"] + beta * out["kl"] + gamma * out["sae"]
        if self.method == "l1":
            out["l1"] = coef * a.abs().sum() / n  # the weighted penalty, as vsae_gpu reports it
            total = total + out["l1"]
        if a is not None and dead is not None and auxk_k > 0:
            # AuxK (Gao et al. 2024): the auxk_k largest pre-activations among dead units rebuild the
            # residual, which is a constant target, through the decoder weight without its bias.
            z_dead = z_sae.masked_fill(dead.reshape(1, -1) == 0, float("-inf"))
            order = torch.sort(z_dead, dim=1, descending=True, stable=True).indices[:, :auxk_k]
            a_aux = F.relu(z_dead) * torch.zeros_like(z_dead).scatter_(1, order, 1.0)
            e_hat = F.linear(a_aux, self.sae.dec.weight)
            out["aux"] = (e_hat - (h - h_hat).detach()).pow(2).sum() / n
            total = total + auxk_alpha * out["aux"]
        out["total"] = total
        out["codes"] = a
        return out


def check(path, rtol, atol):
    t, meta = read_safetensors(path)
    method = meta["method"]
    model = VaeSae(int(meta["channels"]), json.loads(meta["conv_channels"]), int(meta["hidden"]),
                   int(meta["sae_width"]), int(meta["latent"]), method).double()
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

    for term in ("recon", "kl", "sae", "l1", "aux", "total"):
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
