"""Rows of one large run, computed in partitions anywhere (processes, machines, a cluster).

Every row's noise depends only on (seed, row index), so a partition [a, b) computed with
``first_row=a`` is, bit for bit, rows a … b − 1 of one whole run (fixed-step samplers; the
likelihood's probes and dequantisation). The functions here take a model *file* and plain
options, so that a scheduler can ship them to workers (handles cannot be pickled), and work
with any engine: Dask (examples/python/dask_partitions.py), multiprocessing, a batch queue.

    >>> from pathint.partitions import split, sample_rows
    >>> parts = [sample_rows("model.pim", a, b, hbar=0.5, steps=50, seed=1) for a, b in split(10000, 4)]
    >>> x = np.concatenate(parts)   # == pi.Sampler(model, hbar=0.5, steps=50, seed=1).sample(10000)
"""

import numpy as np

from .core import Likelihood, Model, Sampler

__all__ = ["split", "sample_rows", "sample_rows_from", "nll_rows"]


def split(n, parts):
    """[(a, b), ...]: ``parts`` contiguous ranges covering rows 0 … n − 1 (sizes differ by <= 1)."""
    n, parts = int(n), int(parts)
    if n < 1 or parts < 1:
        raise ValueError(f"split: need n >= 1 and parts >= 1, got n = {n}, parts = {parts}")
    parts = min(parts, n)
    edges = [n * k // parts for k in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:]))


def sample_rows(model_file, a, b, **sampler_options):
    """Rows a … b − 1 of ``Sampler(Model.load(model_file), **sampler_options).sample(n)``."""
    with Model.load(model_file) as model, Sampler(model, **sampler_options) as sampler:
        return sampler.sample(int(b) - int(a), first_row=int(a))


def sample_rows_from(model_file, t_start, x, a, **sampler_options):
    """:meth:`Sampler.sample_from` of the states x, which are rows a … a + len(x) − 1."""
    with Model.load(model_file) as model, Sampler(model, **sampler_options) as sampler:
        return sampler.sample_from(t_start, np.asarray(x, np.float32), first_row=int(a))


def nll_rows(model_file, x, a, c1=True, **likelihood_options):
    """(nll0, c1) of the points x, which are rows a … a + len(x) − 1 of a larger set."""
    with Model.load(model_file) as model, Likelihood(model, **likelihood_options) as lik:
        return lik.nll(x, c1=c1, first_row=int(a))
