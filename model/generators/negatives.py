"""Drawings that are not digits: letters, shapes, arrows, scribbles, dots, dashes, two digits at once.

The network learns to refuse from these (an 11th class, "not a digit"). Shapes that *are* digits in
someone's hand are left out on purpose: circles and ellipses (0), near-vertical lines (1), and letters
that read as digits (O o D Q I l i j J Z z S s B G b g q T t). Every shape is a list of pen strokes in
unit coordinates (x right, y down, inside ``[0, 1]``), drawn with :func:`model.generators.pen.draw_polyline`;
letters are font glyphs, filled or traced with a pen.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..normalize import DIGIT_BOX, INPUT_SIZE
from .pen import draw_polyline, draw_segments, skeleton_segments, skeletonize

Stroke = list[tuple[float, float]]
LETTERS = "ACEFHKMNPRUVWXYacefhkmnpruvwx#&@%*+="
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")


def find_fonts() -> list[Path]:
    """TrueType/OpenType fonts installed on this machine, sorted by path (may be empty)."""
    found: list[Path] = []
    for folder in FONT_DIRS:
        if folder.is_dir():
            found += [p for p in folder.rglob("*") if p.suffix.lower() in (".ttf", ".otf")]
    return sorted(found)


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24) -> Stroke:
    t = np.linspace(a0, a1, n)
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in t]


def star(rng: np.random.Generator) -> list[Stroke]:
    k = int(rng.choice([5, 5, 6, 7]))
    step = 2 if k != 6 else 1
    ang = rng.uniform(0, 2 * math.pi)
    turns = [ang + 2 * math.pi * i * step / k for i in range(k + 1)]
    pts = [(0.5 + 0.5 * math.cos(t), 0.5 + 0.5 * math.sin(t)) for t in turns]
    if k == 6:  # a six-pointed star as two triangles
        def tri(off: float) -> list[tuple[float, float]]:
            return [(0.5 + 0.5 * math.cos(ang + off + 2 * math.pi * i / 3),
                     0.5 + 0.5 * math.sin(ang + off + 2 * math.pi * i / 3)) for i in range(4)]

        return [tri(0.0), tri(math.pi / 3)]
    return [pts]


def polygon(rng: np.random.Generator) -> list[Stroke]:
    """Triangle, square, rectangle, diamond, pentagon or hexagon, slightly irregular."""
    k = int(rng.choice([3, 4, 4, 5, 6]))
    ang = rng.uniform(0, 2 * math.pi)
    pts = [(0.5 + 0.5 * math.cos(ang + 2 * math.pi * i / k) * rng.uniform(0.85, 1),
            0.5 + 0.5 * math.sin(ang + 2 * math.pi * i / k) * rng.uniform(0.85, 1)) for i in range(k)]
    return [pts + [pts[0]]]


def cross(rng: np.random.Generator) -> list[Stroke]:
    """X, plus, hash or asterisk."""
    kind = rng.integers(4)
    if kind == 0:
        return [[(0, 0), (1, 1)], [(1, 0), (0, 1)]]
    if kind == 1:
        return [[(0.5, 0), (0.5, 1)], [(0, 0.5), (1, 0.5)]]
    if kind == 2:
        return [[(0.35, 0), (0.3, 1)], [(0.7, 0), (0.65, 1)], [(0, 0.35), (1, 0.35)], [(0, 0.68), (1, 0.68)]]
    return [[(0.5 + 0.5 * math.cos(a), 0.5 + 0.5 * math.sin(a)), (0.5 - 0.5 * math.cos(a), 0.5 - 0.5 * math.sin(a))]
            for a in np.linspace(0, math.pi, 4, endpoint=False) + rng.uniform(0, 1)]


def arrow(rng: np.random.Generator) -> list[Stroke]:
    """A horizontal or diagonal arrow with a head (vertical ones look like a 1 or a 4)."""
    a = rng.uniform(-0.8, 0.8) + (math.pi if rng.random() < 0.5 else 0)
    x0, y0 = 0.5 - 0.5 * math.cos(a), 0.5 - 0.5 * math.sin(a)
    x1, y1 = 0.5 + 0.5 * math.cos(a), 0.5 + 0.5 * math.sin(a)
    head = [(x1 + 0.3 * math.cos(a + math.pi + s), y1 + 0.3 * math.sin(a + math.pi + s)) for s in (0.5, -0.5)]
    return [[(x0, y0), (x1, y1)], [head[0], (x1, y1), head[1]]]


def check_mark(rng: np.random.Generator) -> list[Stroke]:
    return [[(0, 0.55), (0.35, 1), (1, 0)]]


def wave(rng: np.random.Generator) -> list[Stroke]:
    """A sine wave, a zigzag or a spiral."""
    kind = rng.integers(3)
    if kind == 0:
        cycles = rng.uniform(1.5, 3.5)
        return [[(x, 0.5 + 0.35 * math.sin(2 * math.pi * cycles * x)) for x in np.linspace(0, 1, 40)]]
    if kind == 1:
        n = int(rng.integers(4, 9))
        return [[(i / n, 0.2 if i % 2 else 0.8) for i in range(n + 1)]]
    turns = rng.uniform(1.5, 3)
    t = np.linspace(0, 2 * math.pi * turns, 80)
    r = 0.5 * t / t[-1]
    return [[(0.5 + ri * math.cos(ti), 0.5 + ri * math.sin(ti)) for ri, ti in zip(r, t, strict=True)]]


def scribble(rng: np.random.Generator) -> list[Stroke]:
    """A random smooth curve with many turns, like a doodle or a crossed-out mistake."""
    n = int(rng.integers(6, 14))
    ctrl = rng.uniform(0, 1, (n, 2))
    t = np.linspace(0, n - 1, 12 * n)
    xs = np.interp(t, np.arange(n), ctrl[:, 0])
    ys = np.interp(t, np.arange(n), ctrl[:, 1])
    k = np.ones(7) / 7  # smooth the corners
    xs = np.convolve(np.pad(xs, 3, mode="edge"), k, mode="valid")
    ys = np.convolve(np.pad(ys, 3, mode="edge"), k, mode="valid")
    return [list(zip(xs.tolist(), ys.tolist(), strict=True))]


def dot(rng: np.random.Generator) -> list[Stroke]:
    return [[(0.5, 0.5)]]


def dash(rng: np.random.Generator) -> list[Stroke]:
    """A short stroke within 25 degrees of horizontal (a steeper one is a 1), or a few of them."""
    a = rng.uniform(-0.45, 0.45)
    dx, dy = 0.5 * math.cos(a), 0.5 * math.sin(a)
    if rng.random() < 0.7:
        return [[(0.5 - dx, 0.5 - dy), (0.5 + dx, 0.5 + dy)]]
    if rng.random() < 0.5:  # an equals sign
        return [[(0, 0.3), (1, 0.3)], [(0, 0.7), (1, 0.7)]]
    return [[(0, 0.5), (0.4, 0.5)], [(0.6, 0.5), (1, 0.5)]]  # a broken dash


def face(rng: np.random.Generator) -> list[Stroke]:
    """A smiley or a heart: closed round shapes that are clearly not a 0."""
    if rng.random() < 0.5:
        return [_arc(0.5, 0.5, 0.5, 0.5, 0, 2 * math.pi, 40), [(0.35, 0.35)], [(0.65, 0.35)],
                _arc(0.5, 0.55, 0.25, 0.2, 0.3, math.pi - 0.3, 12)]
    t = np.linspace(0, 2 * math.pi, 60)
    xs = 16 * np.sin(t) ** 3
    ys = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return [list(zip(((xs + 17) / 34).tolist(), ((ys + 17) / 34).tolist(), strict=True))]


SHAPES: dict[str, Callable[[np.random.Generator], list[Stroke]]] = {
    "star": star, "polygon": polygon, "cross": cross, "arrow": arrow, "check": check_mark,
    "wave": wave, "scribble": scribble, "dot": dot, "dash": dash, "face": face,
}


def draw_shape(
    strokes: list[Stroke], canvas: tuple[int, int], box: tuple[float, float, float, float], width: float,
    rng: np.random.Generator, jitter: float = 0.03,
) -> Image.Image:
    """Pen strokes in unit coordinates drawn into ``box = (left, top, width, height)`` canvas pixels,
    each point jittered by ``jitter`` of the box (a hand is not a ruler). Returns the ``"L"`` ink."""
    left, top, bw, bh = box
    ink = Image.new("L", canvas, 0)
    for stroke in strokes:
        pts = np.asarray(stroke, np.float64) + rng.normal(0, jitter, (len(stroke), 2))
        draw_polyline(ink, [(left + x * bw, top + y * bh) for x, y in pts], width)
    return ink


@cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def glyph_mask(char: str, font: Path, size: int = 64) -> np.ndarray:
    """``(h, w)`` bool mask of ``char`` rendered in ``font`` at ``size`` px, cropped to its ink."""
    f = _font(str(font), size)
    im = Image.new("L", (size * 2, size * 2), 0)
    ImageDraw.Draw(im).text((size // 2, size // 4), char, fill=255, font=f)
    a = np.asarray(im) >= 128
    rows, cols = np.flatnonzero(a.any(axis=1)), np.flatnonzero(a.any(axis=0))
    if rows.size == 0:
        return np.ones((1, 1), bool)
    return a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def draw_letter(
    char: str, font: Path, canvas: tuple[int, int], box: tuple[float, float, float, float], width: float,
    traced: bool,
) -> Image.Image:
    """A glyph fitted into ``box = (left, top, width, height)``: filled as the font draws it, or its
    skeleton traced with a round pen ``width`` px wide (a hand-drawn letter). Returns ``"L"`` ink."""
    mask = glyph_mask(char, font)
    left, top, bw, bh = box
    scale = min(bw / mask.shape[1], bh / mask.shape[0])
    ink = Image.new("L", canvas, 0)
    if traced:
        segs = skeleton_segments(skeletonize(mask)) * scale
        segs[:, [0, 2]] += top
        segs[:, [1, 3]] += left
        draw_segments(ink, segs, width)
        return ink
    w, h = max(int(mask.shape[1] * scale), 1), max(int(mask.shape[0] * scale), 1)
    glyph = Image.fromarray(mask.astype(np.uint8) * 255).resize((w, h), Image.Resampling.BILINEAR)
    ink.paste(glyph, (int(left), int(top)))
    return ink


def two_digits(
    a: np.ndarray, b: np.ndarray, canvas: tuple[int, int], box: tuple[float, float, float], overlap: float
) -> Image.Image:
    """Two ``(28, 28)`` uint8 digits side by side, the second shifted right by ``1 - overlap`` of the
    field (overlap 0.3-0.6: touching or crossing), in ``box = (left, top, field height)``."""
    left, top, field = box
    side = max(int(round(field)), 1)
    ink = Image.new("L", canvas, 0)
    big_a = Image.fromarray(a).resize((side, side), Image.Resampling.BICUBIC)
    big_b = Image.fromarray(b).resize((side, side), Image.Resampling.BICUBIC)
    ink.paste(big_a, (int(left), int(top)))
    shifted = Image.new("L", canvas, 0)
    shifted.paste(big_b, (int(left + side * (1 - overlap) * DIGIT_BOX / INPUT_SIZE), int(top)))
    return Image.fromarray(np.maximum(np.asarray(ink), np.asarray(shifted)))
