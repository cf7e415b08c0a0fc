#!/usr/bin/env python3
"""PyTorch CPU peer for bench_dense's MLP train steps.

Same cases as native/bench/bench_dense.cc, batch 4096, one step = forward
(training mode), loss 0.5*sum(y^2) (so dy = y, as in bench_dense), backward,
optimiser step on all parameters:
  - ReLU MLPs 136-512-512-1 and 46-256-256-256-256-1 with torch.optim.Adam;
  - the DiffusionRank denoiser (issue #6): 50 -> 4 x [Linear(256) -> SiLU ->
    LayerNorm -> Dropout(0.1)] -> Linear(48), torch.optim.AdamW (weight decay 0.01).
Prints one JSON line per case with median/min/max ms; shape names match bench_dense's.

Run: OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 /usr/bin/python3 bench/peers/torch_mlp.py --threads 2
     [--reps N] [--only SUBSTRING]
"""
import argparse
import json
import statistics
import time

import torch

# (sizes, activation, layernorm, dropout, optimiser)
CASES = [
    ([136, 512, 512, 1], "relu", False, 0.0, "adam"),
    ([46, 256, 256, 256, 256, 1], "relu", False, 0.0, "adam"),
    ([50, 256, 256, 256, 256, 48], "silu", True, 0.1, "adamw"),
]


def make(sizes, act, layernorm, dropout):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU() if act == "relu" else torch.nn.SiLU())
            if layernorm:
                layers.append(torch.nn.LayerNorm(sizes[i + 1]))
            if dropout > 0:
                layers.append(torch.nn.Dropout(dropout))
    return torch.nn.Sequential(*layers)


def shape_name(batch, sizes, act, layernorm, dropout):
    s = "batch%d:%s" % (batch, "-".join(str(v) for v in sizes))
    if act == "silu":
        s += "+silu"
    if layernorm:
        s += "+ln"
    if dropout > 0:
        s += "+drop%g" % dropout
    return s


def bench(sizes, act, layernorm, dropout, optim, batch, reps):
    torch.manual_seed(0)
    model = make(sizes, act, layernorm, dropout)
    model.train()
    if optim == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    else:
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
    ap.add_argument("--only", default="", help="run only the cases whose shape name contains this")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    batch = 256 if args.quick else 4096
    reps = 2 if args.quick else args.reps
    for sizes, act, layernorm, dropout, optim in CASES:
        shape = shape_name(batch, sizes, act, layernorm, dropout)
        if args.only and args.only not in shape:
            continue
        t = bench(sizes, act, layernorm, dropout, optim, batch, reps)
        flops = 3 * sum(2.0 * batch * sizes[i] * sizes[i + 1] for i in range(len(sizes) - 1))
        med = statistics.median(t)
        print(json.dumps({"case": "mlp_train_step_" + optim, "shape": shape, "backend": "torch-cpu " + torch.__version__,
                          "threads": torch.get_num_threads(), "median_ms": round(med, 3), "min_ms": round(min(t), 3),
                          "max_ms": round(max(t), 3), "gflops": round(flops / (med * 1e6), 2), "ratio": None,
                          "reference": None}), flush=True)


if __name__ == "__main__":
    main()
