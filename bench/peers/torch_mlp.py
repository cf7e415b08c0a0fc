#!/usr/bin/env python3
"""PyTorch CPU peer for bench_dense's MLP train step.

Same cases as native/bench/bench_dense.cc: batch 4096, ReLU MLPs
136-512-512-1 and 46-256-256-256-256-1, one step = forward, loss
0.5*sum(y^2) (so dy = y, as in bench_dense), backward, torch.optim.Adam on
all parameters. Prints one JSON line per case with median/min/max ms.

Run: OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 /usr/bin/python3 bench/peers/torch_mlp.py --threads 2
"""
import argparse
import json
import statistics
import time

import torch


def make(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def bench(sizes, batch, reps):
    torch.manual_seed(0)
    model = make(sizes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand(batch, sizes[0]) * 2 - 1

    def step():
        opt.zero_grad(set_to_none=False)
        y = model(x)
        loss = 0.5 * (y * y).sum()
        loss.backward()
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    batch = 256 if args.quick else 4096
    reps = 2 if args.quick else args.reps
    for sizes in ([136, 512, 512, 1], [46, 256, 256, 256, 256, 1]):
        t = bench(sizes, batch, reps)
        shape = "batch%d:%s" % (batch, "-".join(str(s) for s in sizes))
        flops = 3 * sum(2.0 * batch * sizes[i] * sizes[i + 1] for i in range(len(sizes) - 1))
        med = statistics.median(t)
        print(json.dumps({"case": "mlp_train_step_adam", "shape": shape, "backend": "torch-cpu " + torch.__version__,
                          "threads": torch.get_num_threads(), "median_ms": round(med, 3), "min_ms": round(min(t), 3),
                          "max_ms": round(max(t), 3), "gflops": round(flops / (med * 1e6), 2), "ratio": None,
                          "reference": None}), flush=True)


if __name__ == "__main__":
    main()
