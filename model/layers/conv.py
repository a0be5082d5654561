"""2-D convolution through im2col: the forward/backward maths and the ``Conv2d`` layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..im2col import col2im, im2col, weight_matrix
from ..module import Module, check_input, read_only
from ..parameter import Parameter
from ..random import get_rng
from ..reductions import column_sums
from ..shapes import conv_output_size

ConvCache = tuple[tuple[int, int, int, int], np.ndarray, np.ndarray, int, int]


def conv2d_forward(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: int, padding: int
) -> tuple[np.ndarray, ConvCache]:
    """Cross-correlation as in ``torch.nn.functional.conv2d``.

    x: ``(N, C, H, W)``; weight: ``(F, C, KH, KW)``; bias: ``(F,)`` or None.
    Returns ``(N, F, OH, OW)`` (an NCHW view of the NHWC matmul result, not copied) and the cache for
    the backward pass.
    """
    _, _, kh, kw = weight.shape
    cols = im2col(x, kh, kw, stride, padding)
    out = columns_times_kernel(cols, weight_matrix(weight).T, bias, x.shape, kh, kw, stride, padding)
    return out, (x.shape, cols, weight, stride, padding)


def columns_times_kernel(
    cols: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    x_shape: tuple[int, ...],
    kh: int,
    kw: int,
    stride: int,
    padding: int,
) -> np.ndarray:
    """The convolution's matrix product: ``(N*OH*OW, KH*KW*C)`` columns of an ``x_shape`` input times
    the ``(KH*KW*C, F)`` kernel matrix (``weight_matrix(weight).T``), plus ``bias`` -> ``(N, F, OH, OW)``."""
    n, _, h, w = x_shape
    oh = conv_output_size(h, kh, stride, padding)
    ow = conv_output_size(w, kw, stride, padding)
    out: np.ndarray = cols @ kernel
    if bias is not None:
        out += bias
    return out.reshape(n, oh, ow, kernel.shape[1]).transpose(0, 3, 1, 2)


def conv2d_backward(
    dout: np.ndarray, cache: ConvCache, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Gradients ``(dx, dweight, dbias)`` of :func:`conv2d_forward`; ``dx`` is None if not needed."""
    x_shape, cols, weight, stride, padding = cache
    f, _, kh, kw = weight.shape
    dout_mat = dout.transpose(0, 2, 3, 1).reshape(-1, f)
    dweight = (dout_mat.T @ cols).reshape(f, kh, kw, -1).transpose(0, 3, 1, 2)
    dbias = column_sums(dout_mat)
    if not need_dx:
        return None, dweight, dbias
    dcols = dout_mat @ weight_matrix(weight)
    dx = col2im(dcols, x_shape, kh, kw, stride, padding)
    return dx, dweight, dbias


@dataclass(frozen=True)
class ConvOp:
    """Conv2d at inference; its arrays are stored as :func:`read_only` float32 copies."""

    weight: np.ndarray  # (F, C, KH, KW)
    bias: np.ndarray  # (F,)
    stride: int
    padding: int

    kernel: np.ndarray = field(init=False, repr=False)  # (KH*KW*C, F): weight_matrix(weight).T, made once

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", read_only(self.weight))
        object.__setattr__(self, "bias", read_only(self.bias))
        object.__setattr__(self, "kernel", read_only(weight_matrix(self.weight).T))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(N, C, H, W) -> (N, F, OH, OW)``: :func:`conv2d_forward` with the kernel matrix made once."""
        _, _, kh, kw = self.weight.shape
        cols = im2col(x, kh, kw, self.stride, self.padding)
        return columns_times_kernel(cols, self.kernel, self.bias, x.shape, kh, kw, self.stride, self.padding)


class Conv2d(Module):
    """``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True)``.

    Input ``(N, in_channels, H, W)``, output ``(N, out_channels, OH, OW)``. Square kernels; weights
    initialised He-normal (fan-in), suited to the ReLU that usually follows.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        rng = rng or get_rng()
        fan_in = in_channels * kernel_size * kernel_size
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), (out_channels, in_channels, kernel_size, kernel_size))
        self._params["weight"] = Parameter(w.astype(np.float32), "weight")
        if bias:
            self._params["bias"] = Parameter(np.zeros(out_channels, np.float32), "bias")
        self.cache: ConvCache | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, f"(N, {self.in_channels}, H, W)", 4, axis1=self.in_channels)
        bias = self._params.get("bias")
        out, cache = conv2d_forward(
            x, self._params["weight"].data, bias.data if bias else None, self.stride, self.padding
        )
        self.cache = cache if self.training else None
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.cache is None:
            raise RuntimeError(f"{self!r}: backward() called without a training-mode forward()")
        dx, dw, db = conv2d_backward(dout, self.cache, self.needs_input_grad)
        self._params["weight"].grad += dw
        if "bias" in self._params:
            self._params["bias"].grad += db
        self.cache = None
        return dx  # type: ignore[return-value]

    def inference_op(self) -> ConvOp:
        bias = self._params.get("bias")
        zeros = np.zeros(self.out_channels, np.float32)
        return ConvOp(self._params["weight"].data, bias.data if bias else zeros, self.stride, self.padding)

    def spec(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "bias": "bias" in self._params,
        }
