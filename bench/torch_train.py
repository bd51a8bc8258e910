#!/usr/bin/python3
"""PyTorch reference for mlp_train_vs_torch (issue 7): Adam steps/s of the same model and the
same denoising-score-matching step as pathint's trainer, at a given thread count.

Model: Linear(in, W) + SiLU, (L - 1) x [Linear(W, W) + SiLU], Linear(W, d), with
in = d + F (x / alpha and F sinusoidal features of log sigma-tilde), VP linear SDE, epsilon
prediction, likelihood-free sigma^2 weighting (plain eps-MSE), batch B drawn from a data set.

    torch_train.py [--threads 1,2] [--dim 2] [--width 256] [--layers 3] [--features 16]
                   [--batch 4096] [--reps 7]
Prints one JSON object: {"torch_version": ..., "steps_per_s": {"1": v, "2": v}, ...}.
"""
import argparse
import json
import math
import statistics
import time

import torch


def build(dim, width, layers, features):
    mods = [torch.nn.Linear(dim + features, width), torch.nn.SiLU()]
    for _ in range(layers - 1):
        mods += [torch.nn.Linear(width, width), torch.nn.SiLU()]
    mods.append(torch.nn.Linear(width, dim))
    return torch.nn.Sequential(*mods)


def vp_marginal(t, beta_min=0.1, beta_max=20.0):
    log_alpha = -0.5 * (beta_min * t + 0.5 * (beta_max - beta_min) * t * t)
    alpha = torch.exp(log_alpha)
    sigma = torch.sqrt(-torch.expm1(2.0 * log_alpha))
    return alpha, sigma


def make_step(net, opt, data, batch, features):
    n, dim = data.shape
    freqs = torch.arange(1, features // 2 + 1, dtype=torch.float32)

    def step():
        idx = torch.randint(0, n, (batch,))
        x0 = data[idx]
        t = torch.rand(batch, 1) * (1.0 - 1e-3) + 1e-3
        alpha, sigma = vp_marginal(t)
        z = torch.randn(batch, dim)
        xt = alpha * x0 + sigma * z
        u = torch.log(sigma / alpha) / 4.0
        emb = torch.cat([torch.sin(u * freqs), torch.cos(u * freqs)], dim=1)
        inp = torch.cat([xt / alpha, emb], dim=1)
        eps = net(inp)
        loss = ((eps - z) ** 2).sum(dim=1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss)

    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--dim", type=int, default=2)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--features", type=int, default=16)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    torch.manual_seed(0)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    data = torch.randn(65536, args.dim) * 0.5
    out = {"torch_version": torch.__version__, "batch": args.batch, "dim": args.dim,
           "width": args.width, "layers": args.layers, "features": args.features,
           "reps": max(5, args.reps), "steps_per_s": {}}
    for th in [int(s) for s in args.threads.split(",") if s]:
        torch.set_num_threads(th)
        net = build(args.dim, args.width, args.layers, args.features)
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        step = make_step(net, opt, data, args.batch, args.features)
        for _ in range(3):  # warm-up
            step()
        times = []
        for _ in range(max(5, args.reps)):
            a = time.perf_counter()
            step()
            times.append(time.perf_counter() - a)
        out["steps_per_s"][str(th)] = 1.0 / statistics.median(times)
        params = sum(p.numel() for p in net.parameters())
        out["params"] = params
        out.setdefault("gflops", {})[str(th)] = 6.0 * args.batch * params / statistics.median(times) * 1e-9
    print(json.dumps(out))


if __name__ == "__main__":
    main()
