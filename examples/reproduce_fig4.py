#!/usr/bin/env python3
"""Hirono et al. (ICML 2024), Fig. 4: the Wasserstein-2 distance between samples of a trained
model and the data as the sampler's ħ goes from 0 (probability-flow ODE) to 1 (reverse SDE).

    python3 examples/reproduce_fig4.py CHECKPOINT DATASET [--samples 10000] [--steps 500]
                                       [--hbar 0,0.1,...] [--seeds 0,1] [--threads 2]
                                       [--floor-pairs 1]

CHECKPOINT is a trainer checkpoint written by examples/reproduce_paper.c (its model holds the
EMA weights); DATASET is 'swiss_roll' or '25_gaussians'. For every seed the samples at every ħ
start from the same prior draw and use the same noise stream (common random numbers), so the
differences between ħ are not buried in sampling noise. W2 is exact: the optimal assignment
between the n samples and n fresh data points (scipy's linear_sum_assignment on the squared
distances; ~1–2 min for n = 10 000). The floor is what a perfect sampler gives: the mean W2
between --floor-pairs fresh draws of the data and the same reference points the samples are
compared with. (The reference set's own chance deviations are shared by every row, so the
floor must use it too.) On 25 Gaussians W2 at this n is dominated by chance: the multinomial
counts of the 25 modes differ between draws, and the surplus must travel between modes. Needs numpy and scipy (Debian python3-numpy, python3-scipy) and the pathint package
(bindings/python) on PYTHONPATH. Prints one JSON object; docs/reproduction.md has the numbers.
"""
import argparse
import json
import sys
import time

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

import pathint as pi


def w2_exact(a, b):
    """Exact W2 between two equal-size point sets with uniform weights."""
    cost = cdist(np.asarray(a, np.float64), np.asarray(b, np.float64), "sqeuclidean")
    rows, cols = linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols].mean()))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("dataset")
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--method", default="exp2m")
    ap.add_argument("--hbar", default="0,0.1,0.2,0.4,0.6,0.8,1")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--floor-pairs", type=int, default=1)
    args = ap.parse_args(argv)
    hbars = [float(h) for h in args.hbar.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]

    trainer = pi.Trainer.resume(args.checkpoint)
    model = trainer.model
    n = args.samples
    # Held-out data (seeds far from the training set's 1000 + s and the test set's 2000 + s).
    data = pi.generate_data(args.dataset, n, seed=5000)
    floors = [w2_exact(pi.generate_data(args.dataset, n, seed=6000 + k), data)
              for k in range(max(1, args.floor_pairs))]
    floor = float(np.mean(floors))
    rows = []
    for seed in seeds:
        for h in hbars:
            t0 = time.time()
            with pi.Sampler(model, hbar=h, method=args.method, steps=args.steps, seed=seed,
                            threads=args.threads) as s:
                x = s.sample(n)
            t1 = time.time()
            w = w2_exact(x, data)
            rows.append({"seed": seed, "hbar": h, "w2": w, "sample_s": round(t1 - t0, 1),
                         "w2_s": round(time.time() - t1, 1)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    json.dump({"checkpoint": args.checkpoint, "dataset": args.dataset, "samples": n,
               "steps": args.steps, "method": args.method, "w2_data_vs_data": floor,
               "w2_data_vs_data_pairs": floors,
               "results": rows}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
