#!/usr/bin/python3
"""PyTorch reference for gmm_score_vs_torch (issue 17): the exact Gaussian mixture's score in
float64 by its closed form, batched over rows and components, at the given threads.

    torch_gmm.py --threads 1,2 --rows 4096 --reps 15

The mixture is 25 Gaussians on a 5 x 5 grid in 2-D (means -2..2, variance 0.01, equal weights,
as pathint-bench's), the VP-linear SDE (beta 0.1 -> 20) at t = 0.3. Prints JSON: rows/s per
thread count and the torch version."""
import argparse
import json
import math
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=15)
    a = ap.parse_args()
    torch.manual_seed(0)
    grid = torch.arange(5, dtype=torch.float64) - 2.0
    mu = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), -1).reshape(25, 2)
    var = torch.full((25, 2), 0.01, dtype=torch.float64)
    logw = torch.full((25,), -math.log(25.0), dtype=torch.float64)
    t = 0.3
    bmin, bmax = 0.1, 20.0
    log_alpha = -0.25 * t * t * (bmax - bmin) - 0.5 * t * bmin
    alpha = math.exp(log_alpha)
    sigma = math.sqrt(1.0 - math.exp(2.0 * log_alpha))
    x = (torch.rand(a.rows, 2, dtype=torch.float64) * 4.0 - 2.0) * alpha

    def score(x):
        c = alpha * alpha * var + sigma * sigma                     # k x d
        diff = x[:, None, :] - alpha * mu[None, :, :]               # n x k x d
        logp = logw - 0.5 * (diff * diff / c).sum(-1) - 0.5 * torch.log(c).sum(-1)
        r = torch.softmax(logp, dim=1)                              # n x k, max-subtracted
        return -(r[:, :, None] * diff / c).sum(1)                   # n x d

    out = {"torch_version": torch.__version__, "rows": a.rows, "rows_per_s": {}}
    for th in [int(v) for v in a.threads.split(",")]:
        torch.set_num_threads(th)
        with torch.no_grad():
            score(x)
            times = []
            for _ in range(a.reps):
                t0 = time.perf_counter()
                score(x)
                times.append(time.perf_counter() - t0)
        times.sort()
        out["rows_per_s"][str(th)] = a.rows / times[len(times) // 2]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
