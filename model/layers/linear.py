"""Fully connected layer ``y = x @ W.T + b`` with PyTorch's weight layout ``(out, in)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..module import Module, check_input, read_only
from ..parameter import Parameter
from ..random import get_rng
from ..reductions import column_sums


def linear_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """x ``(N, in)``, weight ``(out, in)``, bias ``(out,)`` -> ``(N, out)``."""
    out: np.ndarray = x @ weight.T
    if bias is not None:
        out += bias
    return out


def linear_backward(
    dout: np.ndarray, x: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dx, dweight, dbias)`` of :func:`linear_forward`."""
    return dout @ weight, dout.T @ x, column_sums(dout)


@dataclass(frozen=True)
class LinearOp:
    """Linear at inference; its arrays are stored as :func:`read_only` float32 copies."""

    weight: np.ndarray  # (out, in)
    bias: np.ndarray  # (out,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", read_only(self.weight))
        object.__setattr__(self, "bias", read_only(self.bias))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(N, in) -> (N, out)``."""
        return linear_forward(x, self.weight, self.bias)


class Linear(Module):
    """``Linear(in_features, out_features, bias=True)``: ``(N, in_features) -> (N, out_features)``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        rng = rng or get_rng()
        w = rng.normal(0.0, np.sqrt(2.0 / in_features), (out_features, in_features))
        self._params["weight"] = Parameter(w.astype(np.float32), "weight")
        if bias:
            self._params["bias"] = Parameter(np.zeros(out_features, np.float32), "bias")
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, f"(N, {self.in_features})", 2, axis1=self.in_features)
        self.x = x if self.training else None
        bias = self._params.get("bias")
        return linear_forward(x, self._params["weight"].data, bias.data if bias else None)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.x is None:
            raise RuntimeError(f"{self!r}: backward() called without a training-mode forward()")
        dx, dw, db = linear_backward(dout, self.x, self._params["weight"].data)
        self._params["weight"].grad += dw
        if "bias" in self._params:
            self._params["bias"].grad += db
        self.x = None
        return dx

    def inference_op(self) -> LinearOp:
        bias = self._params.get("bias")
        zeros = np.zeros(self.out_features, np.float32)
        return LinearOp(self._params["weight"].data, bias.data if bias else zeros)

    def spec(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": "bias" in self._params,
        }
