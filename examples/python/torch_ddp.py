"""torch_ddp.py: train a pathint model with PyTorch DistributedDataParallel, sample it in pathint.

Each of --world-size processes (CPU and the gloo backend here; GPUs with nccl and
``device_ids=[rank]`` are the same code) trains pathint's MLP (pathint.torch.MLP) on its shard
of a built-in data set with the C trainer's loss (pathint.torch.DSMLoss,
by default EDM preconditioning, weighting and log-normal σ̃, which
train well in few steps). DDP averages the gradients, so every rank holds the same weights;
rank 0 writes them as .safetensors, which pathint loads for sampling and likelihood in C.

    PATHINT_LIBRARY=build/lib/libpathint.so PYTHONPATH=bindings/python \
        python3 examples/python/torch_ddp.py [--world-size 2] [--steps 400] [--out model.safetensors]
"""
import argparse
import json
import os
import tempfile

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import pathint as pi
from pathint.torch import MLP, DSMLoss


def worker(rank, world, init_file, args):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    torch.manual_seed(0)  # the same initial weights everywhere (DDP also broadcasts rank 0's)
    sde = pi.SDE.preset("simple")
    data = torch.from_numpy(pi.generate_data("swiss_roll", 4096, seed=0)).double()
    shard = data[rank::world]  # each rank sees its own rows
    net = MLP(2, width=64, layers=2, preconditioning="edm").double()
    ddp = torch.nn.parallel.DistributedDataParallel(net)
    loss_fn = DSMLoss(sde, weighting=args.weighting, time_sampling=args.time_sampling)
    opt = torch.optim.Adam(ddp.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(1000 + rank)  # different noise per rank
    losses = []
    for _ in range(args.steps):
        idx = torch.randint(0, len(shard), (args.batch,), generator=gen)
        loss = loss_fn(ddp, shard[idx], generator=gen)
        opt.zero_grad()
        loss.backward()  # DDP all-reduces (averages) the gradients here
        opt.step()
        losses.append(loss.item())
    # Every rank must hold the same weights.
    flat = torch.from_numpy(net.flat())
    gathered = [torch.empty_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    agree = all(torch.equal(g, gathered[0]) for g in gathered)
    if rank == 0:
        net.save_safetensors(args.out)
        k = max(1, args.steps // 10)
        with open(args.out + ".json", "w") as f:
            json.dump({"ranks_agree": agree, "first_losses": float(np.mean(losses[:k])),
                       "last_losses": float(np.mean(losses[-k:])), "world_size": world}, f)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world-size", type=int, default=2)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=128, help="per rank")
    ap.add_argument("--out", default="torch_ddp.safetensors")
    ap.add_argument("--weighting", default="edm", help="likelihood, sigma2 or edm (as pathint train)")
    ap.add_argument("--time-sampling", default="lognormal", help="uniform, importance or lognormal")
    args = ap.parse_args()
    args.out = os.path.abspath(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(worker, args=(args.world_size, os.path.join(tmp, "rendezvous"), args),
                 nprocs=args.world_size, join=True)
    with open(args.out + ".json") as f:
        summary = json.load(f)
    print(f"DDP on {summary['world_size']} processes: loss {summary['first_losses']:.3f} -> "
          f"{summary['last_losses']:.3f}; ranks hold the same weights: {summary['ranks_agree']}")

    # pathint takes over: load, sample, score.
    sde = pi.SDE.preset("simple")
    model = pi.Model.load_safetensors(sde, args.out)
    with pi.Sampler(model, steps=50, seed=0) as sampler:
        x = sampler.sample(2000)
    with pi.Likelihood(model) as lik:
        nll0, c1 = lik.nll(pi.generate_data("swiss_roll", 16, seed=1))
    print(f"pathint: {len(x)} samples, mean {x.mean(0).round(3)}; held-out NLL0 {nll0.mean():.3f}, "
          f"c1 {c1.mean():.3f}")
    return 0 if summary["ranks_agree"] and np.isfinite(x).all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
