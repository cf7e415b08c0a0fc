#!/usr/bin/env python3
"""PyTorch CPU peer for bench_ranking: the plain autograd NeuralSort.

P̂ is built by the formula of Grover et al. (ICLR 2019) as a B×n×n tensor,
exactly like ermongroup/neuralsort (pytorch/neuralsort.py):
    A = |s_j − s_k|, B = A·1, C = s·(n+1−2i)ᵀ, P̂ = softmax((C − B)ᵀ / τ)
then y = P̂·v (the "apply" that ordo's neuralsort_apply computes) and, for
fwd+bwd, L = sum(y · w) backpropagated to s and v by autograd.

Run: OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 python3 bench/peers/torch_neuralsort.py --threads 2
Prints one JSON line per case, like native/bench/bench_ranking.cc.
"""
import argparse
import json
import statistics
import time

import torch


def neuralsort(s, tau):
    # s: B×n×1 (the reference implementation's layout)
    n = s.size(1)
    one = torch.ones((n, 1), dtype=s.dtype)
    A_s = torch.abs(s - s.permute(0, 2, 1))
    B = torch.matmul(A_s, torch.matmul(one, one.t()))
    scaling = (n + 1 - 2 * (torch.arange(n, dtype=s.dtype) + 1))
    C = torch.matmul(s, scaling.unsqueeze(0))
    P_max = (C - B).permute(0, 2, 1)
    return torch.softmax(P_max / tau, dim=-1)


def timeit(fn, reps):
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts), min(ts), max(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shapes = [(4, 8)] if args.quick else [(256, 32), (256, 128), (64, 512), (16, 2048)]
    reps = 2 if args.quick else args.reps
    for (b, n) in shapes:
        s0 = torch.randn(b, n, 1)
        v = torch.randn(b, n, 1)
        w = torch.randn(b, n, 1)

        def fwd():
            with torch.no_grad():
                return torch.matmul(neuralsort(s0, 1.0), v)

        def fwd_bwd():
            s = s0.clone().requires_grad_(True)
            vv = v.clone().requires_grad_(True)
            y = torch.matmul(neuralsort(s, 1.0), vv)
            (y * w).sum().backward()
            return s.grad

        for name, fn in (("neuralsort_fwd", fwd), ("neuralsort_fwd_bwd", fwd_bwd)):
            med, lo, hi = timeit(fn, reps)
            print(json.dumps({"case": name, "shape": f"{b}x{n}", "backend": "torch-cpu", "threads": args.threads,
                              "median_ms": round(med, 3), "min_ms": round(lo, 3), "max_ms": round(hi, 3),
                              "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
