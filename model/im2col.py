"""im2col / col2im with strided views: no Python loop over pixels or batch items.

Work happens channel-last: a ``(N, C, H, W)`` input is read through its ``(N, H, W, C)`` view (free
when it came out of a previous convolution, whose matmul writes NHWC memory). Column layout: one row per
output pixel, ordered ``(n, oh, ow)``; one column per kernel tap, ordered ``(kh, kw, c)``, so each
window row is copied in runs of ``KW*C`` contiguous floats. :func:`weight_matrix` puts a
``(F, C, KH, KW)`` kernel in the same tap order.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .shapes import conv_output_size


def to_nhwc(x: np.ndarray, padding: int = 0) -> np.ndarray:
    """``(N, C, H, W)`` -> C-contiguous ``(N, H+2p, W+2p, C)``, zero-padded (at most one copy)."""
    xh = x.transpose(0, 2, 3, 1)
    if padding == 0:
        return np.ascontiguousarray(xh)
    n, h, w, c = xh.shape
    out = np.zeros((n, h + 2 * padding, w + 2 * padding, c), dtype=x.dtype)
    out[:, padding : padding + h, padding : padding + w, :] = xh
    return out


def weight_matrix(weight: np.ndarray) -> np.ndarray:
    """``(F, C, KH, KW)`` kernel -> ``(F, KH*KW*C)``, matching the column order of :func:`im2col`."""
    return weight.transpose(0, 2, 3, 1).reshape(weight.shape[0], -1)


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    """``(N, C, H, W) -> (N*OH*OW, KH*KW*C)``: one padded NHWC copy, then one gather copy.

    With few channels a window row is a run of only ``KW*C`` floats, so the rows are gathered with one
    bulk strided copy per kernel offset instead (:func:`gather_by_offset`; faster for MNIST's single
    channel: ``python benchmarks/bench_kernels.py`` prints both).
    """
    xp = to_nhwc(x, padding)
    gather = gather_by_offset if xp.shape[3] < 4 else gather_by_window
    return gather(xp, kh, kw, stride)


def gather_by_window(xp: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """Padded NHWC ``(N, HP, WP, C)`` -> columns, copying each window through a strided view."""
    n, hp, wp, c = xp.shape
    oh, ow = conv_output_size(hp, kh, stride), conv_output_size(wp, kw, stride)
    sn, sh, sw, sc = xp.strides
    view = as_strided(
        xp, shape=(n, oh, ow, kh, kw, c), strides=(sn, sh * stride, sw * stride, sh, sw, sc), writeable=False
    )
    return view.reshape(n * oh * ow, kh * kw * c)


def gather_by_offset(xp: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """Padded NHWC ``(N, HP, WP, C)`` -> columns, one strided slice copy per kernel offset."""
    n, hp, wp, c = xp.shape
    oh, ow = conv_output_size(hp, kh, stride), conv_output_size(wp, kw, stride)
    cols = np.empty((n, oh, ow, kh, kw, c), xp.dtype)
    h_end, w_end = stride * (oh - 1) + 1, stride * (ow - 1) + 1
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = xp[:, i : i + h_end : stride, j : j + w_end : stride, :]
    return cols.reshape(n * oh * ow, kh * kw * c)


def col2im(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kh: int,
    kw: int,
    stride: int,
    padding: int,
) -> np.ndarray:
    """Adjoint of :func:`im2col`: ``(N*OH*OW, KH*KW*C) -> (N, C, H, W)`` (an NCHW view of NHWC memory).

    Overlapping windows are summed by accumulating one strided slice per kernel offset (``KH*KW``
    vectorized additions), never element by element.
    """
    n, c, h, w = x_shape
    hp, wp = h + 2 * padding, w + 2 * padding
    oh, ow = conv_output_size(hp, kh, stride), conv_output_size(wp, kw, stride)
    blocks = cols.reshape(n, oh, ow, kh, kw, c)
    out = np.zeros((n, hp, wp, c), dtype=cols.dtype)
    h_end, w_end = stride * (oh - 1) + 1, stride * (ow - 1) + 1
    for i in range(kh):
        for j in range(kw):
            out[:, i : i + h_end : stride, j : j + w_end : stride, :] += blocks[:, :, :, i, j, :]
    out = out[:, padding : padding + h, padding : padding + w, :]
    return out.transpose(0, 3, 1, 2)
