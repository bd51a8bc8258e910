"""dask_partitions.py: sample and score on a Dask cluster, bit for bit the single-process run.

A model file is shipped to the workers by path; each task computes one partition of rows
[a, b) with ``first_row=a`` (pathint.partitions), so the gathered result equals, bit for bit,
one Sampler.sample(N) / Likelihood.nll(x) in this process: every row's noise depends only on
(seed, row index), not on which worker computed it. Replace the LocalCluster by
``Client("scheduler-address:8786")`` to run on machines that share the model file's path.

    PATHINT_LIBRARY=build/lib/libpathint.so PYTHONPATH=bindings/python \
        python3 examples/python/dask_partitions.py [--workers 2] [--n 20000] [--partitions 8]
"""
import argparse
import os
import tempfile
import time

import numpy as np
from dask.distributed import Client, LocalCluster

import pathint as pi
from pathint.partitions import nll_rows, sample_rows, split


def distributed_sample(client, model_file, n, partitions, **options):
    """N samples as ``partitions`` tasks spread over the workers, gathered in row order."""
    workers = sorted(client.scheduler_info()["workers"])
    futures = [client.submit(sample_rows, model_file, a, b, **options, pure=False,
                             workers=[workers[k % len(workers)]], allow_other_workers=False)
               for k, (a, b) in enumerate(split(n, partitions))]
    return np.concatenate(client.gather(futures))


def distributed_nll(client, model_file, x, partitions, **options):
    """(nll0, c1) of the points x, partitioned over the workers."""
    workers = sorted(client.scheduler_info()["workers"])
    futures = [client.submit(nll_rows, model_file, x[a:b], a, **options, pure=False,
                             workers=[workers[k % len(workers)]], allow_other_workers=False)
               for k, (a, b) in enumerate(split(len(x), partitions))]
    parts = client.gather(futures)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the LocalCluster")
    ap.add_argument("--n", type=int, default=20000, help="samples")
    ap.add_argument("--points", type=int, default=64, help="points for NLL0 and c1")
    ap.add_argument("--partitions", type=int, default=8)
    args = ap.parse_args()

    # A model to share: here a two-component mixture with its exact score, saved to a file.
    sde = pi.SDE("vp")
    model = pi.Model.gmm(sde, [0.3, 0.7], [[-1.0, 0.5], [1.0, -0.5]], [[0.1, 0.2], [0.15, 0.1]])
    sampler_options = dict(hbar=0.5, method="exp2m", steps=50, seed=2026)
    lik_options = dict(divergence="hutchinson_gaussian", probes=4, seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.pim")
        model.save(path)
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          local_directory=tmp, dashboard_address=None) as cluster, Client(cluster) as client:
            t0 = time.perf_counter()
            x = distributed_sample(client, path, args.n, args.partitions, **sampler_options)
            t1 = time.perf_counter()
            nll0, c1 = distributed_nll(client, path, x[:args.points], args.partitions, **lik_options)
            t2 = time.perf_counter()

        # The same in this process, in one piece.
        with pi.Sampler(model, **sampler_options) as s:
            x_one = s.sample(args.n)
        with pi.Likelihood(model, **lik_options) as lik:
            nll_one, c1_one = lik.nll(x_one[:args.points])
    same = np.array_equal(x, x_one) and np.array_equal(nll0, nll_one) and np.array_equal(c1, c1_one)
    print(f"{args.n} samples in {args.partitions} partitions on {args.workers} workers: {t1 - t0:.2f} s; "
          f"NLL0/c1 of {args.points} points: {t2 - t1:.2f} s")
    print(f"mean NLL0 {nll0.mean():.4f} nats, mean c1 {c1.mean():.4f}")
    print("bitwise equal to the single-process run:", same)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
