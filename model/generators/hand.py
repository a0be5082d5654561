"""A pen model closer to people: strokes in an order, pen lifts, open loops, overshoots, retracing.

:func:`model.generators.pen.pen_redraw` traces a digit's whole skeleton in one uniform width: every
loop closed, every junction joined. People lift the pen between the strokes of one digit and leave a
gap of a few pixels, leave a 0's or a 9's loop open or close a 4's, run a stroke past where it should
end, go back over a stroke, and their width and speed vary along a stroke. :func:`skeleton_paths` cuts
a skeleton into polylines; :func:`humanize` applies those habits (:class:`Habits`) to them, seeded;
:func:`draw_strokes` draws them with a round pen whose width varies along the stroke.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image, ImageDraw

from ..normalize import INPUT_SIZE
from .pen import skeletonize

Path = np.ndarray  # (K, 2) float points (x, y)
_STEPS = ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))  # (dy, dx)


def _linked(on: set[tuple[int, int]], p: tuple[int, int]) -> list[tuple[int, int]]:
    """``p``'s neighbours in ``on`` (m-adjacency: a diagonal only when no orthogonal pixel links them)."""
    y, x = p
    out = [(y + dy, x + dx) for dy, dx in _STEPS[:4] if (y + dy, x + dx) in on]
    for dy, dx in _STEPS[4:]:
        if (y + dy, x + dx) in on and (y + dy, x) not in on and (y, x + dx) not in on:
            out.append((y + dy, x + dx))
    return out


Pixel = tuple[int, int]


def skeleton_paths(skeleton: np.ndarray, min_spur: int = 4) -> list[Path]:
    """``(H, W)`` bool one-pixel skeleton -> its polylines as ``(K, 2)`` float ``(x, y)`` pixel arrays:
    one per branch between ends and junctions, one per closed loop (first point repeated last).
    Branches with a free end shorter than ``min_spur`` pixels are dropped: thinning leaves them where
    a stroke was thick or turned back, and no pen draws them."""
    on = {(int(y), int(x)) for y, x in zip(*np.nonzero(skeleton), strict=True)}
    links = {p: _linked(on, p) for p in on}
    paths = _branches(links, {p for p, n in links.items() if len(n) != 2}) or ([[min(on)]] if on else [])
    ends = {p for p, n in links.items() if len(n) <= 1}
    keep = [path for path in paths if not _spur(path, ends, min_spur)]
    return [np.array([(x, y) for y, x in path], np.float64) for path in keep or paths]


def _branches(links: dict[Pixel, list[Pixel]], nodes: set[Pixel]) -> list[list[Pixel]]:
    """Every branch from a node (an end or a junction), then every loop without one (a 0)."""
    seen: set[frozenset[Pixel]] = set()
    paths: list[list[Pixel]] = []
    for starts in (sorted(nodes), sorted(set(links) - nodes)):
        for p in starts:
            paths += [_walk(links, nodes, seen, p, q) for q in links[p] if frozenset((p, q)) not in seen]
    return paths


def _walk(
    links: dict[Pixel, list[Pixel]], nodes: set[Pixel], seen: set[frozenset[Pixel]], start: Pixel, nxt: Pixel
) -> list[Pixel]:
    """The pixels from ``start`` through ``nxt`` to the next node (or back to ``start``), marking each
    link walked in ``seen``."""
    path, prev, cur = [start], start, nxt
    seen.add(frozenset((start, nxt)))
    while True:
        path.append(cur)
        if cur in nodes or cur == start:
            return path
        step = [q for q in links[cur] if q != prev and frozenset((cur, q)) not in seen]
        if not step:
            return path
        seen.add(frozenset((cur, step[0])))
        prev, cur = cur, step[0]


def _spur(path: list[Pixel], ends: set[Pixel], min_spur: int) -> bool:
    """A branch shorter than ``min_spur`` with one free end (not a lone short stroke)."""
    touches = {path[0], path[-1]} & ends
    return len(path) < min_spur and bool(touches) and not {path[0], path[-1]} <= ends


@dataclass(frozen=True)
class Habits:
    """How often (probabilities) and how much (fractions of the digit's ink height) a writer does what.

    ``lift``: a stroke ends short of the stroke it should meet (a pen lift at a junction), or breaks
    in the middle, leaving a gap of ``gap`` between the ink's edges; ``open_loop``: a closed loop is
    left open by ``gap``; ``overshoot``: a free end runs on along its direction by ``overshoot``;
    ``retrace``: part of a stroke is drawn again, back over itself, ``retrace_offset`` to the side;
    ``width_var``: the width's relative swing along a stroke; ``jitter``: a slow wobble's amplitude;
    ``tremor``: per-point noise.
    """

    lift: float = 0.5
    mid_lift: float = 0.15
    open_loop: float = 0.35
    gap: tuple[float, float] = (0.02, 0.10)
    overshoot_p: float = 0.3
    overshoot: tuple[float, float] = (0.03, 0.12)
    retrace: float = 0.15
    retrace_offset: tuple[float, float] = (0.0, 0.04)
    width_var: tuple[float, float] = (0.0, 0.35)
    jitter: tuple[float, float] = (0.0, 0.02)
    tremor: float = 0.003


def _smooth(path: Path, k: int = 3) -> Path:
    """Moving average of a polyline's points (ends kept; a closed loop wraps around)."""
    if len(path) <= 2 * k:
        return path
    closed = np.allclose(path[0], path[-1])
    kernel = np.ones(2 * k + 1) / (2 * k + 1)
    if closed:
        body = path[:-1]
        padded = np.concatenate([body[-k:], body, body[:k]])
        out = np.stack([np.convolve(padded[:, d], kernel, "valid") for d in (0, 1)], axis=1)
        return np.concatenate([out, out[:1]])
    padded = np.concatenate([np.repeat(path[:1], k, 0), path, np.repeat(path[-1:], k, 0)])
    return np.stack([np.convolve(padded[:, d], kernel, "valid") for d in (0, 1)], axis=1)


def _length(path: Path) -> np.ndarray:
    """Cumulative arc length at each point, ``(K,)``."""
    return np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])


def _trim(path: Path, start: float, end: float) -> Path:
    """The part of ``path`` from arc length ``start`` to ``total - end``."""
    s = _length(path)
    if len(path) < 2 or s[-1] - start - end <= 0:
        return path[:1]
    t = np.linspace(start, s[-1] - end, max(int((s[-1] - start - end) / 1.0), 2))
    return np.stack([np.interp(t, s, path[:, 0]), np.interp(t, s, path[:, 1])], axis=1)


def _extend(path: Path, amount: float, at_end: bool) -> Path:
    """Run a polyline on past one end along its last direction by ``amount``."""
    if len(path) < 2:
        return path
    tail = path[-min(len(path), 5):] if at_end else path[: min(len(path), 5)][::-1]
    d = tail[-1] - tail[0]
    d = d / max(float(np.hypot(*d)), 1e-9)
    extra = tail[-1] + np.outer(np.linspace(0, amount, max(int(amount), 2))[1:], d)
    return np.concatenate([path, extra]) if at_end else np.concatenate([extra[::-1], path])


def _near_other(point: np.ndarray, others: list[Path], radius: float) -> bool:
    return any(len(o) and float(np.min(np.hypot(*(o - point).T))) <= radius for o in others)


def humanize(paths: list[Path], height: float, width: float, rng: np.random.Generator,
             habits: Habits | None = None) -> list[tuple[Path, np.ndarray]]:
    """A writer's strokes from skeleton ``paths`` (``(x, y)`` in canvas pixels) of a digit ``height``
    pixels tall, drawn ``width`` pixels wide: ``[(points (K, 2), widths (K,))]`` in drawing order.
    The first stroke drawn meets nothing yet; later ones may stop short of it (at most one gap at a
    junction a digit, a quarter of the time two)."""
    habits = habits or Habits()
    paths = [_smooth(p) for p in paths]
    paths = [paths[i] for i in rng.permutation(len(paths))]
    out: list[Path] = []
    lifts = 1 + int(rng.random() < 0.25)
    for i, path in enumerate(paths):
        gap = width + rng.uniform(*habits.gap) * height  # centre to centre: the ink's edges `gap - width` apart
        if len(path) > 8 and np.allclose(path[0], path[-1]):
            path = _open_loop(path, gap, rng, habits)
        elif len(path) > 1:
            path, lifts = _ends(path, paths[:i] + paths[i + 1 :], gap, height, lifts if i else 0, rng, habits)
        out += _lift_and_retrace(path, gap, height, rng, habits)
    return [wobble(p, height, width, rng, habits) for p in out]


def _open_loop(path: Path, gap: float, rng: np.random.Generator, habits: Habits) -> Path:
    """A closed loop, started anywhere, left open by ``gap`` (centre to centre) or by a random share
    of it (often still touching), with probability ``habits.open_loop``."""
    if rng.random() >= habits.open_loop:
        return path
    roll = int(rng.integers(len(path) - 1))
    path = np.concatenate([path[roll:-1], path[: roll + 1]])
    return _trim(path, gap * rng.random(), 0) if rng.random() < 0.5 else _trim(path, 0, gap)


def _ends(path: Path, others: list[Path], gap: float, height: float, lifts: int, rng: np.random.Generator,
          habits: Habits) -> tuple[Path, int]:
    """Each end of an open stroke: where it meets another stroke, it may stop ``gap`` short (a pen
    lift, while ``lifts`` are left); a free end may run on (an overshoot). Returns the stroke and the
    lifts left."""
    for at_end in (False, True):
        joined = _near_other(path[-1] if at_end else path[0], others, 2.5)
        if joined:
            if lifts and _length(path)[-1] > 3 * gap and rng.random() < habits.lift:
                path = _trim(path, 0, gap) if at_end else _trim(path, gap, 0)
                lifts -= 1
        elif rng.random() < habits.overshoot_p:
            path = _extend(path, rng.uniform(*habits.overshoot) * height, at_end)
    return path, lifts


def _lift_and_retrace(path: Path, gap: float, height: float, rng: np.random.Generator, habits: Habits) -> list[Path]:
    """The stroke, maybe broken in two by a pen lift in its middle, maybe with a part of it drawn
    again backwards beside itself."""
    pieces = [path]
    if len(path) > 20 and rng.random() < habits.mid_lift:
        s = _length(path)
        cut = rng.uniform(0.3, 0.7) * s[-1]
        pieces = [_trim(path, 0, s[-1] - cut + gap / 2), _trim(path, cut + gap / 2, 0)]
    if len(path) > 12 and rng.random() < habits.retrace:
        a, b = sorted(rng.integers(0, len(path), 2))
        if b - a > 6:
            side = rng.normal(0, 1, 2)
            offset = side / max(float(np.hypot(*side)), 1e-9) * rng.uniform(*habits.retrace_offset) * height
            pieces.append(path[a:b][::-1] + offset)
    return [p for p in pieces if len(p)]


def wobble(path: Path, height: float, width: float, rng: np.random.Generator,
            habits: Habits) -> tuple[Path, np.ndarray]:
    """Slow wobble and tremor of the points, and a width that swings along the stroke."""
    n = len(path)
    t = np.linspace(0, 1, n)
    amp = rng.uniform(*habits.jitter) * height
    phase, freq = rng.uniform(0, 2 * np.pi, 2), rng.uniform(0.5, 2.0, 2)
    slow = np.stack([np.sin(2 * np.pi * freq[d] * t + phase[d]) for d in (0, 1)], axis=1) * amp
    pts = path + slow + rng.normal(0, habits.tremor * height, (n, 2))
    swing = rng.uniform(*habits.width_var)
    widths = width * (1 + swing * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t + rng.uniform(0, 2 * np.pi)))
    return pts, np.maximum(widths, 1.0)


def draw_strokes(ink: Image.Image, strokes: list[tuple[Path, np.ndarray]], fill: int = 255) -> None:
    """Draw ``[(points (K, 2) x/y, widths (K,))]`` into ``ink`` with a round pen, width per point."""
    draw = ImageDraw.Draw(ink)
    for pts, widths in strokes:
        for k in range(len(pts)):
            x, y = pts[k]
            r = widths[k] / 2
            draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)
            if k:
                w = max(int(round(min(widths[k], widths[k - 1]))), 1)
                draw.line([tuple(pts[k - 1]), (x, y)], fill=fill, width=w)


def hand_redraw(
    digit: np.ndarray, canvas: tuple[int, int], box: tuple[float, float, float], width: float,
    rng: np.random.Generator, habits: Habits | None = None, upsample: int = 2, label: int | None = None,
) -> Image.Image:
    """A ``(28, 28)`` uint8 digit drawn as a person would with a pen (:func:`humanize`) on a blank ink
    canvas ``(width, height)`` px; ``box = (left, top, height)`` is where the 28x28 field lands and
    how tall, ``width`` the pen's, in canvas pixels. A ``label`` 1 may get a flag (:func:`flagged`).
    Returns the ``"L"`` ink image (255 = ink)."""
    big = Image.fromarray(digit).resize((INPUT_SIZE * upsample,) * 2, Image.Resampling.BILINEAR)
    skeleton = skeletonize(np.asarray(big) >= 128)
    left, top, field = box
    scale = field / (INPUT_SIZE * upsample)
    paths = [p * scale + scale / 2 + np.array([left, top]) for p in skeleton_paths(skeleton)]
    if label == 1:  # whether and how: the digit's own stream, the same wherever it falls in a set
        paths = flagged(paths, np.random.default_rng(zlib.crc32(digit.tobytes())))
    ink = Image.new("L", canvas, 0)
    draw_strokes(ink, humanize(paths, field * 20 / INPUT_SIZE, width, rng, habits))
    return ink


FLAG: Final = 0.4  # the share of single-stroke 1s given a flag
FLAG_LENGTH: Final = (0.1, 0.5)  # its length, a share of the stem's
FLAG_RISE: Final = (35.0, 65.0)  # its angle above the horizontal, degrees (at most the stem's less SPLAY)
SPLAY: Final = 25.0  # degrees at least between the flag and the stem


def flagged(paths: list[Path], rng: np.random.Generator) -> list[Path]:
    """A 1 drawn as one stroke (``paths``: its skeleton's polylines, ``(x, y)`` pixels), ``FLAG`` of
    the time with a flag: an upstroke from down-left into the stem's top, drawn in one stroke with
    it. MNIST's writers rarely flag a 1; much of Europe is taught a long one, which sets the 1 near a
    7 without its bar. Anything else comes back as it came."""
    if len(paths) != 1 or len(paths[0]) < 8 or rng.random() >= FLAG:
        return paths
    stem = paths[0] if paths[0][0, 1] <= paths[0][-1, 1] else paths[0][::-1]  # from its top
    down = stem[len(stem) // 3] - stem[0]
    steep = float(np.degrees(np.arctan2(down[1], -down[0])))  # the stem's angle below the leftward horizontal
    if steep - SPLAY < FLAG_RISE[0]:
        return paths
    rise = np.radians(rng.uniform(FLAG_RISE[0], min(FLAG_RISE[1], steep - SPLAY)))
    size = rng.uniform(*FLAG_LENGTH) * float(_length(stem)[-1])
    foot = stem[0] + size * np.array([-np.cos(rise), np.sin(rise)])
    flag = np.linspace(foot, stem[0], max(int(size), 2))[:-1]
    return [np.concatenate([flag, stem])]
