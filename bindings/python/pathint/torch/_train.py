"""Training pathint models with PyTorch: the C trainer's loss and pathint's MLP as torch modules.

``MLP`` is pathint's MLP score network (docs/safetensors.md, MATH.md §2) as an ``nn.Module``:
its ``state_dict`` uses the tensor names of pathint's .safetensors files, so a module trained
here (on many GPUs with ``DistributedDataParallel``) is saved with :meth:`MLP.save_safetensors`
and loaded by ``pathint.Model.load_safetensors`` (or the C ``pi_model_load_safetensors``) for
sampling and likelihood, and a pathint model's weights load into it. ``MLP(..., classes=k,
cond_dim=c)`` is pathint's conditional MLP (``pi_model_create_mlp_cond``): the first layer
also reads a one-hot label with the null class last and a condition vector with a present flag.

``DSMLoss`` is the denoising score matching loss of ``pi_trainer_step`` (MATH.md §5,
lib/model/dsm.c): every weighting (likelihood g², σ², EDM), every time sampling (uniform,
importance ∝ g²/σ², log-normal σ̃) with its density ratio, in the model's native view (ε, score,
denoiser; D with EDM preconditioning). The time-dependent scalars (α, σ, g², σ̃ and the σ̃ → t
inverse) come from pathint's own SDE in double precision, so every SDE pathint has (presets,
custom) trains the same way in both; only the network runs in torch.

    sde = pathint.SDE.preset("simple")
    net = MLP(dim=2, width=128, layers=3)
    loss_fn = DSMLoss(sde, weighting="likelihood", time_sampling="importance")
    loss = loss_fn(net, x0_batch)          # draws t and z with torch's generator
    # conditional: MLP(..., classes=10); DSMLoss(sde, cond_dropout=0.1)(net, x0, labels=y)
    loss.backward(); optimiser.step()
    net.save_safetensors("model.safetensors")
    model = pathint.Model.load_safetensors(sde, "model.safetensors")
"""

import ctypes
import json
import math
import struct

import numpy as np
import torch

from ..core import SDE, Embedding, Model, Precond, TimeSampling, View, Weighting, _enum

__all__ = ["MLP", "DSMLoss", "sde_terms", "save_safetensors", "load_safetensors"]

_VIEW_NAMES = {View.SCORE: "score", View.EPS: "eps", View.DENOISED: "denoised"}
_EMBEDDING_NAMES = {Embedding.LOG_SIGMA: "log_sigma", Embedding.TIME: "time"}


def sde_terms(sde, t):
    """Per-row SDE scalars at times t (float64 numpy arrays): alpha, sigma, g2 = g², and
    sigma_tilde = σ/α, from pathint's SDE (pi_sde_marginal, pi_sde_coefficients)."""
    t = np.asarray(t, np.float64).reshape(-1)
    alpha, sigma, g = np.empty_like(t), np.empty_like(t), np.empty_like(t)
    lib = sde._lib
    marginal, coefficients = lib.raw["pi_sde_marginal"], lib.raw["pi_sde_coefficients"]
    a, s, f, gg = ctypes.c_double(), ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    pa, ps, pf, pg = ctypes.byref(a), ctypes.byref(s), ctypes.byref(f), ctypes.byref(gg)
    if getattr(sde, "_callbacks", None):  # a custom SDE: Python callbacks, errors through the wrapper
        for i, ti in enumerate(t):
            alpha[i], sigma[i] = sde.marginal(ti)
            g[i] = sde.coefficients(ti)[1]
    else:
        for i, ti in enumerate(t):  # the raw calls: a training step needs thousands
            marginal(sde, float(ti), pa, ps)
            coefficients(sde, float(ti), pf, pg)
            alpha[i], sigma[i], g[i] = a.value, s.value, gg.value
    return {"alpha": alpha, "sigma": sigma, "g2": g * g, "sigma_tilde": sigma / alpha}


class MLP(torch.nn.Module):
    """pathint's MLP: input z = x/α (or c_in x/α), sinusoidal embedding of ln(σ̃)/4 (or t),
    ``layers`` hidden Linear+SiLU layers of ``width``, output F in ``output_view`` or, with EDM
    preconditioning, D = c_skip x/α + c_out F. The same options as ``pathint.Model.mlp``.

    ``classes`` k > 0 and/or ``cond_dim`` c > 0 make it conditional, as pathint's conditional MLP
    (``Model.mlp(classes=, cond_dim=)``): after [z, sin, cos] the first layer reads one-hot(label)
    over k + 1 columns (the null class last), then the condition vector and a present flag (c + 1
    columns; zeros on null rows). One-hot into a linear layer is a learned class-embedding table
    (column ``label`` of the first weight), so the weights are exactly pathint's."""

    def __init__(self, dim, width=128, layers=3, features=16, embedding="log_sigma", output_view="eps",
                 preconditioning="none", sigma_data=0.5, classes=0, cond_dim=0):
        super().__init__()
        if features < 2 or features % 2:
            raise ValueError(f"features must be even and >= 2, got {features}")
        if not (0 <= int(classes) <= 65536 and 0 <= int(cond_dim) <= 65536):
            raise ValueError(f"classes and cond_dim must be in [0, 65536], got {classes} and {cond_dim}")
        self.dim, self.width, self.layers, self.features = int(dim), int(width), int(layers), int(features)
        self.classes, self.cond_dim = int(classes), int(cond_dim)
        self.cond_in = (self.classes + 1 if self.classes else 0) + (self.cond_dim + 1 if self.cond_dim else 0)
        self.embedding = Embedding(_enum(Embedding, embedding))
        self.output_view = View(_enum(View, output_view))
        if self.output_view not in _VIEW_NAMES:
            raise ValueError("an MLP predicts score, eps or denoised")
        self.preconditioning = Precond(_enum(Precond, preconditioning))
        self.sigma_data = float(sigma_data)
        mods, width_in = [], self.dim + self.features + self.cond_in
        for _ in range(self.layers):
            mods += [torch.nn.Linear(width_in, self.width), torch.nn.SiLU()]
            width_in = self.width
        mods.append(torch.nn.Linear(width_in, self.dim))
        self.net = torch.nn.Sequential(*mods)
        h = self.features // 2
        omega = [64.0 ** (k / (h - 1)) for k in range(h)] if h > 1 else [1.0]
        self.register_buffer("omega", torch.tensor(omega, dtype=torch.float64), persistent=False)

    @property
    def native_view(self):
        """The view the module's output is in (the denoiser with EDM preconditioning)."""
        return View.DENOISED if self.preconditioning == Precond.EDM else self.output_view

    @property
    def conditional(self):
        return self.cond_in > 0

    def condition_columns(self, n, labels=None, cond=None, dtype=torch.float32, device=None):
        """The first layer's condition columns (n, cond_in), as pathint builds them (lib/nn).
        ``labels``: (n,) ints, a class in [0, classes) or -1 (``PI_COND_NULL``) for the null
        condition; a model without classes takes 0 (condition present) or -1 here. ``cond``:
        (n, cond_dim). Rows without labels are present when ``cond`` is given, else null (as
        ``pi_model_eval_cond``)."""
        if labels is None:
            present = torch.full((n,), cond is not None, dtype=torch.bool, device=device)
            lab = torch.zeros(n, dtype=torch.long, device=device)
        else:
            lab = torch.as_tensor(labels, device=device).long().reshape(-1)
            if lab.numel() != n:
                raise ValueError(f"labels: {lab.numel()} values for {n} rows")
            top = self.classes if self.classes else 1
            if bool(((lab < -1) | (lab >= top)).any()):
                raise ValueError(f"labels must be in [0, {top}) or -1 (the null condition)")
            present = lab >= 0
        parts = []
        if self.classes:
            index = torch.where(present, lab.clamp(min=0), torch.full_like(lab, self.classes))
            parts.append(torch.nn.functional.one_hot(index, self.classes + 1).to(dtype))
        if self.cond_dim:
            if cond is None:
                vec = torch.zeros((n, self.cond_dim), dtype=dtype, device=device)
            else:
                vec = torch.as_tensor(cond, device=device).to(dtype).reshape(n, self.cond_dim)
            flag = present.to(dtype)[:, None]
            parts += [vec * flag, flag]
        return torch.cat(parts, dim=1)

    def forward(self, x, t, alpha, sigma, labels=None, cond=None):
        """Output in :attr:`native_view` at x (n, dim) and per-row t, α(t), σ(t) (tensors (n,)).
        A conditional module takes ``labels`` and/or ``cond`` (:meth:`condition_columns`);
        without either every row is the null condition."""
        if not self.conditional and (labels is not None or cond is not None):
            raise ValueError("labels or cond given to an unconditional MLP")
        dtype = x.dtype
        alpha, sigma, t = alpha.to(dtype), sigma.to(dtype), t.to(dtype)
        st = sigma / alpha
        xt = x / alpha[:, None]
        sd = self.sigma_data
        if self.preconditioning != Precond.NONE:
            z = xt / torch.sqrt(st * st + sd * sd)[:, None]
        else:
            z = xt
        u = t if self.embedding == Embedding.TIME else torch.log(st) / 4.0
        arg = u[:, None] * self.omega.to(dtype)[None, :]
        columns = [z, torch.sin(arg), torch.cos(arg)]
        if self.conditional:
            columns.append(self.condition_columns(x.shape[0], labels, cond, dtype, x.device))
        f = self.net(torch.cat(columns, dim=1))
        if self.preconditioning == Precond.EDM:
            q = st * st + sd * sd
            return (sd * sd / q)[:, None] * xt + (st * sd / torch.sqrt(q))[:, None] * f
        return f

    def metadata(self):
        meta = {"format": "pathint-mlp", "dim": str(self.dim), "hidden_width": str(self.width),
                "hidden_layers": str(self.layers), "features": str(self.features),
                "embedding": _EMBEDDING_NAMES[self.embedding], "output_view": _VIEW_NAMES[self.output_view],
                "preconditioning": str(int(self.preconditioning) - 1), "sigma_data": repr(self.sigma_data)}
        if self.conditional:  # as pathint writes them (docs/safetensors.md)
            meta.update(classes=str(self.classes), cond_dim=str(self.cond_dim))
        return meta

    def save_safetensors(self, path):
        """Write the weights and options as a pathint .safetensors file."""
        save_safetensors(path, self.state_dict(), self.metadata())

    @classmethod
    def from_safetensors(cls, path):
        """A module with the options and weights of a pathint .safetensors file."""
        tensors, meta = load_safetensors(path)
        linears = sorted({int(k.split(".")[1]) for k in tensors if k.startswith("net.")})
        dim = tensors[f"net.{linears[-1]}.weight"].shape[0]
        width = tensors["net.0.weight"].shape[0]
        classes, cond_dim = int(meta.get("classes", "0")), int(meta.get("cond_dim", "0"))
        cond_in = (classes + 1 if classes else 0) + (cond_dim + 1 if cond_dim else 0)
        features = tensors["net.0.weight"].shape[1] - dim - cond_in
        module = cls(dim, width, len(linears) - 1, features, meta.get("embedding", "log_sigma"),
                     meta.get("output_view", "eps"), Precond(int(meta.get("preconditioning", "0")) + 1),
                     float(meta.get("sigma_data", "0.5")), classes, cond_dim)
        module.load_state_dict(tensors, strict=True)
        return module

    @classmethod
    def from_model(cls, model):
        """A module with a pathint MLP model's options and weights (copied)."""
        width, layers = model.shape
        kind, features = model.embedding
        mode, sd = model.preconditioning
        classes, cond_dim, _ = model.conditions
        module = cls(model.dim, width, layers, features, kind, model.output_view, mode, sd, classes, cond_dim)
        module.set_flat(model.params)
        return module

    def to_model(self, sde):
        """A pathint MLP model (on ``sde``) with this module's options and weights."""
        model = Model.mlp(sde, self.dim, self.width, self.layers, output_view=self.output_view,
                          embedding=self.embedding, embedding_features=self.features,
                          preconditioning=(self.preconditioning, self.sigma_data),
                          classes=self.classes, cond_dim=self.cond_dim)
        model.params = self.flat().astype(np.float32)
        return model

    def linears(self):
        return [m for m in self.net if isinstance(m, torch.nn.Linear)]

    def flat(self):
        """pathint's flat parameter vector: per layer W (out × in, row-major) then b."""
        parts = []
        for lin in self.linears():
            parts += [lin.weight.detach().reshape(-1), lin.bias.detach().reshape(-1)]
        return torch.cat(parts).double().cpu().numpy()

    def flat_grad(self):
        """The gradient in the order of :meth:`flat` (zeros where none)."""
        parts = []
        for lin in self.linears():
            for p in (lin.weight, lin.bias):
                g = p.grad if p.grad is not None else torch.zeros_like(p)
                parts.append(g.detach().reshape(-1))
        return torch.cat(parts).double().cpu().numpy()

    def set_flat(self, values):
        values = np.asarray(values, np.float64).reshape(-1)
        off = 0
        with torch.no_grad():
            for lin in self.linears():
                for p in (lin.weight, lin.bias):
                    n = p.numel()
                    p.copy_(torch.from_numpy(values[off:off + n].copy()).reshape(p.shape))
                    off += n
        if off != values.size:
            raise ValueError(f"expected {off} parameters, got {values.size}")


class DSMLoss:
    """The loss of ``pi_trainer_step``: (1/n) Σ_i w_i ‖out_i − target_i‖², with x_t = α x0 + σ z,
    the native-view target (ε: z; score: −z/σ; denoiser: x0) and w = ratio · λ / a², λ the
    weighting, a the view's score scale (ε: −σ; score: 1; denoiser: σ²/α) and ratio the
    importance-sampling density ratio (1 for uniform and log-normal sampling).

    A conditional module (``MLP(classes=, cond_dim=)``) trains each row under its condition
    (``labels``, ``cond`` of the call) or, with probability ``cond_dropout`` (default 0.1, as
    ``pi_trainer_set_cond_dropout``; range [0, 1)), under the null condition, so that one network
    learns the conditional and the unconditional prediction that guidance combines. Without
    labels and cond every row is the null condition (as ``pi_trainer_fit`` of a conditional
    model)."""

    def __init__(self, sde, weighting="likelihood", time_sampling="uniform", lognormal=(-1.2, 1.2),
                 sigma_data=None, cond_dropout=0.1):
        if not 0.0 <= float(cond_dropout) < 1.0:
            raise ValueError(f"cond_dropout must be in [0, 1), got {cond_dropout}")
        self.cond_dropout = float(cond_dropout)
        self.sde = sde
        self.weighting = Weighting(_enum(Weighting, weighting))
        self.time_sampling = TimeSampling(_enum(TimeSampling, time_sampling))
        self.p_mean, self.p_std = (float(v) for v in lognormal)
        self.sigma_data = sigma_data  # None: the module's σ_data (pathint: the MLP's, else 0.5)
        self.t_min, self.t_max = sde.time_range
        lo, hi = sde.sigma_tilde(self.t_min)[0], sde.sigma_tilde(self.t_max)[0]
        if not (0 < lo < hi < math.inf):
            raise ValueError(f"denoising score matching needs 0 < sigma_tilde(t_min) < sigma_tilde(T), got {lo}, {hi}")
        self.log_st_min, self.log_st_max = math.log(lo), math.log(hi)

    def _time_of_log_sigma_tilde(self, log_st):
        if log_st <= self.log_st_min:
            return self.t_min
        if log_st >= self.log_st_max:
            return self.t_max
        t = self.sde.time_from_sigma_tilde(math.exp(log_st))
        return min(max(t, self.t_min), self.t_max)

    def times(self, u, normal=None):
        """(t, ratio) from uniforms u ∈ (0, 1] (uniform, importance) or standard normals
        (log-normal), as pi_dsm_sample_time: float64 arrays."""
        u = np.asarray(u, np.float64).reshape(-1)
        normal = np.zeros_like(u) if normal is None else np.asarray(normal, np.float64).reshape(-1)
        t, ratio = np.empty_like(u), np.ones_like(u)
        span = self.log_st_max - self.log_st_min
        for i in range(u.size):
            if self.time_sampling == TimeSampling.UNIFORM:
                t[i] = self.t_min + (self.t_max - self.t_min) * (1.0 - u[i])
            elif self.time_sampling == TimeSampling.IMPORTANCE:
                t[i] = self._time_of_log_sigma_tilde(self.log_st_min + span * (1.0 - u[i]))
            else:
                t[i] = self._time_of_log_sigma_tilde(self.p_mean + self.p_std * normal[i])
        if self.time_sampling == TimeSampling.IMPORTANCE:
            terms = sde_terms(self.sde, t)
            density = terms["g2"] / (terms["sigma"] * terms["sigma"]) / (2.0 * span)
            if not np.all((density > 0) & np.isfinite(density)):
                raise ValueError("importance density g^2/sigma^2 is not positive and finite")
            ratio = 1.0 / ((self.t_max - self.t_min) * density)
        return t, ratio

    def draw(self, n, generator=None):
        """(t, ratio) for n rows drawn with torch's generator."""
        u = 1.0 - torch.rand(n, generator=generator, dtype=torch.float64)  # (0, 1]
        normal = torch.randn(n, generator=generator, dtype=torch.float64)
        return self.times(u.numpy(), normal.numpy())

    def weights(self, t, ratio, module):
        """(w, alpha, sigma) per row: float64 numpy arrays."""
        terms = sde_terms(self.sde, t)
        alpha, sigma, g2, st = terms["alpha"], terms["sigma"], terms["g2"], terms["sigma_tilde"]
        if self.weighting == Weighting.LIKELIHOOD:
            lam = g2
        elif self.weighting == Weighting.SIGMA2:
            lam = sigma * sigma
        else:
            sd = self.sigma_data if self.sigma_data is not None else getattr(_unwrap(module), "sigma_data", 0.5)
            lam = sigma * sigma * (st * st + sd * sd) / (sd * sd)
        view = _native_view(module)
        a = {View.SCORE: np.ones_like(sigma), View.EPS: -sigma, View.DENOISED: sigma * sigma / alpha,
             View.V: -sigma * (alpha * alpha + sigma * sigma) / alpha}[view]
        return np.asarray(ratio, np.float64) * lam / (a * a), alpha, sigma

    def row_labels(self, n, labels=None, cond=None, dropped=None, generator=None):
        """The labels a conditional module trains on (an (n,) int64 tensor, -1 = null): each row's
        label (0 for a vector condition without labels; -1 for all rows without either), set
        to -1 where ``dropped`` (n bools) is true; ``dropped`` not given is drawn: u ∈ (0, 1]
        from ``generator``, dropped where u <= cond_dropout (the C trainer's rule)."""
        if labels is not None:
            lab = torch.as_tensor(labels).long().reshape(-1).clone()
            if lab.numel() != n:
                raise ValueError(f"labels: {lab.numel()} values for {n} rows")
        else:
            lab = torch.full((n,), 0 if cond is not None else -1, dtype=torch.long)
        if dropped is None and self.cond_dropout > 0.0:
            u = 1.0 - torch.rand(n, generator=generator, dtype=torch.float64)
            dropped = u <= self.cond_dropout
        if dropped is not None:
            dropped = torch.as_tensor(dropped, dtype=torch.bool).reshape(-1)
            lab = torch.where(dropped, torch.full_like(lab, -1), lab)
        return lab

    def __call__(self, module, x0, z=None, t=None, ratio=None, generator=None, labels=None, cond=None,
                 dropped=None):
        """The loss of module on the batch x0 (n, dim): z (standard normals, like x0) and t,
        ratio (from :meth:`times` or :meth:`draw`) are drawn with ``generator`` when not given.
        A conditional module takes the rows' ``labels`` and/or ``cond`` and drops them with
        probability ``cond_dropout`` (:meth:`row_labels`; after t and z, from the same
        generator, unless ``dropped`` is given)."""
        n = x0.shape[0]
        conditional = getattr(_unwrap(module), "conditional", False)
        if not conditional and (labels is not None or cond is not None or dropped is not None):
            raise ValueError("labels, cond or dropped given for an unconditional module")
        if t is None:
            t, ratio = self.draw(n, generator)
        elif ratio is None:
            ratio = np.ones(n)
        if z is None:
            z = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
        w, alpha, sigma = self.weights(t, ratio, module)
        dt, dev = x0.dtype, x0.device
        alpha_t = torch.as_tensor(alpha, dtype=dt, device=dev)
        sigma_t = torch.as_tensor(sigma, dtype=dt, device=dev)
        t_t = torch.as_tensor(np.asarray(t, np.float64), dtype=dt, device=dev)
        w_t = torch.as_tensor(w, dtype=dt, device=dev)
        xt = alpha_t[:, None] * x0 + sigma_t[:, None] * z
        view = _native_view(module)
        if view == View.EPS:
            target = z
        elif view == View.SCORE:
            target = -z / sigma_t[:, None]
        elif view == View.DENOISED:
            target = x0
        else:
            target = alpha_t[:, None] * z - sigma_t[:, None] * x0
        if conditional:
            lab = self.row_labels(n, labels, cond, dropped, generator).to(dev)
            vec = None if cond is None else torch.as_tensor(cond, dtype=dt).to(dev).reshape(n, -1)
            out = module(xt, t_t, alpha_t, sigma_t, labels=lab, cond=vec)
        else:
            out = module(xt, t_t, alpha_t, sigma_t)  # through the wrapper, if any (DDP's hooks)
        return (w_t * ((out - target) ** 2).sum(dim=1)).mean()


def _unwrap(module):
    """The module inside a DistributedDataParallel (or DataParallel) wrapper."""
    return getattr(module, "module", module)


def _native_view(module):
    return getattr(_unwrap(module), "native_view", View.EPS)


def save_safetensors(path, tensors, metadata):
    """A .safetensors file (F32, little-endian, header padded to 8 bytes), written to a
    temporary name and renamed."""
    import os
    header, blobs, off = {"__metadata__": dict(metadata)}, [], 0
    for name, t in tensors.items():
        raw = t.detach().cpu().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def load_safetensors(path):
    """(tensors, metadata) of a .safetensors file with F32 tensors."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode())
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {info['dtype']}, not F32")
        a, b = info["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"]).copy())
    return tensors, meta
