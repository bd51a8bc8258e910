"""torch_interop.py: train in PyTorch, export .safetensors, sample in pathint.

The network is pathint's MLP as a PyTorch module (pathint.torch.MLP, docs/safetensors.md):
input x/α and a sinusoidal embedding of ln(σ̃)/4, hidden Linear+SiLU layers, ε output. It is
trained with pathint's DSM loss (pathint.torch.DSMLoss; here the ε-MSE) on the Swiss roll, saved as .safetensors with the tensor names
pathint reads (`net.<2l>.weight`, `net.<2l>.bias`), loaded by pathint, checked against
PyTorch on 1000 points, and sampled at ħ = 0 and 1. This is how a model trained at scale
with PyTorch runs inside a game through pathint.

    PATHINT_LIBRARY=build/lib/libpathint.so PYTHONPATH=bindings/python \
        python3 examples/python/torch_interop.py [--quick] [--out torch_interop.png]
"""
import argparse
import math
import os
import tempfile
import time

import numpy as np
import torch

import pathint as pi
from pathint.torch import MLP, DSMLoss, sde_terms

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (seconds), for tests")
    ap.add_argument("--out", default="torch_interop.png")
    args = ap.parse_args()
    steps = 200 if args.quick else 8000
    torch.manual_seed(0)
    torch.set_num_threads(2)

    data = torch.from_numpy(pi.generate_data("swiss_roll", 20000, seed=0))
    sde = pi.SDE.preset("simple")  # VP with β from 0 to 20 on t ∈ [0.01, 1]
    net = MLP(dim=2, width=128, layers=3)  # pathint's defaults: log-σ̃ embedding, 16 features, ε output
    # σ² weighting with uniform t in the ε view is the ε-MSE loss ‖ε̂ − z‖² (docs/training.md).
    loss_fn = DSMLoss(sde, weighting="sigma2", time_sampling="uniform")
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    t0 = time.time()
    for step in range(steps):
        for group in opt.param_groups:  # cosine decay
            group["lr"] = 3e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
        x0 = data[torch.randint(0, len(data), (256,))]
        loss = loss_fn(net, x0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"PyTorch: trained {steps} steps in {time.time() - t0:.1f} s (last loss {loss.item():.3f})")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "swiss_roll.safetensors")
        net.save_safetensors(path)  # tensor names and metadata pathint reads
        model = pi.Model.load_safetensors(sde, path)

    # Same weights, same outputs: compare ε on 1000 random (x, t).
    x = np.random.default_rng(0).normal(size=(1000, 2)).astype(np.float32)
    t = np.random.default_rng(1).uniform(0.01, 1.0, size=1000)
    terms = sde_terms(sde, t)
    with torch.no_grad():
        ref = net(torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(terms["alpha"]),
                  torch.from_numpy(terms["sigma"])).numpy()
    got = model.eval("eps", x, t)
    err = np.max(np.abs(got - ref)) / np.max(np.abs(ref))
    print(f"pathint vs PyTorch on 1000 points: max difference {err:.2e} relative to max |ε|")
    assert err < 1e-4, "pathint and PyTorch disagree"

    samples = {}
    with pi.Sampler(model, steps=100, seed=0, threads=2) as sampler:
        for hbar in (0.0, 1.0):
            sampler.hbar = hbar
            samples[hbar] = sampler.sample(500 if args.quick else 3000)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    axes[0].scatter(*data[:3000].numpy().T, s=2, c="0.2")
    axes[0].set_title("data")
    for ax, (hbar, s) in zip(axes[1:], samples.items()):
        ax.scatter(*s.T, s=2)
        ax.set_title(f"PyTorch-trained, sampled by pathint, ħ = {hbar}")
    for ax in axes:
        ax.set_xlim(-2, 2.5)
        ax.set_ylim(-2, 2.5)
        ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
