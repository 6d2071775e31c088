"""The VAE-SAE (DESIGN §4) in PyTorch, with vsae_gpu's parameter names, and `load_model`, which
loads a trained run's checkpoint into it.

This module is also the independent oracle of tools/torch_reference.py, which checks the C++
engine's losses and gradients against it, so its arithmetic follows DESIGN §4 and not the C++ code.
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from .files import load_json, read_safetensors

CHANNELS = {"dsprites": 1, "shapes3d": 3}
# Checkpoint groups that are not model parameters (Adam moments, device scalars, trainer state).
STATE_PREFIXES = ("optimizer.", "state.", "trainer.")


class _JumpRelu(torch.autograd.Function):
    """a = z·H(z − θ), θ = exp(log_threshold). Backward: the true gradient to z, and for θ the
    straight-through estimate ∂a/∂θ = −(θ/ε)·K((z − θ)/ε) with the rectangle K = 1 on (−½, ½)
    (Rajamanoharan et al. 2024), passed on to log θ through θ."""

    @staticmethod
    def forward(ctx, z, log_threshold, bandwidth):
        theta = log_threshold.exp()
        ctx.save_for_backward(z, theta)
        ctx.bandwidth = bandwidth
        return z * (z > theta)

    @staticmethod
    def backward(ctx, grad):
        z, theta = ctx.saved_tensors
        eps = ctx.bandwidth
        window = ((z - theta).abs() < eps / 2).to(z.dtype)
        d_theta = (grad * (-theta / eps) * window).sum(0)
        return grad * (z > theta), d_theta * theta, None


class _JumpStep(torch.autograd.Function):
    """H(z − θ), counted for L0; no gradient to z, and ∂H/∂θ = −(1/ε)·K((z − θ)/ε) for θ."""

    @staticmethod
    def forward(ctx, z, log_threshold, bandwidth):
        theta = log_threshold.exp()
        ctx.save_for_backward(z, theta)
        ctx.bandwidth = bandwidth
        return (z > theta).to(z.dtype)

    @staticmethod
    def backward(ctx, grad):
        z, theta = ctx.saved_tensors
        eps = ctx.bandwidth
        window = ((z - theta).abs() < eps / 2).to(z.dtype)
        return None, (grad * (-1.0 / eps) * window).sum(0) * theta, None


def _top_mask(z, k):
    """1 on the k largest entries of each row of z (stable: ties to the lower index)."""
    order = torch.sort(z, dim=1, descending=True, stable=True).indices[:, :k]
    return torch.zeros_like(z).scatter_(1, order, 1.0)


class VaeSae(nn.Module):
    """The model with PyTorch-standard modules; parameter names match vsae_gpu checkpoints.

    `k` and `coefficient` are the sparsifier's settings that `encode` uses by default; load_model
    sets them from the checkpoint (Top-k's k, the L1-prox threshold τ). With `pre_encoder_bias`
    the SAE encodes h − b_dec, where b_dec is the decoder's bias (DESIGN §10).

    `l1_prox_threshold` is the L1-prox threshold's form. "absolute": τ. "relative": τ·s, s the root
    mean square of the SAE's pre-activations over the batch in training (held constant in the
    backward) and the run's running mean of it in evaluation (`l1_prox_running_scale`; while it is
    unset, < 0 or not finite, the batch's own). "per_unit": μ_j + τ·σ_j, unit j's mean and
    (population) standard deviation over the batch in training, with the gradient through them,
    and the run's running pair in evaluation (`l1_prox_running_mean`, `l1_prox_running_std`; per
    unit, unset while the std is < 0 or either is not finite, the batch's own) at evaluation's own τ
    (`l1_prox_eval_tau`, tracked apart from training's; `coef` while it is None)."""

    def __init__(self, channels, conv_channels=(32, 32, 64, 64), hidden=256, sae_width=500, latent=10,
                 method="topk", pre_encoder_bias=False, multi_topk=False, bandwidth=1e-3,
                 l1_prox_threshold="absolute"):
        super().__init__()
        self.method = method
        self.pre_encoder_bias = pre_encoder_bias
        self.multi_topk = multi_topk
        self.bandwidth = bandwidth
        self.batchtopk_threshold = -1.0  # BatchTopK's evaluation θ (< 0: unset, ReLU)
        self.l1_prox_threshold = l1_prox_threshold
        self.l1_prox_running_scale = -1.0  # relative L1-prox: the s of evaluation (< 0: unset)
        self.l1_prox_running_mean = torch.zeros(sae_width)  # per-unit L1-prox: evaluation's μ, σ
        self.l1_prox_running_std = -torch.ones(sae_width)  # (std < 0: unset)
        self.l1_prox_eval_tau = None  # per-unit L1-prox: evaluation's τ (None: the coefficient)
        self.k = sae_width
        self.coefficient = 0.0
        c = [channels] + list(conv_channels)
        self.encoder = nn.Module()
        for i in range(4):
            setattr(self.encoder, f"conv{i + 1}", nn.Conv2d(c[i], c[i + 1], 4, 2, 1))
        self.encoder.fc1 = nn.Linear(conv_channels[-1] * 16, hidden)
        if method != "identity":
            self.sae = nn.Module()
            self.sae.enc = nn.Linear(hidden, sae_width)
            self.sae.dec = nn.Linear(sae_width, hidden)
            if method == "jumprelu":
                self.sae.log_threshold = nn.Parameter(torch.zeros(sae_width))
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
            return F.relu(z) * _top_mask(z, k)
        if self.method == "batchtopk":
            if not self.training:  # per example, with the running threshold
                theta = self.batchtopk_threshold
                return F.relu(z) if theta < 0 else z * (z > theta)
            # The k·n largest of the whole batch, ties to the lower flattened index.
            flat = z.reshape(1, -1)
            return F.relu(z) * _top_mask(flat, min(k * z.shape[0], flat.shape[1])).reshape(z.shape)
        if self.method == "jumprelu":
            return _JumpRelu.apply(z, self.sae.log_threshold, self.bandwidth)
        if self.method == "l1":
            return F.relu(z)
        if self.method == "l1_prox":
            if self.l1_prox_threshold == "per_unit":
                return F.relu(z - self._unit_threshold(z, coef))
            if self.l1_prox_threshold == "absolute":
                return F.relu(z - coef)
            s = self.l1_prox_running_scale
            if self.training or not (0 <= s < math.inf):
                s = z.detach().pow(2).mean().sqrt()
            return F.relu(z - coef * s)
        raise ValueError(self.method)

    def _unit_threshold(self, z, tau):
        """The per-unit L1-prox threshold μ_j + τ·σ_j: the batch's in training (differentiable), the
        running pair in evaluation where it is set."""
        mean, std = z.mean(0), z.var(0, unbiased=False).sqrt()
        if self.training:
            return mean + tau * std
        if self.l1_prox_eval_tau is not None:
            tau = self.l1_prox_eval_tau
        rm = self.l1_prox_running_mean.to(z.dtype)
        rs = self.l1_prox_running_std.to(z.dtype)
        unset = ~(rs >= 0) | torch.isinf(rs) | ~torch.isfinite(rm)
        return torch.where(unset, mean.detach(), rm) + tau * torch.where(unset, std.detach(), rs)

    def hidden(self, x):
        """h (n, hidden): the encoder's output for images x (n, C, 64, 64)."""
        y = x
        for i in range(4):
            y = F.relu(getattr(self.encoder, f"conv{i + 1}")(y))
        return F.relu(self.encoder.fc1(y.reshape(x.shape[0], -1)))

    def bottleneck(self, h, k, coef):
        """(z_sae, a, ĥ): the SAE's pre-activations, codes and reconstruction of h; without an SAE
        (method "identity") ĥ is h and the first two are None."""
        if self.method == "identity":
            return None, None, h
        z_sae = self.sae.enc(h - self.sae.dec.bias if self.pre_encoder_bias else h)
        a = self.sparsify(z_sae, k, coef)
        return z_sae, a, self.sae.dec(a)

    def encode(self, images, k=None, coef=None):
        """(mu, codes) for images (n, C, 64, 64) in [0, 1] (a tensor or an array, e.g. load_images'),
        as vsae_gpu's evaluation computes them for latents.npy and sae_codes.npy: no noise, the
        sparsifier at self.k / self.coefficient unless given. codes is None without an SAE."""
        x = torch.as_tensor(images, dtype=self.head.mu.weight.dtype)
        _, a, h_hat = self.bottleneck(self.hidden(x), self.k if k is None else k,
                                      self.coefficient if coef is None else coef)
        return self.head.mu(h_hat), a

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
        h = self.hidden(x)
        z_sae, a, h_hat = self.bottleneck(h, k, coef)
        out = {}
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
        if self.method == "jumprelu":
            # λ·(L0/k − 1)², L0 the mean number of units above their threshold.
            l0 = _JumpStep.apply(z_sae, self.sae.log_threshold, self.bandwidth).sum() / n
            out["sparsity"] = coef * (l0 / k - 1.0) ** 2
            total = total + out["sparsity"]
        if self.multi_topk:
            # Multi-TopK: the top 4k units reconstruct h through the same decoder, weight γ/8.
            a4 = F.relu(z_sae) * _top_mask(z_sae, min(4 * k, z_sae.shape[1]))
            out["multi_topk"] = (self.sae.dec(a4) - h).pow(2).sum() / n
            total = total + gamma / 8.0 * out["multi_topk"]
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


def load_model(run_dir):
    """The trained model of a run directory, in eval mode on the CPU, float32.

    Built from config.json and loaded strictly from checkpoint.safetensors: every parameter must be
    there with the model's shape and dtype float32, and nothing else may be (besides the
    optimizer, device-scalar and trainer groups), so a checkpoint of another architecture fails
    loudly. k and coefficient come from the checkpoint's device scalars: the values the run's last
    evaluation used."""
    cfg = load_json(os.path.join(run_dir, "config.json"))
    tensors, _ = read_safetensors(os.path.join(run_dir, "checkpoint.safetensors"))
    m = cfg["model"]
    model = VaeSae(CHANNELS[cfg["dataset"]["name"]], m["conv_channels"], m["hidden"], m["sae_width"], m["latent"],
                   cfg["sparsity"]["method"], pre_encoder_bias=m.get("sae", {}).get("pre_encoder_bias", False),
                   multi_topk=cfg["sparsity"].get("multi_topk", False),
                   bandwidth=cfg["sparsity"].get("jumprelu", {}).get("bandwidth", 1e-3),
                   l1_prox_threshold=cfg["sparsity"].get("l1_prox", {}).get("threshold", "absolute"))
    params = {name: t for name, t in tensors.items() if not name.startswith(STATE_PREFIXES)}
    expected = model.state_dict()
    for name, t in params.items():
        if name in expected and (t.dtype.name != "float32" or tuple(t.shape) != tuple(expected[name].shape)):
            raise ValueError(f"{run_dir}: checkpoint tensor {name} is {t.dtype.name} {list(t.shape)}, "
                             f"the model expects float32 {list(expected[name].shape)}")
    model.load_state_dict({name: torch.from_numpy(t) for name, t in params.items()}, strict=True)
    if "state.k" in tensors:
        model.k = int(tensors["state.k"].reshape(-1)[0])
    if "state.coefficient" in tensors:
        model.coefficient = float(tensors["state.coefficient"].reshape(-1)[0])
    if "state.batchtopk_threshold" in tensors:
        model.batchtopk_threshold = float(tensors["state.batchtopk_threshold"].reshape(-1)[0])
    if "state.l1_prox_running_scale" in tensors:
        model.l1_prox_running_scale = float(tensors["state.l1_prox_running_scale"].reshape(-1)[0])
    if "state.l1_prox_eval_tau" in tensors:
        model.l1_prox_eval_tau = float(tensors["state.l1_prox_eval_tau"].reshape(-1)[0])
    for name in ("l1_prox_running_mean", "l1_prox_running_std"):
        if "state." + name in tensors:
            setattr(model, name, torch.tensor(tensors["state." + name].reshape(-1), dtype=torch.float32))
    return model.eval()
