"""Max pooling by comparing the ``K*K`` strided slices of the input: no loop over windows or pixels."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..module import Module, check_input
from ..shapes import conv_output_size


def _offsets(x: np.ndarray, k: int, s: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """For each kernel offset ``(i, j)``, the ``(N, C, OH, OW)`` view of the elements it covers."""
    oh, ow = conv_output_size(x.shape[2], k, s), conv_output_size(x.shape[3], k, s)
    h_end, w_end = s * (oh - 1) + 1, s * (ow - 1) + 1
    for i in range(k):
        for j in range(k):
            yield i, j, x[:, :, i : i + h_end : s, j : j + w_end : s]


def maxpool2d_forward(x: np.ndarray, kernel_size: int, stride: int) -> np.ndarray:
    """``(N, C, H, W) -> (N, C, OH, OW)``, floor mode, no padding; keeps the input's memory layout."""
    views = [v for _, _, v in _offsets(x, kernel_size, stride)]
    out = np.maximum(views[0], views[1]) if len(views) > 1 else views[0].copy()
    for v in views[2:]:
        np.maximum(out, v, out=out)
    return out


def maxpool2d_forward_with_argmax(
    x: np.ndarray, kernel_size: int, stride: int
) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`maxpool2d_forward`, plus ``(N, C, OH, OW)`` uint8 indices ``i * K + j`` of each window's
    first maximum in row-major order (PyTorch's choice on ties), for the backward pass."""
    views = [v for _, _, v in _offsets(x, kernel_size, stride)]
    out = views[0].copy()
    winner = np.zeros(out.shape, np.uint8)
    for k, v in enumerate(views[1:], start=1):
        better = v > out  # strictly greater: an earlier equal maximum keeps the gradient
        # Offsets come in increasing k, so the winner is the largest k that beat the running maximum.
        np.maximum(winner, better.view(np.uint8) * np.uint8(k), out=winner)
        np.maximum(out, v, out=out)
    return out, winner


def maxpool2d_backward(
    dout: np.ndarray, winner: np.ndarray, x: np.ndarray, kernel_size: int, stride: int
) -> np.ndarray:
    """Route each ``(N, C, OH, OW)`` output gradient to its window's winning input.

    ``winner`` comes from :func:`maxpool2d_forward_with_argmax`; ``x`` is the forward input, whose
    memory layout ``dx`` copies (NHWC after a convolution). Overlapping windows (stride < kernel) add
    up; the scatter is ``K*K`` strided writes.
    """
    dx = np.zeros_like(x, dtype=dout.dtype)
    overlapping = stride < kernel_size
    for i, j, region in _offsets(dx, kernel_size, stride):
        routed = dout * (winner == i * kernel_size + j)
        if overlapping:
            region += routed
        else:
            region[...] = routed
    return dx


@dataclass(frozen=True)
class MaxPoolOp:
    kernel_size: int
    stride: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(N, C, H, W) -> (N, C, OH, OW)``."""
        return maxpool2d_forward(x, self.kernel_size, self.stride)


class MaxPool2d(Module):
    """``MaxPool2d(kernel_size, stride=kernel_size)``: ``(N, C, H, W) -> (N, C, OH, OW)``."""

    def __init__(self, kernel_size: int, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.cache: tuple[np.ndarray, np.ndarray] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, "(N, C, H, W)", 4)
        if not self.training:
            return maxpool2d_forward(x, self.kernel_size, self.stride)
        out, winner = maxpool2d_forward_with_argmax(x, self.kernel_size, self.stride)
        self.cache = (winner, x)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.cache is None:
            raise RuntimeError(f"{self!r}: backward() called without a training-mode forward()")
        dx = maxpool2d_backward(dout, *self.cache, self.kernel_size, self.stride)
        self.cache = None
        return dx

    def inference_op(self) -> MaxPoolOp:
        return MaxPoolOp(self.kernel_size, self.stride)

    def spec(self) -> dict[str, Any]:
        return {"kernel_size": self.kernel_size, "stride": self.stride}
