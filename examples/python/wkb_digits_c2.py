"""wkb_digits_c2.py: the stochastic second WKB coefficient c2 of a digits model, d = 64.

The model and data are those of wkb_digits.py (its train() and the same loading, scaling and
dequantisation: held-out pixels v in 0..16, x = 2 (v + u)/17 - 1); the exact c2 stops at
d = 16, so c2 here is the stochastic estimate (docs/likelihood.md, "Second order,
stochastic"): the mean over K independent replicates with its standard error, per point,
next to NLL0 (bits/dim) and the stochastic c1.

    PATHINT_LIBRARY=build/lib/libpathint.so PYTHONPATH=bindings/python \\
        python3 examples/python/wkb_digits_c2.py [--steps 300 --width 64 --layers 2] \\
        [--points 2] [--probes 8] [--rtol 1e-4]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits import LEVELS, load  # noqa: E402
from wkb_digits import train  # noqa: E402

import pathint as pi  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--points", type=int, default=2, help="held-out digits")
    ap.add_argument("--probes", type=int, default=8, help="replicates K of c2 (probes of c1)")
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="wkb_digits_c2_report.json")
    args = ap.parse_args()

    x_tr, _, x_te, _ = load()
    model, seconds = train(x_tr, args.steps, args.width, args.layers, threads=args.threads)
    print(f"trained {args.steps} steps (MLP {args.layers} x {args.width}) in {seconds:.1f} s")
    edges = (2.0 * x_te[:args.points] / LEVELS - 1.0).astype(np.float32)
    lik = pi.Likelihood(model, c1="stochastic", wkb_probes=args.probes, seed=0,
                        dequantization=2.0 / LEVELS, threads=args.threads, rtol=args.rtol,
                        atol=args.rtol * 1e-2)
    t0 = time.time()
    nll0, c1, se1, c2, se2 = lik.nll_wkb2(edges)
    secs = time.time() - t0
    bpd = [pi.bits_per_dim(v, 64, LEVELS / 2.0) for v in nll0]
    for i in range(args.points):
        print(f"digit {i}: NLL0 {bpd[i]:.3f} bits/dim, c1 {c1[i]:.2f} ± {se1[i]:.2f}, "
              f"c2 {c2[i]:.1f} ± {se2[i]:.1f}, first order within 10 % up to "
              f"ħ ≈ {0.1 * abs(c1[i] / c2[i]):.3g}")
    print(f"({secs:.0f} s for {args.points} points, K = {args.probes}, rtol {args.rtol})")
    report = {"training": vars(args), "seconds": round(secs, 1),
              "bits_per_dim": [float(v) for v in bpd], "c1": c1.tolist(),
              "c1_stderr": se1.tolist(), "c2": c2.tolist(), "c2_stderr": se2.tolist()}
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
