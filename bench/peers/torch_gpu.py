#!/usr/bin/env python3
"""PyTorch CUDA peers for the regression suite (bench/suite.mjs), on the same GPU:

  - sgemm: torch.matmul in FP32 (cuBLAS; TF32 off, as ordo computes in FP32);
  - neuralsort_fwd / neuralsort_fwd_bwd: the plain autograd NeuralSort of
    ermongroup/neuralsort (B x n x n P-hat, as bench/peers/torch_neuralsort.py);
  - mlp_train_step: forward (training), loss 0.5*sum(y^2), backward, Adam(W)
    step, the shapes of native/bench/bench_gpu.cu (shape names match).

Timing: CUDA events around each repetition after warm-up calls, like bench_gpu.
Run: python3 bench/peers/torch_gpu.py [--quick] [--reps N]   -> one JSON line per case
"""
import argparse
import json
import statistics

import torch


def timed(fn, reps, warm=3):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times), min(times), max(times)


def emit(case, shape, t, **extra):
    med, lo, hi = t
    print(json.dumps({"case": case, "shape": shape, "backend": "torch-cuda " + torch.__version__, "timing": "cuda-events",
                      "median_ms": round(med, 4), "min_ms": round(lo, 4), "max_ms": round(hi, 4), **extra}), flush=True)


def neuralsort(s, tau):
    n = s.size(1)
    one = torch.ones((n, 1), dtype=s.dtype, device=s.device)
    a_s = torch.abs(s - s.permute(0, 2, 1))
    b = torch.matmul(a_s, torch.matmul(one, one.t()))
    scaling = (n + 1 - 2 * (torch.arange(n, dtype=s.dtype, device=s.device) + 1))
    c = torch.matmul(s, scaling.unsqueeze(0))
    return torch.softmax((c - b).permute(0, 2, 1) / tau, dim=-1)


def mlp(sizes, act, layernorm, dropout):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU() if act == "relu" else torch.nn.SiLU())
            if layernorm:
                layers.append(torch.nn.LayerNorm(sizes[i + 1]))
            if dropout > 0:
                layers.append(torch.nn.Dropout(dropout))
    return torch.nn.Sequential(*layers).cuda().train()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"case": "torch_gpu", "skipped": "torch.cuda.is_available() is False"}))
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    reps = 3 if args.quick else args.reps
    dev = torch.device("cuda")
    torch.manual_seed(0)
    print(json.dumps({"case": "torch_gpu_device", "name": torch.cuda.get_device_name(0), "torch": torch.__version__,
                      "cuda": torch.version.cuda}), flush=True)

    gemms = [(256, 136, 128), (1024, 1024, 1024)] if args.quick else [
        (4096, 136, 512), (4096, 512, 512), (1024, 1024, 1024), (4096, 46, 256), (8192, 8192, 8192)]
    for m, n, k in gemms:
        a = torch.rand(m, k, device=dev) * 2 - 1
        b = torch.rand(k, n, device=dev) * 2 - 1
        c = torch.empty(m, n, device=dev)
        t = timed(lambda: torch.matmul(a, b, out=c), reps)
        emit("sgemm", f"{m}x{n}x{k}", t, gflops=round(2.0 * m * n * k / (t[0] * 1e6), 1))

    batch = 256 if args.quick else 4096
    for sizes, act, ln, drop, opt in (([136, 512, 512, 1], "relu", False, 0.0, "adam"),
                                      ([46, 256, 256, 256, 256, 1], "relu", False, 0.0, "adam"),
                                      ([50, 256, 256, 256, 256, 48], "silu", True, 0.1, "adamw")):
        model = mlp(sizes, act, ln, drop)
        optim = (torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01) if opt == "adamw"
                 else torch.optim.Adam(model.parameters(), lr=1e-4))
        x = torch.rand(batch, sizes[0], device=dev) * 2 - 1

        def step():
            optim.zero_grad(set_to_none=False)
            y = model(x)
            (0.5 * (y * y).sum()).backward()
            optim.step()

        t = timed(step, reps)
        flops = 3 * sum(2.0 * batch * sizes[i] * sizes[i + 1] for i in range(len(sizes) - 1))
        name = "mlp_train_step_denoiser" if act == "silu" else "mlp_train_step"
        emit(name, f"batch{batch}:" + "-".join(str(v) for v in sizes), t, gflops=round(flops / (t[0] * 1e6), 1))

    for b, n in ([(8, 32)] if args.quick else [(256, 32), (256, 128), (64, 512), (16, 2048)]):
        s0 = torch.randn(b, n, 1, device=dev)
        v = torch.randn(b, n, 1, device=dev)
        w = torch.randn(b, n, 1, device=dev)

        def fwd():
            with torch.no_grad():
                return torch.matmul(neuralsort(s0, 1.0), v)

        def fwd_bwd():
            s = s0.clone().requires_grad_(True)
            vv = v.clone().requires_grad_(True)
            (torch.matmul(neuralsort(s, 1.0), vv) * w).sum().backward()

        emit("neuralsort_fwd", f"{b}x{n}", timed(fwd, reps), extra_memory_bytes=4 * b * n * n)
        emit("neuralsort_fwd_bwd", f"{b}x{n}", timed(fwd_bwd, reps), extra_memory_bytes=3 * 4 * b * n * n)


if __name__ == "__main__":
    main()
