"""A trainable array and its gradient."""

from __future__ import annotations

import numpy as np


class Parameter:
    """``data`` and ``grad`` are NumPy arrays of one shape; ``grad`` is zero until a backward pass."""

    def __init__(self, data: np.ndarray, name: str = "") -> None:
        self.data = data
        self.grad = np.zeros_like(data)
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def zero_grad(self) -> None:
        self.grad.fill(0)

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.data.shape}, dtype={self.data.dtype})"
