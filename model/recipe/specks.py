"""Small pieces of ink joined to the stroke they belong to (the dot-like gaps of pen strokes).

Components are given by their boxes in the analysis grid of :mod:`model.recipe.segmentation`. Each
piece looks only at the components near it (a grid of squares, searched in widening rings), so the
cost grows with the number of pieces and their near neighbours, never with all pairs: a canvas of
thousands of dots costs about as much as it has dots.
"""

from __future__ import annotations

import math

import numpy as np

SPECK = 0.35  # a component smaller than this share of the line height is a piece, not a digit
REACH = 0.3  # a speck joins the nearest component at most this many line heights away


def merge_specks(box: np.ndarray, line: float) -> list[list[int]]:
    """Components as groups: each piece smaller than ``SPECK`` line heights joins the nearest other
    component (nearest box edge; a piece counts half a cell farther than a stroke, and the lowest index
    wins a tie) if it is within ``REACH`` line heights (the dot-like gaps of pen strokes); the rest
    stand alone. ``box`` is ``(n, >=4)`` int ``x0, y0, x1, y1`` (end-exclusive), in cells.

    The boxes are filed in a grid of squares about as wide as the components' average spacing; the
    pieces look at the squares around their own, in rings twice as wide each round, until what each
    found is nearer than anything outside its rings (or nothing outside can be within reach). The
    cost grows with the number of pieces times their near neighbours, not with all pairs."""
    n = len(box)
    small = np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]) < SPECK * line
    reach = REACH * line
    spacing = math.sqrt(int(box[:, 2].max()) * int(box[:, 3].max()) / n)
    grid = _Grid(box, max(1, min(math.ceil(reach), round(spacing))))
    owner = np.arange(n)
    todo, ring = np.flatnonzero(small), 1
    while todo.size:
        nearest, dist = _nearest(box, small, todo, grid.pairs(todo, ring))
        last = ring * grid.cell >= reach  # nothing outside these rings can be within reach
        done = last | (dist < ring * grid.cell)  # nothing outside is as near as what was found
        join = done & (dist < reach)
        owner[todo[join]] = nearest[join]
        todo, ring = todo[~done], ring * 2
    return _groups(owner.tolist())


def _nearest(
    box: np.ndarray, small: np.ndarray, who: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """For each component of ``who`` (sorted), the nearest of its candidates (``pairs``: ``(i, j)``
    arrays, sorted by ``i`` then ``j``, no repeats) and its distance: the gap between the boxes, in
    cells, and half a cell more for a piece (so that a speck prefers a stroke); ``inf`` without any."""
    i, j = pairs
    dx = np.maximum(np.maximum(box[j, 0] - box[i, 2], box[i, 0] - box[j, 2]), 0)
    dy = np.maximum(np.maximum(box[j, 1] - box[i, 3], box[i, 1] - box[j, 3]), 0)
    d = np.sqrt((dx * dx + dy * dy).astype(np.float64)) + np.where(small[j], 0.5, 0.0)
    order = np.lexsort((j, d, i))  # by component, then distance, then the lowest index first
    firsts = order[np.r_[True, i[order][1:] != i[order][:-1]]] if i.size else order
    nearest, dist = np.full(len(who), -1), np.full(len(who), np.inf)
    at = np.searchsorted(who, i[firsts])
    nearest[at], dist[at] = j[firsts], d[firsts]
    return nearest, dist


def _groups(owner: list[int]) -> list[list[int]]:
    """Components grouped by where following ``owner`` ends: a component that owns itself, or the first
    component met twice (two specks nearest to each other each head their own group)."""
    root = [-1] * len(owner)
    for start in range(len(owner)):
        path: list[int] = []
        on_path: dict[int, int] = {}
        i = start
        while root[i] < 0 and owner[i] != i and i not in on_path:
            on_path[i] = len(path)
            path.append(i)
            i = owner[i]
        if root[i] >= 0:
            end = root[i]
        elif i in on_path:  # a loop: each component on it heads its own group, those before it join i
            for k in path[on_path[i] :]:
                root[k] = k
            path, end = path[: on_path[i]], i
        else:
            end = root[i] = i
        for k in path:
            root[k] = end
    groups: dict[int, list[int]] = {}
    for i, r in enumerate(root):
        groups.setdefault(r, []).append(i)
    return list(groups.values())


class _Grid:
    """Boxes ``(n, >=4)`` ``x0, y0, x1, y1`` filed under every ``cell x cell`` square they overlap."""

    def __init__(self, box: np.ndarray, cell: int) -> None:
        self.cell = cell
        self.lo = box[:, :2] // cell  # (n, 2) first column and row of squares
        self.hi = (box[:, 2:4] - 1) // cell  # (n, 2) last column and row, inclusive
        self.cols, self.rows = (int(v) + 1 for v in self.hi.max(axis=0))
        w, h = (self.hi - self.lo + 1).T
        count = w * h
        owner = np.repeat(np.arange(len(box)), count)
        k = counting(count)
        key = (self.lo[owner, 1] + k // w[owner]) * self.cols + self.lo[owner, 0] + k % w[owner]
        order = np.argsort(key, kind="stable")
        self.members = owner[order]
        self.first = np.searchsorted(key[order], np.arange(self.rows * self.cols + 1))

    def pairs(self, who: np.ndarray, ring: int) -> tuple[np.ndarray, np.ndarray]:
        """``(i, j)``: each box ``i`` of ``who`` (sorted) with every other box ``j`` in its squares and the
        ``ring`` squares around them, sorted by ``i`` then ``j``, without repeats."""
        c0, r0 = (np.maximum(v - ring, 0) for v in self.lo[who].T)
        c1, r1 = np.minimum(self.hi[who, 0] + ring, self.cols - 1), np.minimum(self.hi[who, 1] + ring, self.rows - 1)
        spans = r1 - r0 + 1
        box = np.repeat(who, spans)  # one entry per (box, row of squares)
        row = np.repeat(r0, spans) + counting(spans)
        start = self.first[row * self.cols + np.repeat(c0, spans)]
        count = self.first[row * self.cols + np.repeat(c1, spans) + 1] - start
        i = np.repeat(box, count)
        j = self.members[np.repeat(start, count) + counting(count)]
        keys = np.unique(i * len(self.lo) + j)
        i, j = keys // len(self.lo), keys % len(self.lo)
        return i[i != j], j[i != j]


def counting(count: np.ndarray) -> np.ndarray:
    """``0..count[0]-1, 0..count[1]-1, ...`` as one array (``count`` non-negative ints)."""
    out: np.ndarray = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    return out
