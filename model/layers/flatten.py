"""Flatten ``(N, ...) -> (N, prod(...))``; the backward pass restores the shape."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..module import Module


@dataclass(frozen=True)
class FlattenOp:
    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(N, ...) -> (N, prod(...))``."""
        return x.reshape(x.shape[0], -1)


class Flatten(Module):
    def __init__(self) -> None:
        super().__init__()
        self.in_shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 2:
            raise ValueError(f"Flatten expects input of shape (N, ...), got {tuple(x.shape)}")
        self.in_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.in_shape is not None, "Flatten: backward() before forward()"
        return dout.reshape(self.in_shape)

    def inference_op(self) -> FlattenOp:
        return FlattenOp()
