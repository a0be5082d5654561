"""Scribbles as people make them: loose or dense, open or closed, one stroke or a few.

:func:`model.generators.negatives.scribble` is one smooth random curve. A person crossing something
out, testing the pen or doodling also makes tangles of loops going round, back-and-forth fills,
coils of loops along a line and a few loose curves with the pen lifted between them. Every kind is a
list of strokes in unit coordinates (x right, y down, about ``[0, 1]``) with enough turns that no
hand would take it for a digit; :func:`draw_scribble` draws them with the hand pen of
:mod:`model.generators.hand` (width swinging along the stroke, wobble, tremor).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image

from .hand import Habits, draw_strokes, wobble

Stroke = np.ndarray  # (K, 2) unit (x, y)


def _fit(strokes: list[Stroke]) -> list[Stroke]:
    """Scale and shift strokes together into the unit square, keeping their aspect."""
    pts = np.concatenate(strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = max(float((hi - lo).max()), 1e-9)
    return [(s - lo) / span + (1 - (hi - lo) / span) / 2 for s in strokes]


def tangle(rng: np.random.Generator) -> list[Stroke]:
    """Loops going round and round, drifting: two or three circles turning at different speeds."""
    turns = rng.uniform(2.5, 6)
    t = np.linspace(0, 2 * math.pi * turns, int(60 * turns))
    k = int(rng.integers(2, 4))
    radii, speeds = rng.uniform(0.15, 0.5, k), rng.choice([-3.0, -2.0, 1.0, 1.5, 2.5, 3.5], k)
    speeds[0] = 1.0
    x = sum(r * np.cos(s * t + rng.uniform(0, 6.3)) for r, s in zip(radii, speeds, strict=True))
    y = sum(r * np.sin(s * t + rng.uniform(0, 6.3)) for r, s in zip(radii, speeds, strict=True))
    drift = rng.uniform(-0.3, 0.3, 2) * np.linspace(0, 1, len(t))[:, None]
    return [np.stack([x, y], axis=1) + drift]


def fill(rng: np.random.Generator) -> list[Stroke]:
    """Back and forth, as when crossing out: 5-16 sweeps across, rounded at the turns."""
    n = int(rng.integers(5, 17))
    a = rng.uniform(0, math.pi)
    along, across = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
    t = np.linspace(0, n * math.pi, 24 * n)
    sweep = np.cos(t) * rng.uniform(0.7, 1.0, len(t)).mean()
    step = np.linspace(0, 1, len(t)) + rng.normal(0, 0.01, len(t))
    return [np.outer(sweep, along) + np.outer(step, across)]


def coil(rng: np.random.Generator) -> list[Stroke]:
    """Loops along a line (a row of cursive e's or l's): 3-8 of them."""
    n = rng.uniform(3, 8)
    t = np.linspace(0, 2 * math.pi * n, int(50 * n))
    r = rng.uniform(0.6, 1.4)
    x = t / (2 * math.pi) * rng.uniform(0.5, 1.2) - r * np.sin(t) * 0.5
    y = r * np.cos(t) * rng.uniform(0.4, 1.0)
    return [np.stack([x, y], axis=1)]


def loose(rng: np.random.Generator) -> list[Stroke]:
    """One smooth random curve through 7-14 points, open or closed back to its start."""
    n = int(rng.integers(7, 15))
    ctrl = rng.uniform(0, 1, (n, 2))
    if rng.random() < 0.4:
        ctrl = np.concatenate([ctrl, ctrl[:1]])
    return [_spline(ctrl)]


def sparse(rng: np.random.Generator) -> list[Stroke]:
    """Two to four loose curves with the pen lifted between them, each through 4-7 points."""
    return [_spline(rng.uniform(0, 1, (int(rng.integers(4, 8)), 2))) for _ in range(int(rng.integers(2, 5)))]


def _spline(ctrl: np.ndarray, per: int = 16) -> Stroke:
    """A smooth curve through ``(n, 2)`` points (Catmull-Rom)."""
    p = np.concatenate([ctrl[:1], ctrl, ctrl[-1:]])
    t = np.linspace(0, 1, per, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (3 * p1 - p0 - 3 * p2 + p3) * t**3))
    return np.concatenate([*out, ctrl[-1:]])


KINDS: dict[str, Callable[[np.random.Generator], list[Stroke]]] = {
    "tangle": tangle, "fill": fill, "coil": coil, "loose": loose, "sparse": sparse,
}


def scribble_strokes(rng: np.random.Generator, kind: str | None = None) -> tuple[str, list[Stroke]]:
    """A scribble of ``kind`` (default: one at random) as strokes fitted into the unit square."""
    name = kind or list(KINDS)[int(rng.integers(len(KINDS)))]
    return name, _fit(KINDS[name](rng))


def draw_scribble(
    strokes: list[Stroke], canvas: tuple[int, int], box: tuple[float, float, float, float], width: float,
    rng: np.random.Generator, habits: Habits | None = None,
) -> Image.Image:
    """Unit strokes drawn into ``box = (left, top, width, height)`` canvas pixels with a hand pen
    ``width`` px wide. Returns the ``"L"`` ink image (255 = ink)."""
    left, top, bw, bh = box
    ink = Image.new("L", canvas, 0)
    placed = [s * np.array([bw, bh]) + np.array([left, top]) for s in strokes]
    draw_strokes(ink, [wobble(_dense(s), max(bw, bh), width, rng, habits or Habits()) for s in placed])
    return ink


def _dense(path: np.ndarray, step: float = 1.5) -> np.ndarray:
    """Resample a polyline to a point every ``step`` pixels (so the width swings smoothly)."""
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
    if s[-1] <= step:
        return path
    t = np.linspace(0, s[-1], int(s[-1] / step) + 1)
    return np.stack([np.interp(t, s, path[:, 0]), np.interp(t, s, path[:, 1])], axis=1)
