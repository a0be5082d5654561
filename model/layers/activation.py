"""ReLU: ``max(x, 0)``; the gradient passes where the input was positive."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..module import Module


def relu_forward(x: np.ndarray) -> np.ndarray:
    """Any shape; returns a new array."""
    out: np.ndarray = np.maximum(x, 0)
    return out


def relu_backward(dout: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``dout`` where the forward output was positive, else 0 (the subgradient at 0 is 0)."""
    return dout * (out > 0)


@dataclass(frozen=True)
class ReLUOp:
    def __call__(self, x: np.ndarray) -> np.ndarray:
        return relu_forward(x)


class ReLU(Module):
    def __init__(self) -> None:
        super().__init__()
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = relu_forward(x)
        self.out = out if self.training else None
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.out is None:
            raise RuntimeError("ReLU: backward() called without a training-mode forward()")
        dx = relu_backward(dout, self.out)
        self.out = None
        return dx

    def inference_op(self) -> ReLUOp:
        return ReLUOp()
