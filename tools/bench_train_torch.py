#!/usr/bin/env python3
"""PyTorch peer of tools/bench_train: the same VAE-SAE training step (batch gather from resident
uint8 images, forward, backward, Adam) timed eagerly, with torch.compile where available, and on
CUDA as one captured CUDA graph of the whole step (the peer of bench_train's graph replay).

Prints rows in bench_train's format (dataset C batch mode ms/step images/s). The model is
tools/torch_reference.py's VaeSae with Top-k done by torch.topk, the idiomatic PyTorch choice.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import VaeSae  # noqa: E402


class TopkVaeSae(VaeSae):
    def sparsify(self, z, k, coef):
        values, index = torch.topk(z, k, dim=1)
        return torch.zeros_like(z).scatter_(1, index, F.relu(values))


def train_on(model, opt, images, idx, scale, k, device):
    """One step on the images at `idx`: gather, forward, backward and Adam (gradients already
    cleared or, inside a CUDA graph, written by the captured backward). Returns the loss."""
    x = images[idx].float() * scale
    out = model(x, torch.randn(idx.shape[0], 10, device=device), k=k)
    out["total"].backward()
    opt.step()
    return out["total"]


def make_step(model, opt, images, order, batch, scale, k, device):
    count = images.shape[0]
    state = {"cursor": 0}

    def step():
        c = state["cursor"]
        opt.zero_grad(set_to_none=True)
        idx = order[torch.arange(c, c + batch, device=device) % count]
        total = train_on(model, opt, images, idx, scale, k, device)
        state["cursor"] = (c + batch) % count
        return total

    return step


def make_graphed_step(model, opt, images, order, batch, scale, k, device):
    """The whole step (gather, forward, backward, Adam) captured once as a CUDA graph and replayed,
    as PyTorch's documentation captures a whole network. The batch cursor lives on the device."""
    count = images.shape[0]
    cursor = torch.zeros((), dtype=torch.long, device=device)
    offsets = torch.arange(batch, device=device)

    def body():
        total = train_on(model, opt, images, order[(cursor + offsets) % count], scale, k, device)
        cursor.add_(batch).remainder_(count)
        return total

    side = torch.cuda.Stream()  # warm-up off the default stream, as capture requires
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            body()
    torch.cuda.current_stream().wait_stream(side)
    opt.zero_grad(set_to_none=True)  # the captured backward allocates the gradients in the graph's pool
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        total = body()

    def step():
        graph.replay()
        return total

    return step


def make_adam(params, capturable=False):
    """Adam as vsae_gpu's defaults; the fused kernel where this torch has one for the device (CPU
    since torch 2.4), else the default implementation. capturable: its step count stays on the
    device, so that a CUDA graph can hold the update."""
    params = list(params)
    extra = {"capturable": True} if capturable else {}
    try:
        return torch.optim.Adam(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, fused=True, **extra)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, **extra)


def time_steps(step, warmup, steps, repeats, device):
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        step()
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave the default)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, action="append")
    p.add_argument("--dataset", action="append", choices=["dsprites", "shapes3d"])
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    p.add_argument("--cudnn-deterministic", action="store_true",
                   help="cuDNN's deterministic algorithms, chosen by its heuristics rather than timed "
                        "(cudnn.deterministic, no cudnn.benchmark): vsae_gpu's own rule")
    p.add_argument("--mode", action="append", choices=["eager", "compile", "graph"],
                   help="only these modes (repeatable; default eager, compile and, on CUDA, graph), e.g. one per "
                        "process to measure its memory")
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # as vsae_gpu's training.tf32 default
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = not a.cudnn_deterministic
        torch.backends.cudnn.deterministic = a.cudnn_deterministic
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    cudnn_rule = ", cuDNN deterministic, heuristics" if a.cudnn_deterministic else ""
    print(f"# bench_train_torch: torch {torch.__version__}, device {name}{cudnn_rule}")
    print(f"# warm-up {a.warmup} steps, then the best of {a.repeats} blocks of {a.steps} steps; Top-k SAE (width 500, k 50)")
    print(f"{'dataset':9s} {'C':>2s} {'batch':>6s} {'mode':6s} {'ms/step':>10s} {'images/s':>10s}")
    has_compile = hasattr(torch, "compile") and not a.no_compile
    if a.mode == ["compile"] and not has_compile:
        sys.exit(f"bench_train_torch.py: --mode compile, but torch {torch.__version__} has no torch.compile"
                 + (" (--no-compile)" if a.no_compile else ""))
    if a.mode and "graph" in a.mode and device.type != "cuda":
        sys.exit("bench_train_torch.py: --mode graph needs --device cuda (it captures a CUDA graph)")
    modes = a.mode or ["eager", "compile"] + (["graph"] if device.type == "cuda" else [])
    torch.manual_seed(0)
    for dataset in a.dataset or ["dsprites", "shapes3d"]:
        channels = 1 if dataset == "dsprites" else 3
        scale = 1.0 if channels == 1 else 1.0 / 255.0
        for batch in a.batch or [64, 256]:
            count = max(4 * batch, 1024)
            high = 2 if channels == 1 else 256
            images = torch.randint(0, high, (count, channels, 64, 64), dtype=torch.uint8, device=device)
            order = torch.arange(count, device=device)
            for mode in modes:
                if mode == "compile" and not has_compile:
                    print(f"{dataset:9s} {channels:2d} {batch:6d} {mode:6s} {'n/a':>10s} {'n/a':>10s}")
                    continue
                model = TopkVaeSae(channels).to(device)
                opt = make_adam(model.parameters(), capturable=mode == "graph")
                if mode == "compile":
                    model = torch.compile(model)  # the default mode: inductor
                if mode == "graph":
                    try:
                        step = make_graphed_step(model, opt, images, order, batch, scale, 50, device)
                    except RuntimeError as e:  # a row that says so, not a lost table
                        print(f"# CUDA graph capture of {dataset} batch {batch} failed: {str(e).splitlines()[0]}")
                        print(f"{dataset:9s} {channels:2d} {batch:6d} {mode:6s} {'n/a':>10s} {'n/a':>10s}", flush=True)
                        continue
                else:
                    step = make_step(model, opt, images, order, batch, scale, 50, device)
                if mode == "compile":
                    start = time.perf_counter()
                    step()  # compiles the forward and the backward graph
                    print(f"# torch.compile warm-up (first step) of {dataset} batch {batch}: "
                          f"{time.perf_counter() - start:.1f} s", flush=True)
                seconds = time_steps(step, a.warmup, a.steps, a.repeats, device)
                print(f"{dataset:9s} {channels:2d} {batch:6d} {mode:6s} {seconds * 1e3:10.3f} {batch / seconds:10.1f}",
                      flush=True)


if __name__ == "__main__":
    main()
