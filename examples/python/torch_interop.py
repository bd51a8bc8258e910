"""torch_interop.py: train in PyTorch, export .safetensors, sample in pathint.

The network is pathint's MLP written in PyTorch (docs/safetensors.md): input x/α and a
sinusoidal embedding of ln(σ̃)/4, hidden Linear+SiLU layers, ε output. It is trained with
the ε-MSE denoising loss on the Swiss roll, saved as .safetensors with the tensor names
pathint reads (`net.<2l>.weight`, `net.<2l>.bias`), loaded by pathint, checked against
PyTorch on 1000 points, and sampled at ħ = 0 and 1. This is how a model trained at scale
with PyTorch runs inside a game through pathint.

    PATHINT_LIBRARY=build/lib/libpathint.so PYTHONPATH=bindings/python \
        python3 examples/python/torch_interop.py [--quick] [--out torch_interop.png]
"""
import argparse
import json
import math
import os
import struct
import tempfile
import time

import numpy as np
import torch

import pathint as pi

BETA_MIN, BETA_MAX, T_MIN = 0.0, 20.0, 0.01  # the pathint SDE below, written out for PyTorch


def alpha_sigma(t):
    integral = BETA_MIN * t + 0.5 * (BETA_MAX - BETA_MIN) * t * t
    alpha = torch.exp(-0.5 * integral)
    return alpha, torch.sqrt(1 - alpha * alpha)


class PathintMLP(torch.nn.Module):
    """pathint's MLP (default options: log-σ̃ embedding with 16 features, ε output)."""

    def __init__(self, dim=2, width=128, layers=3, features=16):
        super().__init__()
        mods = [torch.nn.Linear(dim + features, width), torch.nn.SiLU()]
        for _ in range(layers - 1):
            mods += [torch.nn.Linear(width, width), torch.nn.SiLU()]
        mods.append(torch.nn.Linear(width, dim))
        self.net = torch.nn.Sequential(*mods)
        h = features // 2
        self.register_buffer("omega", torch.tensor([64.0 ** (k / (h - 1)) for k in range(h)]), persistent=False)

    def forward(self, x, t):
        alpha, sigma = alpha_sigma(t)
        u = torch.log(sigma / alpha)[:, None] / 4
        emb = torch.cat([torch.sin(self.omega * u), torch.cos(self.omega * u)], dim=1)
        return self.net(torch.cat([x / alpha[:, None], emb], dim=1))


def save_safetensors(module, path, metadata):
    """A minimal safetensors writer (F32, little-endian, header padded to 8 bytes)."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, tensor in module.state_dict().items():
        raw = tensor.detach().float().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (seconds), for tests")
    ap.add_argument("--out", default="torch_interop.png")
    args = ap.parse_args()
    steps = 200 if args.quick else 8000
    torch.manual_seed(0)
    torch.set_num_threads(2)

    data = torch.from_numpy(pi.generate_data("swiss_roll", 20000, seed=0))
    net = PathintMLP()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    t0 = time.time()
    for step in range(steps):
        for group in opt.param_groups:  # cosine decay
            group["lr"] = 3e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
        x0 = data[torch.randint(0, len(data), (256,))]
        t = T_MIN + (1 - T_MIN) * torch.rand(len(x0))
        alpha, sigma = alpha_sigma(t)
        z = torch.randn_like(x0)
        loss = ((net(alpha[:, None] * x0 + sigma[:, None] * z, t) - z) ** 2).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"PyTorch: trained {steps} steps in {time.time() - t0:.1f} s (last loss {loss.item():.3f})")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "swiss_roll.safetensors")
        save_safetensors(net, path, {"format": "pathint-mlp", "output_view": "eps", "embedding": "log_sigma"})
        sde = pi.SDE("vp", beta_min=BETA_MIN, t_min=T_MIN)
        model = pi.Model.load_safetensors(sde, path)

    # Same weights, same outputs: compare ε on 1000 random (x, t).
    x = np.random.default_rng(0).normal(size=(1000, 2)).astype(np.float32)
    t = np.random.default_rng(1).uniform(T_MIN, 1.0, size=1000)
    with torch.no_grad():
        ref = net(torch.from_numpy(x), torch.from_numpy(t).float()).numpy()
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
