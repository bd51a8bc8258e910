"""pathint.torch (issue 19): the PyTorch DSM loss is the C trainer's. On the batches
pi_trainer_step drew (tests/trainer_dump.c prints them with the loss it returned and the
gradient it applied), the torch loss (float64) gives the same times, row weights, loss and
gradient, for every weighting, time sampling, preconditioning mode, time embedding and output
view; and MLP state_dicts round-trip with pathint's safetensors files."""
import json
import os
import subprocess

import numpy as np
import pytest

import pathint as pi

torch = pytest.importorskip("torch")
from pathint.torch import MLP, DSMLoss  # noqa: E402

DUMP = os.environ.get("PATHINT_TRAINER_DUMP")

# (sde, dim, width, layers, features, embedding, view, precond, sigma_data, weighting, sampling)
CASES = [
    ("vp", 2, 16, 2, 8, "log_sigma", "eps", "none", 0.5, "likelihood", "uniform"),
    ("vp", 2, 16, 2, 8, "log_sigma", "eps", "none", 0.5, "likelihood", "importance"),
    ("simple", 3, 12, 3, 6, "time", "score", "input", 0.7, "sigma2", "lognormal"),
    ("vp-cosine", 2, 16, 1, 4, "log_sigma", "denoised", "none", 0.5, "edm", "uniform"),
    ("edm", 2, 16, 2, 8, "log_sigma", "eps", "edm", 0.5, "edm", "lognormal"),
    ("ve", 2, 8, 2, 2, "time", "eps", "edm", 1.3, "likelihood", "importance"),
    ("subvp", 2, 16, 2, 8, "log_sigma", "score", "input", 0.5, "sigma2", "importance"),
]


def _enum_value(cls, name):
    return int(pi.core._enum(cls, name))


@pytest.mark.skipif(DUMP is None, reason="PATHINT_TRAINER_DUMP is not set (run through meson test)")
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, (c[0], c[6], c[7], c[9], c[10], c[5]))))
def test_torch_loss_and_gradient_equal_pi_trainer_step(case):
    sde_name, dim, width, layers, features, emb, view, precond, sd, weighting, sampling = case
    batch, steps = 16, 3
    args = [DUMP, sde_name, dim, width, layers, features, _enum_value(pi.Embedding, emb),
            _enum_value(pi.View, view), _enum_value(pi.Precond, precond), sd,
            _enum_value(pi.Weighting, weighting), _enum_value(pi.TimeSampling, sampling), batch, steps]
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True).stdout
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == steps
    sde = pi.SDE.preset(sde_name) if sde_name == "simple" else pi.SDE(sde_name)
    net = MLP(dim, width, layers, features, emb, view, precond, sd).double()
    loss_fn = DSMLoss(sde, weighting=weighting, time_sampling=sampling)
    for rec in records:
        net.set_flat(rec["params"])
        net.zero_grad()
        t, ratio = loss_fn.times(rec["u"], rec["normal"])
        np.testing.assert_allclose(t, rec["t"], rtol=1e-12, atol=1e-14)
        w = loss_fn.weights(t, ratio, net)[0]
        np.testing.assert_allclose(w, rec["w"], rtol=1e-10)
        x0 = torch.tensor(rec["x0"], dtype=torch.float64).reshape(batch, dim)
        z = torch.tensor(rec["z"], dtype=torch.float64).reshape(batch, dim)
        loss = loss_fn(net, x0, z=z, t=t, ratio=ratio)
        loss.backward()
        grad, grad_c = net.flat_grad(), np.array(rec["grad"])
        rel_loss = abs(loss.item() - rec["loss"]) / abs(rec["loss"])
        rel_grad = np.max(np.abs(grad - grad_c)) / np.max(np.abs(grad_c))
        assert rel_loss < 1e-5, (rec["step"], loss.item(), rec["loss"])
        assert rel_grad < 1e-5, (rec["step"], rel_grad)


@pytest.mark.parametrize("precond,view,emb", [("none", "eps", "log_sigma"), ("edm", "eps", "time"),
                                              ("input", "score", "log_sigma"), ("none", "denoised", "time")])
def test_state_dict_round_trips_with_pathint_safetensors(tmp_path, precond, view, emb):
    sde = pi.SDE("vp")
    torch.manual_seed(5)
    net = MLP(2, 24, 2, 6, emb, view, precond, 0.8)
    path = str(tmp_path / "m.safetensors")
    net.save_safetensors(path)
    model = pi.Model.load_safetensors(sde, path)
    assert model.output_view == pi.View(pi.core._enum(pi.View, view))
    assert model.preconditioning[0] == pi.Precond(pi.core._enum(pi.Precond, precond))
    x = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    t = np.random.default_rng(1).uniform(0.05, 1.0, size=50)
    a = np.array([sde.marginal(ti) for ti in t])
    with torch.no_grad():
        ref = net.double()(torch.from_numpy(x.astype(np.float64)), torch.from_numpy(t),
                           torch.from_numpy(a[:, 0]), torch.from_numpy(a[:, 1])).numpy()
    got = model.eval(net.native_view, x, t)
    assert np.max(np.abs(got - ref)) <= 1e-5 * max(1.0, np.max(np.abs(ref)))
    # pathint → torch: the weights and options come back.
    back = MLP.from_model(model)
    assert np.array_equal(back.flat().astype(np.float32), model.params)
    assert back.metadata() == net.metadata()
    again = MLP.from_safetensors(path)
    assert again.metadata() == net.metadata()
    for key, value in net.state_dict().items():
        assert torch.equal(again.state_dict()[key].double(), value.double())
    path2 = str(tmp_path / "m2.safetensors")
    model.save_safetensors(path2)
    assert np.array_equal(MLP.from_safetensors(path2).flat(), again.flat())
