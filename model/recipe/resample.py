"""Pillow's anti-aliased (Lanczos) resize of a float image over a box, as two matrix products.

:func:`.fit.fit_digit` reduces a digit's ink, often hundreds of pixels a side, to 28 x 28. Pillow
resamples 32-bit float images one output pixel and one filter tap at a time; the same taps laid out
as two weight matrices make that reduction two BLAS products, and the crop needs no copy into a
Pillow image. The taps are Pillow's own (``precompute_coeffs`` in libImaging/Resample.c: the
Lanczos-3 filter widened by the reduction, the box's edges as C floats, each output pixel's taps
normalized over the source pixels inside the image), and so are the passes: rows first, rounded to
float32, then columns, each summed in float64. The result is Pillow's to float32 rounding (a test
holds them together), so the network sees what it was trained on.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

SUPPORT: Final = 3.0  # Lanczos-3: the filter's half-width in source pixels at scale 1
MATRICES_FROM: Final = 128  # crops this many pixels a side or more: below, Pillow's call costs less than
# building the two weight matrices (docs/journal/2026-12-07-service-core-redesign.md)


def _lanczos(x: np.ndarray) -> np.ndarray:
    """Pillow's ``lanczos_filter`` of float64 ``x``: ``sinc(x) * sinc(x / 3)`` on ``[-3, 3)``, else 0."""
    px = np.pi * x
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.sin(px) / px * (np.sin(px / SUPPORT) / (px / SUPPORT))
    w[x == 0] = 1.0
    w[(x < -SUPPORT) | (x >= SUPPORT)] = 0.0
    return w


def taps(size: int, start: float, end: float, out: int) -> np.ndarray:
    """``(out, size)`` float64 weights of a resize of ``size`` source pixels, from ``start`` to ``end``
    (source pixel units, ``0 <= start < end <= size``), into ``out`` pixels: output pixel ``i`` is
    ``weights[i] @ source``."""
    start32, end32 = np.float32(start), np.float32(end)
    scale = float(end32 - start32) / out  # Pillow takes the box as C floats and their difference too
    widen = max(scale, 1.0)
    support = SUPPORT * widen
    centre = float(start32) + (np.arange(out) + 0.5) * scale
    first = np.maximum((centre - support + 0.5).astype(np.int64), 0)  # C's (int): towards zero
    stop = np.minimum((centre + support + 0.5).astype(np.int64), size)
    k = 2 * math.ceil(support) + 1
    index = first[:, None] + np.arange(k)
    weight = _lanczos((index - centre[:, None] + 0.5) * (1.0 / widen))
    weight[index >= stop[:, None]] = 0.0  # past the image's edge, or the filter's
    total = weight.sum(axis=1, keepdims=True)
    np.divide(weight, total, out=weight, where=total != 0)  # Pillow leaves a row of zero taps as it is
    matrix = np.zeros((out, size + k))  # each row's taps are distinct columns; those past the edge are 0
    matrix.ravel()[(index + np.arange(out)[:, None] * (size + k)).ravel()] = weight.ravel()
    return matrix[:, :size]


def resize(image: np.ndarray, box: tuple[float, float, float, float], pad: int, side: int) -> np.ndarray:
    """``(H, W)`` float32 -> ``(side, side)`` float32: the region ``box`` = ``(left, top, right,
    bottom)`` of ``image`` with ``pad`` zero pixels around it, as Pillow's
    ``Image.fromarray(padded).resize((side, side), LANCZOS, box=box)`` gives it. The padding is never
    made: its pixels are zero, so their taps are dropped."""
    height, width = image.shape
    across = taps(width + 2 * pad, box[0], box[2], side)[:, pad : pad + width]
    down = taps(height + 2 * pad, box[1], box[3], side)[:, pad : pad + height]
    rows = np.flatnonzero(down.any(axis=0))  # Pillow's first pass covers only the rows the second reads
    top, bottom = (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, 0)
    first = (image[top:bottom].astype(np.float64) @ across.T).astype(np.float32)
    out: np.ndarray = (down[:, top:bottom] @ first.astype(np.float64)).astype(np.float32)
    return out
