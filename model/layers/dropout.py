"""Inverted dropout: zero each unit with probability ``p`` and scale the rest by ``1/(1-p)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..module import Module
from ..random import get_rng


class Dropout(Module):
    """Any input shape. Identity in eval mode, so inference needs no rescaling."""

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.rng = rng
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training or self.p == 0.0:
            self.mask = None
            return x
        rng = self.rng or get_rng()
        keep = rng.random(x.shape, dtype=np.float32) >= self.p
        self.mask = keep.astype(x.dtype) * np.asarray(1.0 / (1.0 - self.p), dtype=x.dtype)
        out: np.ndarray = x * self.mask
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout if self.mask is None else dout * self.mask

    def inference_op(self) -> None:
        """Identity in eval mode: nothing to run."""
        return None

    def spec(self) -> dict[str, Any]:
        return {"p": self.p}
