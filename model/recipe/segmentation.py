"""Splitting a written number into the pieces that may be digits.

An ink map (``model.recipe.ink.ink_map``) is reduced to an analysis grid and its strokes labelled as
8-connected components (run-length union-find). Small pieces join the nearest stroke (the dot-like
gaps of pen strokes); a stroke much wider than the line is tall may be digits that touch, and is cut
into slices at the thinnest columns of its ink.

The result is a left-to-right list of *atoms*. Which neighbouring atoms make one digit (the two
strokes of a 4, the flag of a 5, a 7's crossbar, the slices of touching digits) is decided by the
network (:mod:`model.recipe.number_reader`), not here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import TooManyPartsError
from .fit import BOX_LEVEL, pad_zeros
from .specks import counting, merge_specks

ANALYSIS_SIDE = 256  # the ink is max-pooled so its longer side is at most this many cells
INK_LEVEL = BOX_LEVEL  # a cell holds ink when its strongest pixel reaches this (0..1)
WIDE = 0.6  # a stroke wider than this many line heights may be several digits touching
FINE_WIDE = 1.0  # a stroke wider than this many line heights is likely several digits: cut finely
MAX_COMPONENTS = 4096  # separate marks in the analysis grid: more is a 422 (a number is a few strokes)
FLAT = 0.5  # a stroke less tall than this many line heights (a 5's flag, a 7's bar) is never cut
# How a stroke wider than WIDE is cut, by its width: (wider than this many line heights, cuts per line
# height of width, line heights between cuts and from the edges), widest first. A stroke that may be
# one digit is cut coarsely (finer cuts split wide digits, a 0 read as "17"), but as close as 1/8 line
# height to its edges (a 1 touching the next digit is that narrow); one wider than a digit finely, so
# that each slice stays within one digit even where touching digits overlap.
Cuts = tuple[tuple[float, int, float], ...]
CUTS: Cuts = ((FINE_WIDE, 6, 1 / 8), (0.8, 4, 1 / 8), (WIDE, 3, 1 / 8))
# The second reading of a number with a part refused beside read digits (``model.recipe.number_reader``): the
# strokes of that part cut finely from 0.3 line heights wide, so that a 1 pressed against its neighbour
# comes apart.
RECUTS: Cuts = ((0.3, 8, 1 / 10),)


@dataclass(frozen=True)
class Atom:
    """A piece of the number: its cells in the analysis grid and its box there (end-exclusive)."""

    mask: np.ndarray  # (y1 - y0, x1 - x0) bool: this atom's cells inside its box
    x0: int
    y0: int
    x1: int
    y1: int
    stroke: int = 0  # atoms cut from one stroke share this number


def max_pool(ink: np.ndarray, factor: int) -> np.ndarray:
    """``(H, W)`` -> ``(ceil(H/f), ceil(W/f))``: the strongest ink of each ``f x f`` block."""
    if factor == 1:
        return ink
    h, w = ink.shape
    padded = np.pad(ink, ((0, -h % factor), (0, -w % factor)))
    rows = padded[0::factor].copy()  # strided maxima: far faster than a max over reshaped axes
    for k in range(1, factor):
        np.maximum(rows, padded[k::factor], out=rows)
    pooled: np.ndarray = rows[:, 0::factor].copy()
    for k in range(1, factor):
        np.maximum(pooled, rows[:, k::factor], out=pooled)
    return pooled


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a ``(H, W)`` bool mask: ``(H, W)`` int32 labels (0 = background,
    1..n, numbered in the raster order of their first cell) and n. The runs of each row are found at
    once, the runs of consecutive rows that touch are paired at once, and the pairs are joined by
    hooking and pointer jumping in whole-array steps: no Python loop over runs (a checkerboard has
    one run per two cells)."""
    h, w = mask.shape
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    rs, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # end-exclusive; same row-major order as the starts
    root = _join(_touching_runs(rs, starts, ends, w), len(rs))
    _, ids = np.unique(root, return_inverse=True)
    labels = np.zeros((h, w), np.int32)
    lengths = ends - starts
    first = np.repeat(rs * w + starts - np.cumsum(lengths) + lengths, lengths)  # each run's flat start...
    labels.flat[first + np.arange(int(lengths.sum()))] = np.repeat(ids.astype(np.int32) + 1, lengths)  # ...+ offset
    return labels, int(ids.max()) + 1 if len(ids) else 0


def _touching_runs(rs: np.ndarray, starts: np.ndarray, ends: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)``: every run ``a`` with every run ``b`` of the next row that touches it, diagonals
    included (runs in row-major order, ``ends`` exclusive). In a row, the runs touching ``a`` are
    those from the first ending at or after its start to the last starting at or before its end."""
    span = w + 2  # row r's keys lie in [r * span, (r + 1) * span)
    below = (rs + 1) * span
    lo = np.searchsorted(rs * span + ends, below + starts, "left")
    hi = np.searchsorted(rs * span + starts, below + ends, "right")
    count = np.maximum(hi - lo, 0)
    a = np.repeat(np.arange(len(rs)), count)
    return a, np.repeat(lo, count) + counting(count)


def _join(pairs: tuple[np.ndarray, np.ndarray], n: int) -> np.ndarray:
    """The smallest index of each item's group, for ``n`` items joined by ``pairs``: each round every
    tree root hooks under the smallest root it is paired with, then paths are halved to their roots."""
    a, b = pairs
    root = np.arange(n)
    while True:
        ra, rb = root[a], root[b]
        apart = ra != rb
        if not apart.any():
            return root
        ra, rb = ra[apart], rb[apart]
        low = np.minimum(ra, rb)
        np.minimum.at(root, ra, low)
        np.minimum.at(root, rb, low)
        while True:  # pointer jumping: every item points at its root
            up = root[root]
            if (up == root).all():
                break
            root = up


def _boxes(labels: np.ndarray, n: int) -> np.ndarray:
    """``(n, 5)`` int: ``x0, y0, x1, y1, cells`` of components 1..n (end-exclusive)."""
    ys, xs = np.nonzero(labels)
    ids = labels[ys, xs] - 1
    box = np.empty((n, 5), np.int64)
    box[:, 0] = np.full(n, labels.shape[1])
    box[:, 1] = np.full(n, labels.shape[0])
    box[:, 2:4] = 0
    np.minimum.at(box[:, 0], ids, xs)
    np.minimum.at(box[:, 1], ids, ys)
    np.maximum.at(box[:, 2], ids, xs + 1)
    np.maximum.at(box[:, 3], ids, ys + 1)
    box[:, 4] = np.bincount(ids, minlength=n)
    return box


def cut_columns(mask: np.ndarray, line: float, cuts: Cuts | None = None) -> list[int]:
    """Candidate cuts of a ``(h, w)`` stroke mask wide enough to be digits that touch (wider than the
    last row of ``cuts``, by default ``CUTS``): the local minima of its ink per column, thinnest first,
    at least a set share of the line height from the edges and from each other, a set number per line
    height of width (both from the row of ``cuts`` for the stroke's width). The reader joins the slices
    back into digits. None for a stroke less tall than ``FLAT`` line heights: digits that touch are as
    tall as the line, and a 5's long flag cut into slices could no longer be joined back whole."""
    h, w = mask.shape
    row = next(((p, s) for above, p, s in (CUTS if cuts is None else cuts) if w > above * line), None)
    if row is None or h < FLAT * line:
        return []
    per, spacing = row
    margin = max(int(line * spacing), 1)
    if w <= 2 * margin:
        return []
    profile = mask.sum(axis=0).astype(np.float64)
    smooth = np.convolve(np.pad(profile, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    inner = np.arange(margin, w - margin)
    left, right = smooth[inner - 1], smooth[np.minimum(inner + 1, w - 1)]
    minima = inner[(smooth[inner] <= left) & (smooth[inner] <= right)]
    wanted = max(int(w / line * per) - 1, 1)
    chosen: list[int] = []
    for c in minima[np.argsort(smooth[minima], kind="stable")]:
        if all(abs(int(c) - k) >= margin for k in chosen):
            chosen.append(int(c))
        if len(chosen) >= wanted:
            break
    return sorted(chosen)


def _erode(mask: np.ndarray) -> np.ndarray:
    """Binary erosion of ``(h, w)`` by a 3x3 cross (outside the mask counts as empty)."""
    p = pad_zeros(mask, 1)
    out: np.ndarray = mask & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return out


def split_at_necks(mask: np.ndarray, line: float, max_erosions: int = 3) -> list[np.ndarray]:
    """Touching digits joined by a thin neck: erode the ``(h, w)`` stroke until it falls apart into
    pieces at least ``0.4`` line heights tall, then grow each piece back over the stroke's cells (each
    cell goes to the piece that reaches it first). Returns the pieces' masks (same shape, disjoint),
    or ``[mask]`` when no neck is found. Unlike a vertical cut, the split follows the ink."""
    eroded = mask
    for _ in range(max_erosions):
        eroded = _erode(eroded)
        labels, n = label_components(eroded)
        if n < 2:
            continue
        box = _boxes(labels, n)
        tall = [i for i in range(n) if box[i, 3] - box[i, 1] >= 0.4 * line]
        if len(tall) < 2:
            continue
        grown = np.where(np.isin(labels, np.asarray(tall) + 1), labels, 0)
        while True:  # geodesic growth inside the stroke, one cell ring at a time
            p = pad_zeros(grown, 1)
            reach = np.maximum.reduce([p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]])
            fill = mask & (grown == 0) & (reach > 0)
            if not fill.any():
                break
            grown[fill] = reach[fill]
        return [grown == i + 1 for i in tall]
    return [mask]


def atoms(ink: np.ndarray, recut: frozenset[int] = frozenset()) -> tuple[list[Atom], int, float]:
    """Normalized ``(H, W)`` ink in ``[0, 1]`` -> atoms sorted by their centre, left to right, the
    analysis ``factor`` (one cell is ``factor x factor`` ink pixels) and the line height in cells.

    An atom is a stroke (a connected component, with the specks that belong to it), or, for a stroke
    wide enough to be digits that touch (by ``CUTS``; the strokes numbered in ``recut`` by ``RECUTS``),
    a column slice of it, after pieces are split off at thin necks from a stroke wider than
    ``FINE_WIDE`` (narrower, the necks found no more digits and cost a millisecond a number). Strokes
    are numbered in the order of :func:`merge_specks`, the same for the same ink.

    Raises :class:`TooManyPartsError` past ``MAX_COMPONENTS`` components, before any work that grows
    with their number."""
    factor = max(1, math.ceil(max(ink.shape) / ANALYSIS_SIDE))
    mask = max_pool(ink, factor) >= INK_LEVEL
    labels, n = label_components(mask)
    if n == 0:
        return [], factor, 1.0
    if n > MAX_COMPONENTS:
        raise TooManyPartsError(
            f"the image holds {n} separate marks; at most {MAX_COMPONENTS} are looked at "
            "(send the number alone on plain paper, not a pattern or a noisy photo)"
        )
    box = _boxes(labels, n)
    heights = box[:, 3] - box[:, 1]
    line = float(np.median(heights[heights >= 0.5 * heights.max()]))
    out: list[Atom] = []
    for stroke, g in enumerate(merge_specks(box, line)):
        x0, y0 = int(box[g, 0].min()), int(box[g, 1].min())
        x1, y1 = int(box[g, 2].max()), int(box[g, 3].max())
        sub = np.isin(labels[y0:y1, x0:x1], np.asarray(g) + 1)
        pieces = split_at_necks(sub, line) if sub.shape[1] > FINE_WIDE * line else [sub]
        cuts = RECUTS if stroke in recut else None
        for piece in pieces:
            cols = np.flatnonzero(piece.any(axis=0))
            edges = [0, *cut_columns(piece[:, cols[0] : cols[-1] + 1], line, cuts), cols[-1] + 1 - cols[0]]
            for a, b in zip(edges[:-1], edges[1:], strict=True):
                out += _atom(piece[:, cols[0] + a : cols[0] + b], x0 + int(cols[0]) + a, y0, stroke)
    out.sort(key=lambda a: a.x0 + a.x1)
    return out, factor, line


def _atom(cells: np.ndarray, x0: int, y0: int, stroke: int) -> list[Atom]:
    """The atom of ``cells`` placed at column ``x0``, row ``y0``, trimmed to its rows (none if empty)."""
    rows = np.flatnonzero(cells.any(axis=1))
    if not rows.size:
        return []
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    return [Atom(cells[top:bottom], x0, y0 + top, x0 + cells.shape[1], y0 + bottom, stroke)]
