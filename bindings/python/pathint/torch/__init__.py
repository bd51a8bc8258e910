"""pathint.torch: PyTorch adapters (optional: imported only where torch is installed; Debian:
python3-torch). Train pathint models with PyTorch (and DistributedDataParallel) and sample and
score them with pathint (docs/python.md, "Training at scale"); or wrap a PyTorch network as a
pathint model whose derivatives come from autograd (`model`; docs/likelihood.md)."""

from ._model import model
from ._train import MLP, DSMLoss, load_safetensors, save_safetensors, sde_terms

__all__ = ["MLP", "DSMLoss", "sde_terms", "save_safetensors", "load_safetensors", "model"]
