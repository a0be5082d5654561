"""Pen strokes: a digit's skeleton, and strokes of uniform width drawn with a round pen.

A mouse or a finger on a draw-pad leaves strokes of one width whatever the writer did; MNIST digits
were written with real pens and scanned. Tracing an MNIST digit's skeleton with a round pen turns it
into what a draw-pad sends. Used to build pen-stroke training digits and evaluation sets, and to draw
the non-digit shapes of :mod:`model.generators.negatives`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from ..normalize import INPUT_SIZE

Point = tuple[float, float]


def skeletonize(mask: np.ndarray, max_iterations: int = 64) -> np.ndarray:
    """Zhang-Suen thinning of ``(N, H, W)`` or ``(H, W)`` bool masks to one-pixel-wide lines.

    Topology is kept (a 0 stays a loop, an 8 two loops). All images of a batch thin together.
    """
    single = mask.ndim == 2
    img = np.pad(np.asarray(mask, bool)[None] if single else np.asarray(mask, bool), ((0, 0), (1, 1), (1, 1)))
    img = img.astype(np.uint8)
    for _ in range(max_iterations):
        changed = False
        for step in (0, 1):
            p = _neighbours(img)  # P2..P9 clockwise from north, each (N, H, W)
            count = sum(p)
            ring = p + [p[0]]
            transitions = sum(((ring[k] == 0) & (ring[k + 1] == 1)).astype(np.uint8) for k in range(8))
            n, e, s, w = p[0], p[2], p[4], p[6]
            cond = (n * e * s == 0) & (e * s * w == 0) if step == 0 else (n * e * w == 0) & (n * s * w == 0)
            inner = img[:, 1:-1, 1:-1]
            remove = (inner == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & cond
            if remove.any():
                inner[remove] = 0
                changed = True
        if not changed:
            break
    out = img[:, 1:-1, 1:-1].astype(bool)
    return out[0] if single else out


def _neighbours(img: np.ndarray) -> list[np.ndarray]:
    """The 8 neighbours of every inner pixel of padded ``(N, H+2, W+2)``, clockwise from north."""
    h, w = img.shape[1] - 2, img.shape[2] - 2
    offsets = ((0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0), (0, 0))
    return [img[:, r : r + h, c : c + w] for r, c in offsets]


def skeleton_segments(skeleton: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool skeleton -> ``(M, 4)`` float segments ``(y0, x0, y1, x1)`` in pixel indices,
    one per pair of 8-connected skeleton pixels (isolated pixels give a zero-length segment)."""
    ys, xs = np.nonzero(skeleton)
    h, w = skeleton.shape
    segs = [np.stack([ys, xs, ys, xs], axis=1)]
    padded = np.pad(skeleton, 1)
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        linked = padded[ys + 1 + dy, xs + 1 + dx]
        segs.append(np.stack([ys[linked], xs[linked], ys[linked] + dy, xs[linked] + dx], axis=1))
    return np.concatenate(segs).astype(np.float64)


def draw_segments(ink: Image.Image, segments: np.ndarray, width: float, fill: int = 255) -> None:
    """Draw ``(M, 4)`` segments ``(y0, x0, y1, x1)`` in ``ink``'s pixels with a round pen ``width`` px wide."""
    draw = ImageDraw.Draw(ink)
    r = width / 2
    w = max(int(round(width)), 1)
    for y0, x0, y1, x1 in segments:
        if y0 != y1 or x0 != x1:
            draw.line([(x0, y0), (x1, y1)], fill=fill, width=w)
        draw.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=fill)
        draw.ellipse([x1 - r, y1 - r, x1 + r, y1 + r], fill=fill)


def draw_polyline(ink: Image.Image, points: Sequence[Point], width: float, fill: int = 255) -> None:
    """One pen stroke through ``points`` (x, y) in ``ink``'s pixels, round caps and joints."""
    draw = ImageDraw.Draw(ink)
    r = width / 2
    if len(points) > 1:
        draw.line(list(points), fill=fill, width=max(int(round(width)), 1), joint="curve")
    for x, y in (points[0], points[-1]) if len(points) > 1 else points:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)


def pen_redraw(
    digit: np.ndarray, canvas: tuple[int, int], box: tuple[float, float, float], width: float, upsample: int = 2
) -> Image.Image:
    """Trace a ``(28, 28)`` uint8 digit's skeleton with a round pen on a blank ink canvas.

    ``canvas`` is ``(width, height)`` in pixels; ``box`` is ``(left, top, height)``: where the digit's
    28x28 field lands and how tall it is drawn, in canvas pixels; ``width`` is the pen's, in canvas
    pixels. Returns the ``"L"`` ink image (255 = ink). The digit is upsampled ``upsample`` times before
    thinning, so that the skeleton follows the stroke's centre to half a source pixel.
    """
    big = Image.fromarray(digit).resize((INPUT_SIZE * upsample,) * 2, Image.Resampling.BILINEAR)
    skeleton = skeletonize(np.asarray(big) >= 128)
    left, top, height = box
    scale = height / (INPUT_SIZE * upsample)
    segs = skeleton_segments(skeleton) * scale + (scale / 2)
    segs[:, [0, 2]] += top
    segs[:, [1, 3]] += left
    ink = Image.new("L", canvas, 0)
    draw_segments(ink, segs, width)
    return ink
