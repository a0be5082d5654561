"""The eval-mode network on a tape: each layer's forward function keeps what its backward function needs.

A :class:`Step` per layer of a trained :class:`~model.sequential.Sequential`, running the layers' own
forward/backward maths (:mod:`model.layers`) with BatchNorm as its eval-mode affine map and Dropout
gone. The layers cache for their backward pass only in training mode, and on themselves; the tape keeps
it per call instead, so one tape is safe to run from many threads and reads as the network in eval mode.
Used by :mod:`model.explain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .layers.activation import ReLU, relu_backward, relu_forward
from .layers.batchnorm import BatchNormalization, batchnorm_affine
from .layers.conv import Conv2d, conv2d_backward, conv2d_forward
from .layers.dropout import Dropout
from .layers.flatten import Flatten
from .layers.linear import Linear, linear_backward, linear_forward
from .layers.loss import SoftmaxWithCrossEntropyLoss
from .layers.pooling import MaxPool2d, maxpool2d_backward, maxpool2d_forward_with_argmax
from .module import Module, read_only
from .sequential import Sequential


class Step:
    """One eval-mode layer on the explainer's tape: ``forward(x) -> (out, saved)`` and
    ``backward(dout, saved) -> dx`` (the gradient with respect to the step's input)."""

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        raise NotImplementedError

    def backward(self, dout: np.ndarray, saved: Any) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class ConvStep(Step):
    weight: np.ndarray  # (F, C, KH, KW)
    bias: np.ndarray | None  # (F,)
    stride: int
    padding: int

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        return conv2d_forward(x, self.weight, self.bias, self.stride, self.padding)

    def backward(self, dout: np.ndarray, saved: Any) -> np.ndarray:
        dx, _, _ = conv2d_backward(dout, saved)
        assert dx is not None
        return dx


@dataclass(frozen=True)
class AffineStep(Step):
    """Eval-mode BatchNorm: ``scale * x + shift`` per channel (axis 1); its gradient is ``scale * dout``."""

    scale: np.ndarray  # (C,)
    shift: np.ndarray  # (C,)

    def _shape(self, ndim: int) -> tuple[int, ...]:
        return (1, -1) + (1,) * (ndim - 2)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        shape = self._shape(x.ndim)
        out: np.ndarray = x * self.scale.reshape(shape) + self.shift.reshape(shape)
        return out, None

    def backward(self, dout: np.ndarray, saved: Any) -> np.ndarray:
        dx: np.ndarray = dout * self.scale.reshape(self._shape(dout.ndim))
        return dx


@dataclass(frozen=True)
class ReLUStep(Step):
    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        out = relu_forward(x)
        return out, out

    def backward(self, dout: np.ndarray, saved: Any) -> np.ndarray:
        return relu_backward(dout, saved)


@dataclass(frozen=True)
class PoolStep(Step):
    kernel_size: int
    stride: int

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        out, winner = maxpool2d_forward_with_argmax(x, self.kernel_size, self.stride)
        return out, (winner, x)

    def backward(self, dout: np.ndarray, saved: Any) -> np.ndarray:
        return maxpool2d_backward(dout, saved[0], saved[1], self.kernel_size, self.stride)


@dataclass(frozen=True)
class FlattenStep(Step):
    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        return x.reshape(x.shape[0], -1), x.shape

    def backward(self, dout: np.ndarray, saved: Any) -> np.ndarray:
        return dout.reshape(saved)


@dataclass(frozen=True)
class LinearStep(Step):
    weight: np.ndarray  # (out, in)
    bias: np.ndarray | None  # (out,)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        return linear_forward(x, self.weight, self.bias), x

    def backward(self, dout: np.ndarray, saved: Any) -> np.ndarray:
        return linear_backward(dout, saved, self.weight)[0]


def _copy(arrays: dict[str, np.ndarray], name: str, dtype: np.dtype[Any]) -> np.ndarray | None:
    value = arrays.get(name)
    if value is None:
        return None
    out = read_only(value) if dtype == np.float32 else np.array(value, dtype=dtype)
    return out


def step_of(layer: Module) -> Step | None:
    """The eval-mode step of ``layer`` holding copies of its arrays (in the layer's float dtype), or None
    for a layer that is the identity in eval mode (Dropout) or the loss. Unknown layers raise TypeError."""
    arrays = layer.named_arrays()
    dtype = next((a.dtype for a in arrays.values()), np.dtype(np.float32))
    if isinstance(layer, Conv2d):
        weight = _copy(arrays, "weight", dtype)
        assert weight is not None
        return ConvStep(weight, _copy(arrays, "bias", dtype), layer.stride, layer.padding)
    if isinstance(layer, BatchNormalization):
        scale, shift = batchnorm_affine(
            arrays["weight"], arrays["bias"], arrays["running_mean"], arrays["running_var"], layer.eps
        )
        return AffineStep(np.asarray(scale, dtype), np.asarray(shift, dtype))
    if isinstance(layer, Linear):
        weight = _copy(arrays, "weight", dtype)
        assert weight is not None
        return LinearStep(weight, _copy(arrays, "bias", dtype))
    simple: dict[type[Module], Step] = {ReLU: ReLUStep(), Flatten: FlattenStep()}
    if type(layer) in simple:
        return simple[type(layer)]
    if isinstance(layer, MaxPool2d):
        return PoolStep(layer.kernel_size, layer.stride)
    if isinstance(layer, (Dropout, SoftmaxWithCrossEntropyLoss)):
        return None
    raise TypeError(f"the explainer does not know how {type(layer).__name__} runs backward in eval mode")


def layer_names(net: Sequential) -> dict[int, str]:
    """Which step outputs are shown, by step index: the ReLU closing each convolution block (``conv1``,
    ``conv2``...) and each hidden linear layer (``dense``, or ``dense1``, ``dense2``... when several)."""
    steps = [layer for layer in net.layers if step_of(layer) is not None]
    names: dict[int, str] = {}
    convs = denses = 0
    last = ""
    for i, layer in enumerate(steps):
        if isinstance(layer, Conv2d):
            convs, last = convs + 1, "conv"
        elif isinstance(layer, Linear):
            denses, last = denses + 1, "dense"
        elif isinstance(layer, ReLU) and last:
            names[i] = f"conv{convs}" if last == "conv" else f"dense{denses}"
            last = ""
    if sum(name.startswith("dense") for name in names.values()) == 1:
        names = {i: "dense" if name.startswith("dense") else name for i, name in names.items()}
    return names
