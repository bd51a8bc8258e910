"""wkb_digits.py: the WKB analysis (NLL0, exact and stochastic c1, samples vs hbar) of a model of real data, d = 64.

The data are scikit-learn's copy of the UCI 8×8 digits (Debian python3-sklearn; nothing is
copied into this tree), loaded, split and scaled as in digits.py: 1 497 training and 300
held-out images, pixels v in 0..16 uniformly dequantised and scaled to [-1, 1],
x = 2 (v + u)/17 - 1, u ~ U(0, 1). The script

  1. trains an unconditional MLP (EDM preconditioning and weighting, log-normal times) with
     pathint's C trainer on 8 dequantised copies of every training image;
  2. computes, on a fixed set of held-out digits (the first --points of the held-out split),
     NLL0 in bits per dimension (the likelihood adds u·b, b = 2/17, to the bin's lower edge
     2 v/17 - 1, so NLL0 is that of the dequantised density; bits/dim with scale 1/b = 17/2,
     i.e. per 17-level pixel), and the WKB coefficient c1 three ways on the same points: the
     exact sweep (d x d matrix H; the MLP's third derivatives by forward-over-reverse passes)
     and the stochastic O(d) sweep with K = 16 and K = 64 probes (standard error per point),
     with their agreement |exact - stochastic| / SE and the time per point of each;
  3. records what the library says of c2 at d = 64;
  4. samples at several hbar (two seeds) and reports the sliced W2 distance to the held-out
     digits (and the train-vs-held-out baseline);
  5. draws docs/wkb-digits.png (with matplotlib, if installed): sliced W2 against hbar, and
     the per-point c1 (exact, and stochastic with its standard error).

    PATHINT_LIBRARY=build/lib/libpathint.so PYTHONPATH=bindings/python \\
        python3 examples/python/wkb_digits.py [--steps 3000] [--points 10] [--out report.json]
        [--figure docs/wkb-digits.png] [--quick]
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


def c1_run(model, edges, algorithm, probes, threads):
    """(nll0, c1, stderr, seconds per point) of one c1 algorithm on the points. The order-0
    solve here uses one Rademacher probe for the divergence (its exact d-JVP divergence is
    timed separately): the sweep starts from the same x_T to the solver's tolerance."""
    lik = pi.Likelihood(model, c1=algorithm, wkb_probes=probes, seed=0,
                        dequantization=2.0 / LEVELS, threads=threads, rtol=1e-5, atol=1e-7,
                        divergence="hutchinson_rademacher", probes=1)
    t0 = time.time()
    nll0, c1, se = lik.nll_wkb(edges)
    # wall time per point as one worker sees it (the points run on `threads` workers)
    return nll0, c1, se, (time.time() - t0) * min(threads, len(edges)) / len(edges)


def figure(path, report, hbars, w2, floor):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure")
        return False
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
    w2 = np.asarray(w2)
    for j in range(w2.shape[1]):
        ax0.plot(hbars, w2[:, j], "o-", alpha=0.8, label=f"samples, seed {2 + j}")
    ax0.axhline(floor, color="gray", ls="--", label="training vs held-out digits")
    ax0.set_xlabel("ħ (0: probability-flow ODE, 1: reverse SDE)")
    ax0.set_ylabel("sliced W2 to 300 held-out digits")
    ax0.set_title("8×8 digits: samples against ħ (EXP2M, 50 steps)")
    ax0.legend(fontsize=8)
    ce = np.asarray(report["c1_exact_per_point"])
    order = np.argsort(ce)
    idx = np.arange(len(ce))
    ax1.plot(idx, ce[order], "ks", ms=6, label="exact sweep", zorder=3)
    for k, off, col in ((16, -0.15, "tab:blue"), (64, 0.15, "tab:orange")):
        c = np.asarray(report[f"c1_stochastic_K{k}_per_point"])[order]
        e = np.asarray(report[f"c1_stochastic_K{k}_stderr_per_point"])[order]
        ax1.errorbar(idx + off, c, yerr=e, fmt="o", color=col, ms=4, capsize=2,
                     label=f"stochastic, K = {k} (± 1 SE)")
    ax1.set_yscale("symlog", linthresh=10.0)
    ax1.set_xlabel("held-out digit (sorted by exact c1)")
    ax1.set_ylabel("c1 (nats per unit ħ)")
    ax1.set_title("per-point WKB slope c1: NLL(ħ) ≈ NLL₀ − ħ c1")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--points", type=int, default=10,
                    help="held-out digits (the first of the split) for NLL0 and the three c1")
    ap.add_argument("--samples", type=int, default=1000, help="samples per hbar and seed")
    ap.add_argument("--threads", type=int, default=1,
                    help="workers across points (likelihood) and sampler threads")
    ap.add_argument("--train-threads", type=int, default=1,
                    help="trainer threads (1: the pool's barriers suffer on a loaded machine)")
    ap.add_argument("--out", default="wkb_digits_report.json")
    ap.add_argument("--figure", default=None,
                    help="PNG of W2 vs hbar and the per-point c1 (default docs/wkb-digits.png, "
                         "none with --quick; '' for none)")
    ap.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    args = ap.parse_args()
    hbars = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
    seeds = (2, 3)
    if args.quick:
        args.steps, args.width, args.layers = 300, 32, 2
        args.points, args.samples = 2, 200
        hbars, seeds = (0.0, 1.0), (2,)
    if args.figure is None:
        args.figure = "" if args.quick else "docs/wkb-digits.png"

    x_tr, _, x_te, _ = load()
    model, seconds = train(x_tr, args.steps, args.width, args.layers,
                           threads=args.train_threads)
    print(f"trained {args.steps} steps (MLP {args.layers} x {args.width}, EDM, batch 256, "
          f"{args.train_threads} thread(s)) in {seconds:.1f} s")
    report = {"training": {"steps": args.steps, "width": args.width, "layers": args.layers,
                           "seconds": round(seconds, 1), "threads": args.train_threads},
              "threads": args.threads}

    # NLL0 of the fixed held-out digits (dequantised, see the docstring), exact divergence.
    edges = (2.0 * x_te[:args.points] / LEVELS - 1.0).astype(np.float32)
    lik = pi.Likelihood(model, seed=0, dequantization=2.0 / LEVELS, threads=args.threads,
                        rtol=1e-5, atol=1e-7)
    t0 = time.time()
    nll0, _ = lik.nll(edges, order=0)
    t_nll0 = (time.time() - t0) * min(args.threads, args.points) / args.points
    bpd = np.array([pi.bits_per_dim(v, 64, LEVELS / 2.0) for v in nll0])
    report.update({
        "points": args.points, "seconds_nll0_per_point": round(t_nll0, 2),
        "nll0_nats_per_point": [float(v) for v in nll0],
        "nll0_nats_mean": float(nll0.mean()), "nll0_bits_per_dim_mean": float(bpd.mean()),
        "nll0_bits_per_dim_sem": float(bpd.std(ddof=1) / np.sqrt(len(bpd)))})
    print(f"NLL0 {bpd.mean():.3f} ± {report['nll0_bits_per_dim_sem']:.3f} bits/dim on "
          f"{args.points} held-out digits ({t_nll0:.1f} s per point)")

    # c1: the exact sweep, then the stochastic one with K = 16 and 64, on the same points.
    _, ce, _, t_e = c1_run(model, edges, "exact", 16, args.threads)
    report.update({"c1_exact_per_point": [float(v) for v in ce],
                   "c1_exact_mean": float(ce.mean()),
                   "seconds_c1_exact_per_point": round(t_e, 1)})
    print(f"c1 exact: mean {ce.mean():.3f}, median {np.median(ce):.3f} "
          f"({t_e:.1f} s per point, NLL0 by one probe included)")
    for k in (16, 64):
        _, cs, se, t_s = c1_run(model, edges, "stochastic", k, args.threads)
        z = np.abs(cs - ce) / se
        report.update({
            f"c1_stochastic_K{k}_per_point": [float(v) for v in cs],
            f"c1_stochastic_K{k}_stderr_per_point": [float(v) for v in se],
            f"c1_stochastic_K{k}_mean": float(cs.mean()),
            f"c1_stochastic_K{k}_mean_stderr": float(np.sqrt(np.sum(se ** 2)) / len(se)),
            f"agreement_K{k}_z_per_point": [float(v) for v in z],
            f"agreement_K{k}_max_z": float(z.max()),
            f"agreement_K{k}_within_3se": int(np.sum(z < 3.0)),
            f"seconds_c1_stochastic_K{k}_per_point": round(t_s, 1)})
        print(f"c1 stochastic K = {k}: mean {cs.mean():.3f} ± "
              f"{report[f'c1_stochastic_K{k}_mean_stderr']:.3f} (exact {ce.mean():.3f}); "
              f"|exact - stochastic|/SE max {z.max():.2f}, median {np.median(z):.2f}, "
              f"{int(np.sum(z < 3.0))}/{len(z)} within 3 SE ({t_s:.1f} s per point)")
    for i in range(args.points):
        print(f"  digit {i}: NLL0 {bpd[i]:.3f} bits/dim, c1 exact {ce[i]:9.3f}, K = 16 "
              f"{report['c1_stochastic_K16_per_point'][i]:9.3f} ± "
              f"{report['c1_stochastic_K16_stderr_per_point'][i]:.3f}, K = 64 "
              f"{report['c1_stochastic_K64_per_point'][i]:9.3f} ± "
              f"{report['c1_stochastic_K64_stderr_per_point'][i]:.3f}")

    # c2: what the library says at d = 64.
    try:
        pi.Likelihood(model).nll(edges[:1], order=2)
        report["c2"] = "computed"
    except pi.PathintError as err:
        report["c2"] = f"unsupported: {err}"
    print(f"c2: {report['c2']}")

    # Samples vs hbar.
    held = to_unit(x_te, 0.5)
    floor = sliced_w2(to_unit(x_tr, 0.5), held)
    report["sliced_w2_train_vs_held_out"] = floor
    rows, w2 = [], []
    for h in hbars:
        t0 = time.time()
        row = [sliced_w2(pi.Sampler(model, steps=50, hbar=h, seed=sd,
                                    threads=args.threads).sample(args.samples), held)
               for sd in seeds]
        w2.append(row)
        rows.append({"hbar": h, "sliced_w2_per_seed": row,
                     "nll_first_order_mean": float(nll0.mean() - h * ce.mean()),
                     "seconds": round(time.time() - t0, 1)})
        print(f"hbar {h:4.2f}: sliced W2 to held-out " +
              ", ".join(f"{v:.4f}" for v in row) + f" (train vs held-out {floor:.4f})")
    report["hbar_table"] = rows
    assert np.all(np.isfinite(nll0)) and np.all(np.isfinite(ce)), "non-finite NLL0 or c1"
    if args.figure:
        figure(args.figure, report, hbars, w2, floor)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
