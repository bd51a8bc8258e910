#!/usr/bin/python3
"""PyTorch twin of pathint's MLP score model, for test_nn_gradients and test_safetensors.

The model is the definition in lib/model/mlp.c, written again here with torch:
  x~ = x/alpha; z = x~ (or c_in x~ with preconditioning mode 1 (EDM) or 2 (input only))
  u  = ln(sigma~)/4 (embedding "log_sigma") or t ("time")
  emb = [sin(w_k u)]_k ++ [cos(w_k u)]_k, w_k = 64^(k/(h-1)), h = features/2
  F  = net([z, emb, cond]) with net = nn.Sequential(Linear, SiLU, ..., Linear)
  cond (issue 15, conditional networks only): onehot(label, classes + 1) with the null
       class last (label -1), then [c, 1] for a condition vector c, or [0, 0] on a null row
  native output: F, or D = c_skip x~ + c_out F with EDM preconditioning (mode 1).
Tensor names are those of the state_dict of a module holding `self.net` (net.0.weight,
net.0.bias, net.2.weight, ...), the names pathint's .safetensors files use.

Usage (all numbers as whitespace-separated text; see read_case):
  torch_mlp.py grad CASE OUT          out values then dL/dtheta for L = sum(dout * out), float64
  torch_mlp.py export CASE FILE OUT   build the case's shape with torch's own init (seed 1234),
                                      write FILE (.safetensors, own writer), print outputs to OUT
  torch_mlp.py import FILE CASE OUT   read a .safetensors FILE (own reader), outputs to OUT
Exit status 77 if torch is missing (the C tests skip then).
"""
import json
import math
import struct
import sys

try:
    import torch
except ImportError:  # pragma: no cover
    sys.exit(77)

VIEWS = {0: "score", 1: "eps", 2: "denoised"}
EMBEDDINGS = {0: "log_sigma", 1: "time"}


def read_case(path):
    """Line 1: dim width layers features embedding output_view precond sigma_data n
    [classes cond_dim]. Then lines: params (may be empty), x (n*dim), t (n), alpha (n),
    sigma (n), dout (n*dim) [, labels (n), cond (n*cond_dim)] (conditional networks)."""
    with open(path) as f:
        lines = f.read().split("\n")
    head = lines[0].split()
    case = {
        "dim": int(head[0]), "width": int(head[1]), "layers": int(head[2]),
        "features": int(head[3]), "embedding": int(head[4]), "output_view": int(head[5]),
        "precond": int(head[6]), "sigma_data": float(head[7]), "n": int(head[8]),
        "classes": int(head[9]) if len(head) > 9 else 0,
        "cond_dim": int(head[10]) if len(head) > 10 else 0,
    }
    names = ["params", "x", "t", "alpha", "sigma", "dout", "labels", "cond"]
    for i, name in enumerate(names):
        case[name] = [float(v) for v in lines[1 + i].split()] if 1 + i < len(lines) else []
    return case


class PathintMLP(torch.nn.Module):
    def __init__(self, case):
        super().__init__()
        self.case = case
        mods = []
        k, c = case["classes"], case["cond_dim"]
        width_in = case["dim"] + case["features"] + (k + 1 if k else 0) + (c + 1 if c else 0)
        for _ in range(case["layers"]):
            mods += [torch.nn.Linear(width_in, case["width"]), torch.nn.SiLU()]
            width_in = case["width"]
        mods.append(torch.nn.Linear(width_in, case["dim"]))
        self.net = torch.nn.Sequential(*mods)

    def linears(self):
        return [m for m in self.net if isinstance(m, torch.nn.Linear)]

    def set_flat(self, flat):
        """pathint's flat vector: per layer W (out x in, row-major) then b."""
        off = 0
        with torch.no_grad():
            for lin in self.linears():
                nw = lin.weight.numel()
                lin.weight.copy_(torch.tensor(flat[off:off + nw]).reshape(lin.weight.shape))
                off += nw
                nb = lin.bias.numel()
                lin.bias.copy_(torch.tensor(flat[off:off + nb]))
                off += nb
        assert off == len(flat), (off, len(flat))

    def flat_grad(self):
        parts = []
        for lin in self.linears():
            parts += [lin.weight.grad.reshape(-1), lin.bias.grad.reshape(-1)]
        return torch.cat(parts)

    def forward(self, x, t, alpha, sigma):
        c = self.case
        st = sigma / alpha
        xt = x / alpha[:, None]
        sd = c["sigma_data"]
        if c["precond"]:
            q = st * st + sd * sd
            z = xt / torch.sqrt(q)[:, None]
        else:
            z = xt
        u = t if c["embedding"] == 1 else torch.log(st) / 4.0
        h = c["features"] // 2
        k = torch.arange(h, dtype=x.dtype)
        w = torch.pow(torch.tensor(64.0, dtype=x.dtype), k / (h - 1)) if h > 1 else torch.ones(1, dtype=x.dtype)
        arg = u[:, None] * w[None, :]
        parts = [z, torch.sin(arg), torch.cos(arg)]
        n = x.shape[0]
        labels = torch.tensor([int(v) for v in c["labels"]] if c["labels"] else [-1] * n)
        present = (labels >= 0).to(x.dtype)
        if c["classes"]:
            idx = torch.where(labels >= 0, labels, torch.full_like(labels, c["classes"]))
            parts.append(torch.nn.functional.one_hot(idx, c["classes"] + 1).to(x.dtype))
        if c["cond_dim"]:
            vec = (torch.tensor(c["cond"], dtype=x.dtype).reshape(n, c["cond_dim"]) if c["cond"]
                   else torch.zeros(n, c["cond_dim"], dtype=x.dtype))
            parts += [vec * present[:, None], present[:, None]]
        inp = torch.cat(parts, dim=1)
        f = self.net(inp)
        if c["precond"] == 1:
            q = st * st + sd * sd
            return (sd * sd / q)[:, None] * xt + (st * sd / torch.sqrt(q))[:, None] * f
        return f


def tensors_of(case, key, dtype):
    n, d = case["n"], case["dim"]
    if key in ("x", "dout"):
        return torch.tensor(case[key], dtype=dtype).reshape(n, d)
    return torch.tensor(case[key], dtype=dtype)


def write_numbers(path, values):
    with open(path, "w") as f:
        f.write(" ".join(repr(float(v)) for v in values))
        f.write("\n")


def cmd_grad(case_path, out_path):
    case = read_case(case_path)
    model = PathintMLP(case).double()
    model.set_flat(case["params"])
    args = [tensors_of(case, k, torch.float64) for k in ("x", "t", "alpha", "sigma")]
    out = model(*args)
    loss = (out * tensors_of(case, "dout", torch.float64)).sum()
    loss.backward()
    write_numbers(out_path, out.detach().reshape(-1).tolist() + model.flat_grad().tolist())


def metadata_of(case):
    return {
        "format": "pathint-mlp", "dim": str(case["dim"]), "hidden_width": str(case["width"]),
        "hidden_layers": str(case["layers"]), "features": str(case["features"]),
        "embedding": EMBEDDINGS[case["embedding"]], "output_view": VIEWS[case["output_view"]],
        "preconditioning": str(case["precond"]), "sigma_data": repr(case["sigma_data"]),
        **({"classes": str(case["classes"]), "cond_dim": str(case["cond_dim"])}
           if case["classes"] or case["cond_dim"] else {}),
    }


def write_safetensors(path, tensors, metadata):
    """The format by hand: u64 LE header length, JSON header padded with spaces to 8 bytes,
    raw little-endian tensor data in header order."""
    header = {"__metadata__": metadata}
    blobs, off = [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode())
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        assert info["dtype"] == "F32", info
        arr = np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"])
        tensors[name] = torch.tensor(arr.copy())
    return tensors, meta


def cmd_export(case_path, file_path, out_path):
    case = read_case(case_path)
    torch.manual_seed(1234)
    model = PathintMLP(case)  # torch's own default initialisation
    write_safetensors(file_path, model.state_dict(), metadata_of(case))
    model = model.double()
    args = [tensors_of(case, k, torch.float64) for k in ("x", "t", "alpha", "sigma")]
    with torch.no_grad():
        out = model(*args)
    write_numbers(out_path, out.reshape(-1).tolist())


def cmd_import(file_path, case_path, out_path):
    tensors, meta = read_safetensors(file_path)
    case = read_case(case_path)
    # The file's metadata must describe the case the C test built.
    assert meta.get("format") == "pathint-mlp", meta
    assert int(meta["dim"]) == case["dim"] and int(meta["hidden_width"]) == case["width"], meta
    assert int(meta["hidden_layers"]) == case["layers"], meta
    assert int(meta["features"]) == case["features"], meta
    assert meta["embedding"] == EMBEDDINGS[case["embedding"]], meta
    assert meta["output_view"] == VIEWS[case["output_view"]], meta
    assert int(meta["preconditioning"]) == case["precond"], meta
    assert math.isclose(float(meta["sigma_data"]), case["sigma_data"]), meta
    assert int(meta.get("classes", 0)) == case["classes"], meta
    assert int(meta.get("cond_dim", 0)) == case["cond_dim"], meta
    model = PathintMLP(case)
    model.load_state_dict(tensors, strict=True)
    model = model.double()
    args = [tensors_of(case, k, torch.float64) for k in ("x", "t", "alpha", "sigma")]
    with torch.no_grad():
        out = model(*args)
    write_numbers(out_path, out.reshape(-1).tolist())


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "grad":
        cmd_grad(sys.argv[2], sys.argv[3])
    elif cmd == "export":
        cmd_export(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "import":
        cmd_import(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit("unknown command " + cmd)
