"""wkb_digits.py: the WKB analysis (NLL0, c1, c2, samples vs hbar) of a model of real data, d = 64.

The data are scikit-learn's copy of the UCI 8×8 digits (Debian python3-sklearn; nothing is
copied into this tree), loaded, split and scaled as in digits.py: 1 497 training and 300
held-out images, pixels v in 0..16 uniformly dequantised and scaled to [-1, 1],
x = 2 (v + u)/17 - 1, u ~ U(0, 1). The script

  1. trains an unconditional MLP (EDM preconditioning and weighting, log-normal times) with
     pathint's C trainer on 8 dequantised copies of every training image;
  2. computes, on held-out digits, NLL0 in bits per dimension (the likelihood adds u·b,
     b = 2/17, to the bin's lower edge 2 v/17 - 1, so NLL0 is that of the dequantised density;
     bits/dim with scale 1/b = 17/2, i.e. per 17-level pixel) and the WKB coefficient c1 by the
     stochastic O(d) sweep (K probes, with its standard error per point);
  3. tries the exact c1 sweep and c2, and records what the library says (the MLP's exact
     sweep and c2 stop at d = 16);
  4. samples at hbar in {0, 0.25, 0.5, 1} and reports the sliced W2 distance to the held-out
     digits (and the train-vs-held-out baseline).

    PATHINT_LIBRARY=build/lib/libpathint.so PYTHONPATH=bindings/python \\
        python3 examples/python/wkb_digits.py [--steps 4000] [--out report.json] [--quick]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits import LEVELS, load, sliced_w2, to_unit  # noqa: E402  (the same loading and scaling)

import pathint as pi  # noqa: E402

HBARS = (0.0, 0.25, 0.5, 1.0)


def train(x_train, steps, width, layers, seed=0, copies=8, threads=1):
    rng = np.random.default_rng(seed + 1)
    v = np.repeat(x_train, copies, axis=0)
    data = to_unit(v, rng.random(v.shape))
    model = pi.Model.mlp(pi.SDE("vp"), 64, width=width, layers=layers, seed=seed,
                         preconditioning=("edm", 0.5))
    trainer = pi.Trainer(model, lr=2e-3, batch=256, weighting="edm", time_sampling="lognormal",
                         lr_schedule="cosine", warmup=min(100, steps // 10), total_steps=steps,
                         ema=0.999, seed=seed, threads=threads)
    t0 = time.time()
    trainer.fit(data, steps)
    return model, time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--points", type=int, default=40, help="held-out digits for NLL0 and c1")
    ap.add_argument("--probes", type=int, default=16, help="probes K of the stochastic c1")
    ap.add_argument("--samples", type=int, default=1000, help="samples per hbar")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="wkb_digits_report.json")
    ap.add_argument("--quick", action="store_true", help="small sizes (under a minute), for tests")
    args = ap.parse_args()
    if args.quick:
        args.steps, args.width, args.layers = 300, 64, 2
        args.points, args.probes, args.samples = 3, 4, 200

    x_tr, _, x_te, _ = load()
    model, seconds = train(x_tr, args.steps, args.width, args.layers, threads=args.threads)
    print(f"trained {args.steps} steps (MLP {args.layers} x {args.width}, EDM, batch 256, "
          f"{args.threads} thread(s)) in {seconds:.1f} s")
    report = {"training": {"steps": args.steps, "width": args.width, "layers": args.layers,
                           "seconds": round(seconds, 1), "threads": args.threads}}

    # NLL0 and the stochastic c1 of held-out digits (dequantised, see the docstring).
    edges = (2.0 * x_te[:args.points] / LEVELS - 1.0).astype(np.float32)
    lik = pi.Likelihood(model, c1="stochastic", wkb_probes=args.probes, seed=0,
                        dequantization=2.0 / LEVELS, threads=args.threads, rtol=1e-5, atol=1e-7)
    t0 = time.time()
    nll0, c1, se = lik.nll_wkb(edges)
    t_c1 = time.time() - t0
    bpd = np.array([pi.bits_per_dim(v, 64, LEVELS / 2.0) for v in nll0])
    report.update({
        "points": args.points, "probes": args.probes, "seconds_nll_c1": round(t_c1, 1),
        "nll0_nats_mean": float(nll0.mean()), "nll0_bits_per_dim_mean": float(bpd.mean()),
        "nll0_bits_per_dim_sem": float(bpd.std(ddof=1) / np.sqrt(len(bpd))),
        "c1_stochastic_mean": float(c1.mean()),
        "c1_stochastic_sem_over_points": float(c1.std(ddof=1) / np.sqrt(len(c1))),
        "c1_stochastic_median_probe_stderr": float(np.median(se)),
        "c1_stochastic_per_point": [float(v) for v in c1],
        "c1_stochastic_stderr_per_point": [float(v) for v in se]})
    print(f"NLL0 {bpd.mean():.3f} ± {report['nll0_bits_per_dim_sem']:.3f} bits/dim on "
          f"{args.points} held-out digits; c1 (stochastic, K = {args.probes}) mean "
          f"{c1.mean():.2f} ± {report['c1_stochastic_sem_over_points']:.2f} over points, median "
          f"probe s.e. {np.median(se):.2f} ({t_c1:.0f} s)")

    # The exact sweep and c2: what the library says at d = 64.
    for key, call in (("c1_exact", lambda: pi.Likelihood(model, c1="exact").nll(edges[:1])),
                      ("c2", lambda: pi.Likelihood(model).nll(edges[:1], order=2))):
        try:
            call()
            report[key] = "computed"
        except pi.PathintError as err:
            report[key] = f"unsupported: {err}"
        print(f"{key}: {report[key]}")

    # Samples vs hbar.
    held = to_unit(x_te, 0.5)
    report["sliced_w2_train_vs_held_out"] = sliced_w2(to_unit(x_tr, 0.5), held)
    rows = []
    for h in HBARS:
        t0 = time.time()
        x = pi.Sampler(model, steps=50, hbar=h, seed=2, threads=args.threads).sample(args.samples)
        rows.append({"hbar": h, "sliced_w2": sliced_w2(x, held),
                     "nll_first_order_mean": float(nll0.mean() - h * c1.mean()),
                     "seconds": round(time.time() - t0, 1)})
        print(f"hbar {h:4.2f}: sliced W2 to held-out {rows[-1]['sliced_w2']:.4f} "
              f"(train vs held-out {report['sliced_w2_train_vs_held_out']:.4f})")
    report["hbar_table"] = rows
    assert np.all(np.isfinite(nll0)) and np.all(np.isfinite(c1)), "non-finite NLL0 or c1"
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
