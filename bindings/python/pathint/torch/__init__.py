"""PyTorch adapters (optional: imported only where torch is installed)."""
from ._model import model

__all__ = ["model"]
