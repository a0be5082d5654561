"""Handwritten digits without MNIST: a writer's strokes for each digit, drawn with the pen of :mod:`.hand`.

Each digit is one to three strokes in a box one unit tall and about 0.6 wide (x to the right, y down),
made of lines and elliptical arcs. Some digits come in the forms people write: a 0 with or without a
slash, a 1 plain, with flag and foot or with a long flag, a 2 with or without a loop at its foot, a 3
round or flat-topped, a 4 open or closed at the top, a 7 with or without its bar, a 9 with a straight
or a curled tail. A :class:`Writer` picks the forms, the slant, the width, the pen and the habits
(:class:`.hand.Habits`: pen lifts, open loops, overshoots); :func:`write` places a digit on an ink
canvas and draws it, its proportions a little different each time. Used by :mod:`.styles`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .hand import Habits, draw_strokes, humanize

Stroke = np.ndarray  # (K, 2) points (x, y), in units of the digit's height
SUPER = 4  # the strokes are drawn at 4x and reduced: anti-aliased edges


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> Stroke:
    """An elliptical arc from ``start`` to ``end`` degrees (0 = right, 90 = down: clockwise on paper)."""
    t = np.radians(np.linspace(start, end, max(int(abs(end - start) / 6), 2)))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def line(*points: tuple[float, float]) -> Stroke:
    return np.asarray(points, np.float64)


def loop(cx: float, cy: float, rx: float, ry: float, start: float = -90) -> Stroke:
    """A closed ellipse (its first point repeated last, as :func:`.hand.humanize` expects of a loop)."""
    out = arc(cx, cy, rx, ry, start, start + 360)
    out[-1] = out[0]
    return out


def _join(*parts: Stroke) -> Stroke:
    return np.concatenate(parts)


# Each digit's forms: a list of strokes per form, the first the most common.
FORMS: dict[int, tuple[list[Stroke], ...]] = {
    0: ([loop(0.3, 0.5, 0.28, 0.48)], [loop(0.3, 0.5, 0.28, 0.48), line((0.58, 0.05), (0.02, 0.95))]),
    1: ([line((0.32, 0.0), (0.32, 1.0))],
        [line((0.1, 0.24), (0.34, 0.0), (0.34, 1.0)), line((0.12, 1.0), (0.56, 1.0))],
        [line((0.0, 0.42), (0.36, 0.0), (0.36, 1.0))]),
    2: ([_join(arc(0.3, 0.28, 0.27, 0.26, 190, 400), line((0.03, 0.98), (0.6, 0.98)))],
        [_join(arc(0.3, 0.28, 0.27, 0.26, 190, 400), line((0.12, 0.86)), loop(0.14, 0.92, 0.08, 0.07, -60)[:-1],
               line((0.2, 0.98), (0.6, 0.98)))]),
    3: ([_join(arc(0.28, 0.25, 0.26, 0.23, 200, 450), arc(0.28, 0.73, 0.28, 0.25, -90, 160))],
        [_join(line((0.04, 0.0), (0.54, 0.0), (0.2, 0.42)), arc(0.26, 0.7, 0.3, 0.28, -100, 160))]),
    4: ([line((0.44, 0.0), (0.02, 0.66), (0.6, 0.66)), line((0.44, 0.0), (0.44, 1.0))],
        [line((0.1, 0.0), (0.04, 0.6), (0.6, 0.6)), line((0.46, 0.25), (0.46, 1.0))]),
    5: ([_join(line((0.1, 0.0), (0.08, 0.45)), arc(0.3, 0.7, 0.28, 0.28, -125, 150)), line((0.1, 0.0), (0.56, 0.0))],),
    6: ([_join(arc(0.55, 0.7, 0.5, 0.68, 265, 180), arc(0.3, 0.72, 0.25, 0.27, 180, 540))],),
    7: ([line((0.02, 0.02), (0.58, 0.02), (0.22, 1.0))],
        [line((0.02, 0.02), (0.58, 0.02), (0.22, 1.0)), line((0.2, 0.5), (0.56, 0.5))]),
    8: ([loop(0.3, 0.26, 0.22, 0.24, 90), loop(0.3, 0.74, 0.27, 0.26, -90)],),
    9: ([loop(0.3, 0.27, 0.26, 0.25, 0), line((0.56, 0.27), (0.5, 1.0))],
        [loop(0.3, 0.27, 0.26, 0.25, 0), arc(0.25, 0.27, 0.31, 0.73, 0, 110)]),
}


@dataclass(frozen=True)
class Writer:
    """How one person writes: ``forms`` (digit -> index into :data:`FORMS`, else drawn at random),
    ``slant`` (x shift per unit of height, leaning right when positive) and ``aspect`` (width factor),
    each a ``(low, high)`` range drawn from per digit; ``pen`` the pen's width as a share of the digit's
    height; ``habits`` the pen lifts, open loops and overshoots (:class:`.hand.Habits`)."""

    forms: dict[int, int] = field(default_factory=dict)
    slant: tuple[float, float] = (-0.1, 0.3)
    aspect: tuple[float, float] = (0.8, 1.2)
    pen: tuple[float, float] = (0.05, 0.12)
    habits: Habits = field(default_factory=Habits)


def strokes(digit: int, writer: Writer, rng: np.random.Generator) -> list[Stroke]:
    """``digit``'s strokes as ``writer`` writes it this time: its form, slanted, narrowed or widened,
    turned a degree or two and each point moved a little (still one unit tall, from y = 0)."""
    forms = FORMS[digit]
    form = forms[writer.forms[digit] if digit in writer.forms else int(rng.integers(len(forms)))]
    slant, aspect = rng.uniform(*writer.slant), rng.uniform(*writer.aspect)
    turn = np.radians(rng.normal(0, 1.5))
    c, s = np.cos(turn), np.sin(turn)
    out = []
    for path in form:
        x, y = path[:, 0] * aspect, path[:, 1]
        x = x + slant * (1 - y)
        x, y = c * x - s * y, s * x + c * y
        out.append(np.stack([x, y], axis=1) + rng.normal(0, 0.008, (1, 2)))
    return out


def _dense(path: np.ndarray, step: float = 1.0) -> np.ndarray:
    """The polyline resampled every ``step`` pixels (:func:`.hand.humanize` works on pixel-spaced points)."""
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
    t = np.linspace(0, s[-1], max(int(s[-1] / step), 2))
    out = np.stack([np.interp(t, s, path[:, 0]), np.interp(t, s, path[:, 1])], axis=1)
    if np.allclose(path[0], path[-1]):
        out[-1] = out[0]
    return out


def width_of(paths: list[Stroke]) -> tuple[float, float]:
    """The strokes' leftmost x and their width, in the units they are in."""
    xs = np.concatenate([p[:, 0] for p in paths])
    return float(xs.min()), float(xs.max() - xs.min())


def write(paths: list[Stroke], writer: Writer, size: tuple[int, int], box: tuple[float, float, float],
          rng: np.random.Generator) -> Image.Image:
    """A digit's ``paths`` (:func:`strokes`) drawn with ``writer``'s pen and habits on an ``"L"`` ink
    canvas of ``size`` (255 = ink), ``height`` pixels tall with its left edge at ``left`` and its top at
    ``top`` (``box = (left, top, height)``)."""
    left, top, height = box
    x0, _ = width_of(paths)
    pixels = [_dense((p - [x0, 0]) * height + [left, top]) for p in paths]
    pen = rng.uniform(*writer.pen) * height
    drawn = humanize(pixels, height, pen, rng, writer.habits)
    big = Image.new("L", (size[0] * SUPER, size[1] * SUPER), 0)
    draw_strokes(big, [(pts * SUPER + SUPER / 2, widths * SUPER) for pts, widths in drawn])
    return big.resize(size, Image.Resampling.BOX)
