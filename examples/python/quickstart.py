"""quickstart.py: pathint from Python in one page.

Train a small score model on a built-in 2-D data set, sample it at several ħ, compute the
likelihood NLL₀ and its WKB slope c1 on held-out points, and save a matplotlib figure.

    PATHINT_LIBRARY=build/lib/libpathint.so PYTHONPATH=bindings/python \
        python3 examples/python/quickstart.py [--quick] [--out quickstart.png]
"""
import argparse
import time

import numpy as np

import pathint as pi


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (seconds), for tests")
    ap.add_argument("--out", default="quickstart.png")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    steps = 300 if args.quick else 12000
    n_samples = 500 if args.quick else 3000
    n_eval = 4 if args.quick else 32

    # Data: 20 000 training points and held-out points from another seed.
    data = pi.generate_data("swiss_roll", 20000, seed=0)
    held_out = pi.generate_data("swiss_roll", n_eval, seed=1)

    # Hirono et al.'s "SIMPLE" SDE (VP with β from 0 to 20 on t ∈ [0.01, 1]), a library preset.
    sde = pi.SDE.preset("simple")
    model = pi.Model.mlp(sde, dim=2, width=128, layers=3, seed=0)

    # Denoising score matching with likelihood weighting (docs/training.md).
    trainer = pi.Trainer(model, lr=3e-3, batch=128, weighting="likelihood", time_sampling="importance",
                         ema=0.995, lr_schedule="cosine", warmup=steps // 50, total_steps=steps,
                         seed=0, threads=args.threads)
    t0 = time.time()
    last = [0.0]

    def progress(step, loss, ema_loss, rate):
        if time.time() - last[0] > 2:
            last[0] = time.time()
            print(f"  step {step}/{steps}  loss {ema_loss:.3f}  {rate:.0f} steps/s", flush=True)
        return False  # True would cancel

    trainer.fit(data, steps, callback=progress)
    print(f"trained {steps} steps in {time.time() - t0:.1f} s")

    # The ħ family: one knob from the probability-flow ODE (0) to the reverse SDE (1).
    samples = {}
    with pi.Sampler(model, steps=100, seed=0, threads=args.threads) as sampler:
        for hbar in (0.0, 0.5, 1.0):
            sampler.hbar = hbar
            samples[hbar] = sampler.sample(n_samples)
    # The likelihood depends on the model only: its own handle, with its own tolerances.
    with pi.Likelihood(model, rtol=1e-4, atol=1e-6, threads=args.threads) as lik:
        nll0, c1 = lik.nll(held_out)
    print(f"NLL0 = {nll0.mean():.3f} nats/point, c1 = {c1.mean():.3f}")
    for hbar in (0.0, 0.5, 1.0):
        print(f"  NLL({hbar}) ≈ NLL0 − ħ c1 = {np.mean(nll0 - hbar * c1):.3f}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    axes[0].scatter(*data[:n_samples].T, s=2, c="0.2")
    axes[0].set_title("data")
    for ax, (hbar, x) in zip(axes[1:], samples.items()):
        ax.scatter(*x.T, s=2)
        ax.set_title(f"samples, ħ = {hbar}")
    for ax in axes:
        ax.set_xlim(-2, 2.5)
        ax.set_ylim(-2, 2.5)
        ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
