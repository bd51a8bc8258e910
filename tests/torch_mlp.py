#!/usr/bin/python3
"""pathint's MLP in PyTorch against the C library, for test_nn_gradients, test_safetensors and
test_guidance.

The network is the Python package's own torch module, ``pathint.torch.MLP``
(bindings/python/pathint/torch/_train.py, imported by path: no installed package needed), so the
C tests check the C MLP and the package's torch twin against each other:
  x~ = x/alpha; z = x~ (or c_in x~ with preconditioning mode 1 (EDM) or 2 (input only))
  u  = ln(sigma~)/4 (embedding "log_sigma") or t ("time")
  emb = [sin(w_k u)]_k ++ [cos(w_k u)]_k, w_k = 64^(k/(h-1)), h = features/2
  F  = net([z, emb, cond]) with net = nn.Sequential(Linear, SiLU, ..., Linear)
  native output: F, or D = c_skip x~ + c_out F with EDM preconditioning (mode 1).
The condition inputs of a conditional network (issue 15: onehot(label, classes + 1) with the null
class last (label -1), then [c, 1] for a condition vector c, or [0, 0] on a null row) are the
package module's too (MLP(classes=, cond_dim=)); PathintMLP only feeds it the case's labels.
Tensor names are those of the module's state_dict (net.0.weight, net.0.bias, net.2.weight, ...),
the names pathint's .safetensors files use; files are read and written with the package's
safetensors functions (Python, independent of the C reader and writer).

Usage (all numbers as whitespace-separated text; see read_case):
  torch_mlp.py grad CASE OUT          out values then dL/dtheta for L = sum(dout * out), float64
  torch_mlp.py export CASE FILE OUT   build the case's shape with torch's own init (seed 1234),
                                      write FILE (.safetensors), print outputs to OUT
  torch_mlp.py import FILE CASE OUT   read a .safetensors FILE, outputs to OUT
Exit status 77 if torch (or numpy) is missing (the C tests skip then).
"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"))
try:
    import torch
    from pathint.core import Precond
    from pathint.torch import MLP, load_safetensors, save_safetensors
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


class PathintMLP(MLP):
    """The package's (conditional) MLP built from a case; the case's labels and condition
    vectors are passed to every forward call (rows without labels are null, as the C side's
    test cases use them)."""

    def __init__(self, case):
        super().__init__(case["dim"], case["width"], case["layers"], case["features"],
                         EMBEDDINGS[case["embedding"]], VIEWS[case["output_view"]],
                         Precond(case["precond"] + 1), case["sigma_data"],
                         classes=case["classes"], cond_dim=case["cond_dim"])
        self.case = case

    def forward(self, x, t, alpha, sigma):
        if not self.conditional:
            return super().forward(x, t, alpha, sigma)
        c, n = self.case, x.shape[0]
        labels = torch.tensor([int(v) for v in c["labels"]] if c["labels"] else [-1] * n)
        cond = (torch.tensor(c["cond"], dtype=x.dtype).reshape(n, c["cond_dim"])
                if c["cond_dim"] and c["cond"] else None)
        return super().forward(x, t, alpha, sigma, labels=labels, cond=cond)


def tensors_of(case, key, dtype):
    n, d = case["n"], case["dim"]
    if key in ("x", "dout"):
        return torch.tensor(case[key], dtype=dtype).reshape(n, d)
    return torch.tensor(case[key], dtype=dtype)


def write_numbers(path, values):
    with open(path, "w") as f:
        f.write(" ".join(repr(float(v)) for v in values))
        f.write("\n")


def outputs(model, case):
    args = [tensors_of(case, k, torch.float64) for k in ("x", "t", "alpha", "sigma")]
    return model.double()(*args)


def cmd_grad(case_path, out_path):
    case = read_case(case_path)
    model = PathintMLP(case).double()
    model.set_flat(case["params"])
    out = outputs(model, case)
    loss = (out * tensors_of(case, "dout", torch.float64)).sum()
    loss.backward()
    write_numbers(out_path, out.detach().reshape(-1).tolist() + model.flat_grad().tolist())


def cmd_export(case_path, file_path, out_path):
    case = read_case(case_path)
    torch.manual_seed(1234)
    model = PathintMLP(case)  # torch's own default initialisation
    save_safetensors(file_path, model.state_dict(), model.metadata())
    with torch.no_grad():
        out = outputs(model, case)
    write_numbers(out_path, out.reshape(-1).tolist())


def cmd_import(file_path, case_path, out_path):
    tensors, meta = load_safetensors(file_path)
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
    with torch.no_grad():
        out = outputs(model, case)
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
