"""pathint.torch: train pathint models with PyTorch (and DistributedDataParallel), sample and
score them with pathint. Needs torch (Debian: python3-torch). See docs/python.md, "Training at
scale"."""

from ._train import MLP, DSMLoss, load_safetensors, save_safetensors, sde_terms

__all__ = ["MLP", "DSMLoss", "sde_terms", "save_safetensors", "load_safetensors"]
