"""A pathint callback model from a PyTorch module, with derivative callbacks from autograd.

``model(module, sde, view="eps")`` returns a :class:`pathint.Model` whose value callback is
``module(x, t)`` (x: (n, dim), t: (n,), both tensors of ``dtype``) and whose derivative
callbacks (``pi_model_callback_set_derivatives``) are computed by torch.autograd in double
precision: the value F(x) (so the likelihood does not see the float value callback's
rounding), J b by the double-backward trick, Jᵀa by one backward pass, ∇ₓ(aᵀJb) and
∇ₓ(aᵀD²F[b, c]) by differentiating those once and twice more. The exact WKB sweep and the
stochastic one (``Likelihood(model, c1="stochastic")``) then run on the module. Works with
torch 1.13 (no torch.func needed).
"""
import numpy as np
import torch

from ..core import Derivative, Model, View, _enum

ALL = Derivative.JVP | Derivative.VJP | Derivative.VJP_JVP | Derivative.VJP_JVP2 | Derivative.VALUE


def _grad(y, x, v, create_graph):
    (g,) = torch.autograd.grad(y, x, v, create_graph=create_graph, allow_unused=True)
    return torch.zeros_like(x) if g is None else g


def _jvp(f, x, b):
    """J b at x by double backward: g(u) = Jᵀu is linear in u, so ∂(g·b)/∂u = J b."""
    y = f(x)
    u = torch.zeros_like(y, requires_grad=True)
    g = _grad(y, x, u, True)
    if not g.requires_grad:  # F does not depend on x
        return torch.zeros_like(x)
    return _grad(g, u, b, True)


def model(module, sde, view="eps", dim=None, dtype=torch.float64, device=None):
    """A :class:`pathint.Model` from ``module(x, t)`` predicting ``view`` (score, eps,
    denoised or v). ``dim`` defaults to ``module.dim``. The module runs in ``dtype`` on
    ``device`` (default: where its parameters are); it must treat rows independently."""
    if dim is None:
        dim = getattr(module, "dim", None)
        if dim is None:
            raise ValueError("pathint.torch.model: give dim= (the module has no .dim attribute)")
    dim = int(dim)
    if device is None:
        p = next(iter(module.parameters()), None)
        device = p.device if p is not None else torch.device("cpu")

    def tens(a, grad=False):
        t = torch.tensor(np.asarray(a), dtype=dtype, device=device)
        return t.requires_grad_(True) if grad else t

    def value(x, t):
        with torch.no_grad():
            y = module(tens(x), tens(t))
        return y.detach().cpu().numpy().astype(np.float32)

    def derivative(kind, x, t, a, b, c):
        with torch.enable_grad():
            X = tens(x, grad=True)
            T = tens(t)

            def f(z):
                return module(z, T)

            if kind == Derivative.VALUE:
                with torch.no_grad():
                    out = f(X)
            elif kind == Derivative.JVP:
                out = _jvp(f, X, tens(b))
            elif kind == Derivative.VJP:
                out = _grad(f(X), X, tens(a), False)
            else:
                jb = _jvp(f, X, tens(b))
                phi = (tens(a) * jb).sum()
                if kind == Derivative.VJP_JVP:
                    out = _grad(phi, X, None, False)
                else:
                    gphi = _grad(phi, X, None, True)
                    out = _grad((gphi * tens(c)).sum(), X, None, False)
        return out.detach().cpu().numpy()

    m = Model.callback(sde, dim, value, view=_enum(View, view))
    m.set_derivatives(derivative, ALL)
    m._torch_module = module  # keep it alive with the model
    return m
