"""Batch normalization over the channel axis of ``(N, C)`` or ``(N, C, H, W)`` inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..module import Module, read_only
from ..parameter import Parameter
from ..reductions import column_sums

BNCache = tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]


def channels_last(x: np.ndarray) -> np.ndarray:
    """``(N, C)`` or ``(N, C, H, W)`` -> ``(M, C)`` rows of channels; free for NHWC memory."""
    if x.ndim == 2:
        return x
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(-1, x.shape[1])


def channels_first(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`channels_last`: ``(M, C)`` -> ``shape`` (an NCHW view of NHWC memory)."""
    if len(shape) == 2:
        return rows
    n, c, h, w = shape
    return rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)


def batchnorm_train_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, BNCache]:
    """Normalize each channel with the batch statistics over ``N`` (and ``H, W``).

    Returns ``(out, mean, var, cache)``: ``out`` has the input's shape, ``mean`` and ``var`` (biased)
    are ``(C,)``.
    """
    rows = channels_last(x)
    m = rows.shape[0]
    mean = column_sums(rows) / m
    x_hat = rows - mean
    var = column_sums(x_hat * x_hat) / m
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    x_hat *= inv_std  # in place: activations are large, fresh allocations cost page faults
    out = x_hat * gamma
    out += beta
    return channels_first(out, x.shape), mean, var, (x_hat, inv_std, gamma, x.shape)


def batchnorm_backward(dout: np.ndarray, cache: BNCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dx, dgamma, dbeta)`` of :func:`batchnorm_train_forward` (the compact form)."""
    x_hat, inv_std, gamma, shape = cache
    d = channels_last(dout)
    m = d.shape[0]
    dbeta = column_sums(d)
    dgamma = column_sums(d * x_hat)
    dx = x_hat * -dgamma
    dx += m * d
    dx -= dbeta
    dx *= gamma * inv_std / m
    return channels_first(dx.astype(dout.dtype, copy=False), shape), dgamma, dbeta


def batchnorm_affine(
    gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray, var: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode batch norm as one per-channel affine map ``y = scale * x + shift``, both ``(C,)``."""
    scale = gamma / np.sqrt(var + eps)
    return scale, beta - mean * scale


@dataclass(frozen=True)
class AffineOp:
    """Eval-mode batch norm: per-channel ``scale * x + shift`` over axis 1 of ``(N, C)`` or
    ``(N, C, H, W)``; usually folded into the convolution or linear op beside it (``model.inference``)."""

    scale: np.ndarray  # (C,)
    shift: np.ndarray  # (C,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", read_only(self.scale))
        object.__setattr__(self, "shift", read_only(self.shift))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        out: np.ndarray = x * self.scale.reshape(shape) + self.shift.reshape(shape)
        return out


class BatchNormalization(Module):
    """``BatchNormalization(num_features, eps=1e-5, momentum=0.1)``, PyTorch's BatchNorm1d/2d in one.

    Training mode normalizes with batch statistics and updates the running estimates
    (``running = (1 - momentum) * running + momentum * batch``, unbiased variance); eval mode uses them.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self._params["weight"] = Parameter(np.ones(num_features, np.float32), "weight")
        self._params["bias"] = Parameter(np.zeros(num_features, np.float32), "bias")
        self._buffers["running_mean"] = np.zeros(num_features, np.float32)
        self._buffers["running_var"] = np.ones(num_features, np.float32)
        self.cache: BNCache | None = None

    def _check(self, x: np.ndarray) -> None:
        if x.ndim not in (2, 4) or x.shape[1] != self.num_features:
            raise ValueError(
                f"{self!r} expects input of shape (N, {self.num_features}) or "
                f"(N, {self.num_features}, H, W), got {tuple(x.shape)}"
            )

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check(x)
        gamma, beta = self._params["weight"].data, self._params["bias"].data
        if not self.training:
            scale, shift = batchnorm_affine(
                gamma, beta, self._buffers["running_mean"], self._buffers["running_var"], self.eps
            )
            return channels_first(channels_last(x) * scale + shift, x.shape)
        out, mean, var, self.cache = batchnorm_train_forward(x, gamma, beta, self.eps)
        m = x.size // x.shape[1]
        unbiased = var * (m / max(m - 1, 1))
        mom = self.momentum
        rm, rv = self._buffers["running_mean"], self._buffers["running_var"]
        self._buffers["running_mean"] = ((1 - mom) * rm + mom * mean).astype(rm.dtype)
        self._buffers["running_var"] = ((1 - mom) * rv + mom * unbiased).astype(rv.dtype)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.cache is None:
            raise RuntimeError(f"{self!r}: backward() called without a training-mode forward()")
        dx, dgamma, dbeta = batchnorm_backward(dout, self.cache)
        self._params["weight"].grad += dgamma
        self._params["bias"].grad += dbeta
        self.cache = None
        return dx

    def inference_op(self) -> AffineOp:
        rm, rv = self._buffers["running_mean"], self._buffers["running_var"]
        return AffineOp(*batchnorm_affine(self._params["weight"].data, self._params["bias"].data, rm, rv, self.eps))

    def spec(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum}
