"""PyTorch peer for tools/bench_kernels: times torch.topk + scatter, the usual way to write a Top-k
SAE activation, on the same GPU and with the same method (CUDA events, L2 flushed before each run,
median). Prints one line per shape: "topk B W k microseconds".

Usage: bench_topk_torch.py --shapes BxWxK[,BxWxK...] [--reps N]
Exits with status 2 (and a reason on stderr) when PyTorch or a CUDA device is missing.
"""
import argparse
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", required=True, help="comma-separated BxWxK")
    parser.add_argument("--reps", type=int, default=50)
    args = parser.parse_args()
    try:
        import torch
    except ImportError as e:
        print(f"bench_topk_torch: PyTorch is not importable: {e}", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("bench_topk_torch: PyTorch sees no CUDA device", file=sys.stderr)
        return 2

    device = torch.device("cuda")
    l2 = getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 64 << 20)
    flush = torch.empty(2 * max(l2, 1 << 20), dtype=torch.uint8, device=device)
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    gen = torch.Generator(device=device).manual_seed(42)

    for shape in args.shapes.split(","):
        b, w, k = (int(v) for v in shape.split("x"))
        z_pre = torch.rand(b, w, device=device, generator=gen) * 4 - 2
        bias = torch.rand(w, device=device, generator=gen) - 0.5
        a = torch.empty_like(z_pre)

        def op():
            values, indices = torch.topk(z_pre + bias, k, dim=1)
            a.zero_().scatter_(1, indices, values.clamp_min(0))

        for _ in range(3):
            op()
        times = []
        for i in range(args.reps):
            flush.fill_(i & 0xFF)
            start.record()
            op()
            stop.record()
            stop.synchronize()
            times.append(1000.0 * start.elapsed_time(stop))
        times.sort()
        print(f"topk {b} {w} {k} {times[len(times) // 2]:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
