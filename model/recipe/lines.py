"""Thin straight runs of ink, the stuff a form's rulings are made of: the horizontal lines of a mask.

A line is a band of at most a few rows that each hold a long run of ink, gaps of a pixel or two
bridged (a pale or noisy printed line); its span is where those runs lie. Vertical lines are the
horizontal lines of the transposed mask. :mod:`.rulings` decides which lines are a form's.
"""

from __future__ import annotations

import math
from typing import Final, NamedTuple

import numpy as np

MAX_LINES: Final = 12  # lines each way considered for frames (lined paper is not a form's box)
PAPER: Final = 3  # paper bits after each row in :func:`lines`: a bridged gap spans at most 3 pixels
RIM: Final = 1  # pixels either side of a line's band that are its own: an anti-aliased or blurred edge


class Line(NamedTuple):
    """A thin straight run of ink: rows ``p0..p1-1`` across it and columns ``a..b-1`` along it
    (for a vertical line, in the transposed image: columns across, rows along)."""

    p0: int
    p1: int
    a: int
    b: int


def lines(mask: np.ndarray, long: float, thin: int) -> list[Line]:
    """The horizontal lines of a ``(H, W)`` bool mask: bands of at most ``thin`` consecutive rows that
    each hold a run of at least ``long`` pixels, with the span of those runs; longest first, at most
    ``MAX_LINES``.

    Bit-parallel: the mask is one integer, a bit per pixel, each row padded with at least ``PAPER``
    bits of paper to whole bytes, so the few shifts and ANDs that bridge gaps and find runs run over
    the whole image at once and never reach across rows. A run of ``k = ceil(long)`` pixels or more
    holds a window of ``k`` ink pixels: a row's first window starts its first long run, its last one
    ends its last."""
    height, width = mask.shape
    k, stride = math.ceil(long), -(-(width + PAPER) // 8) * 8
    if k > width:
        return []
    padded = np.zeros((height, stride), bool)
    padded[:, :width] = mask
    ink = int.from_bytes(np.packbits(padded, bitorder="little").tobytes(), "little")  # pixel i is bit i
    run = ink | (ink << 1 & ink >> 1) | (ink << 1 & ink >> 2) | (ink << 2 & ink >> 1)  # gaps of 1-2 bridged
    span = 1
    while span < k:  # a bit stays set while the ``span`` pixels from it hold ink
        step = min(span, k - span)
        run &= run >> step
        span += step
    if not run:
        return []
    starts = np.frombuffer(run.to_bytes(height * stride // 8, "little"), np.uint8).reshape(height, -1)
    return _bands(starts, k, thin)


def _bands(starts: np.ndarray, k: int, thin: int) -> list[Line]:
    """The lines of a ``(H, S / 8)`` bit-packed map (little bit order) of where windows of ``k`` ink
    pixels start: bands of rows holding one, at most ``thin`` thick, with their span; longest first,
    at most ``MAX_LINES``."""
    held = np.zeros(len(starts) + 2, bool)
    held[1:-1] = starts.any(axis=1)
    r0, r1 = np.flatnonzero(held[1:] != held[:-1]).reshape(-1, 2).T  # each band's first row, the row after
    keep = r1 - r0 <= thin
    if not keep.any():
        return []
    found = []
    for first, end in zip(r0[keep].tolist(), r1[keep].tolist(), strict=True):
        band = np.unpackbits(np.bitwise_or.reduce(starts[first:end]), bitorder="little")
        a, b = int(band.argmax()), len(band) - int(band[::-1].argmax()) - 1 + k
        found.append(Line(first, end, a, b))
    found.sort(key=lambda line: line.a - line.b)
    return found[:MAX_LINES]
