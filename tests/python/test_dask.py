"""Dask (issue 19): samples and NLL0/c1 computed in partitions on a LocalCluster of 2 worker
processes equal, bit for bit, the single-process run; the example script runs."""
import os
import subprocess
import sys

import numpy as np
import pytest

import pathint as pi
from pathint.partitions import nll_rows, sample_rows, sample_rows_from, split

distributed = pytest.importorskip("dask.distributed")

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python", "dask_partitions.py")


def test_split_covers_the_rows():
    assert split(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert split(2, 5) == [(0, 1), (1, 2)]
    with pytest.raises(ValueError):
        split(0, 2)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dask")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  local_directory=str(tmp), dashboard_address=None) as lc, \
            distributed.Client(lc) as client:
        yield client, tmp


def _pinned(client, fn, args_list, **kwargs):
    """One task per argument tuple, alternating between the two workers (never elsewhere)."""
    workers = sorted(client.scheduler_info()["workers"])
    assert len(workers) == 2
    futures = [client.submit(fn, *args, **kwargs, pure=False, workers=[workers[k % 2]],
                             allow_other_workers=False) for k, args in enumerate(args_list)]
    return client.gather(futures)


def test_dask_partitions_equal_single_process(cluster):
    client, tmp = cluster
    pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()  # 2 other processes
    sde = pi.SDE("vp")
    model = pi.Model.gmm(sde, [0.3, 0.7], [[-1.0, 0.5], [1.0, -0.5]], [[0.1, 0.2], [0.15, 0.1]])
    path = str(tmp / "model.pim")
    model.save(path)
    opts = dict(hbar=0.5, method="exp2m", steps=30, seed=99)
    n = 1000
    with pi.Sampler(model, **opts) as s:
        whole = s.sample(n)
        x0 = whole[:300] * 0.5
        whole_from = s.sample_from(0.5, x0)
    for parts in (2, 5):
        got = np.concatenate(_pinned(client, sample_rows, [(path, a, b) for a, b in split(n, parts)], **opts))
        assert np.array_equal(got, whole)
    got_from = np.concatenate(_pinned(client, sample_rows_from,
                                      [(path, 0.5, x0[a:b], a) for a, b in split(300, 3)], **opts))
    assert np.array_equal(got_from, whole_from)

    lik_opts = dict(divergence="hutchinson_gaussian", probes=3, seed=4, dequantization=0.001)
    pts = whole[:40]
    with pi.Likelihood(model, **lik_opts) as lik:
        nll0, c1 = lik.nll(pts)
    parts = _pinned(client, nll_rows, [(path, pts[a:b], a) for a, b in split(40, 4)], **lik_opts)
    assert np.array_equal(np.concatenate([p[0] for p in parts]), nll0)
    assert np.array_equal(np.concatenate([p[1] for p in parts]), c1)
    # Without first_row every partition would reuse rows 0, 1, …: not the whole run.
    naive = np.concatenate(_pinned(client, sample_rows, [(path, 0, b - a) for a, b in split(n, 2)], **opts))
    assert not np.array_equal(naive, whole)


def test_dask_example_runs(tmp_path):
    env = dict(os.environ)  # the package under test, wherever it was imported from
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(os.path.abspath(pi.__file__))),
                                         env.get("PYTHONPATH", "")])
    if "PATHINT_LIBRARY" in env:
        env["PATHINT_LIBRARY"] = os.path.abspath(env["PATHINT_LIBRARY"])
    done = subprocess.run([sys.executable, EXAMPLE, "--workers", "2", "--n", "2000", "--points", "8",
                           "--partitions", "4"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "bitwise equal to the single-process run: True" in done.stdout
