"""Splitting a written number into the pieces that may be digits.

An ink map (``app.preprocessing.ink_map``) is reduced to an analysis grid and its strokes labelled as
8-connected components (run-length union-find). Small pieces join the nearest stroke (the dot-like
gaps of pen strokes); a stroke much wider than the line is tall may be digits that touch, and is cut
into slices at the thinnest columns of its ink.

The result is a left-to-right list of *atoms*. Which neighbouring atoms make one digit (the two
strokes of a 4, the flag of a 5, a 7's crossbar, the slices of touching digits) is decided by the
network (:mod:`app.number_reader`), not here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .preprocessing import BOX_LEVEL

ANALYSIS_SIDE = 256  # the ink is max-pooled so its longer side is at most this many cells
INK_LEVEL = BOX_LEVEL  # a cell holds ink when its strongest pixel reaches this (0..1)
SPECK = 0.35  # a component smaller than this share of the line height is a piece, not a digit
WIDE = 0.8  # a stroke wider than this many line heights may be several digits touching
MAX_CUTS = 3  # candidate cuts tried per wide group


@dataclass(frozen=True)
class Atom:
    """A piece of the number: its cells in the analysis grid and its box there (end-exclusive)."""

    mask: np.ndarray  # (y1 - y0, x1 - x0) bool: this atom's cells inside its box
    x0: int
    y0: int
    x1: int
    y1: int


def max_pool(ink: np.ndarray, factor: int) -> np.ndarray:
    """``(H, W)`` -> ``(ceil(H/f), ceil(W/f))``: the strongest ink of each ``f x f`` block."""
    if factor == 1:
        return ink
    h, w = ink.shape
    padded = np.pad(ink, ((0, -h % factor), (0, -w % factor)))
    blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
    pooled: np.ndarray = blocks.max(axis=(1, 3))
    return pooled


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a ``(H, W)`` bool mask: ``(H, W)`` int32 labels (0 = background,
    1..n) and n. Runs of each row are found at once; runs of consecutive rows are joined by union-find."""
    h, w = mask.shape
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    rs, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # end-exclusive; same row-major order as the starts
    parent = list(range(len(rs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    row_first = np.searchsorted(rs, np.arange(h + 1))
    for r in range(h - 1):
        a, a_end = int(row_first[r]), int(row_first[r + 1])
        b, b_end = a_end, int(row_first[r + 2])
        while a < a_end and b < b_end:
            if starts[a] <= ends[b] and starts[b] <= ends[a]:  # touching, diagonals included
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
            if ends[a] < ends[b]:
                a += 1
            else:
                b += 1
    roots = np.array([find(i) for i in range(len(rs))], np.int64)
    _, ids = np.unique(roots, return_inverse=True)
    labels = np.zeros((h, w), np.int32)
    lengths = ends - starts
    first = np.repeat(rs * w + starts - np.cumsum(lengths) + lengths, lengths)  # each run's flat start...
    labels.flat[first + np.arange(int(lengths.sum()))] = np.repeat(ids.astype(np.int32) + 1, lengths)  # ...+ offset
    return labels, int(ids.max()) + 1 if len(ids) else 0


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


def merge_specks(box: np.ndarray, line: float) -> list[list[int]]:
    """Components as groups: each piece smaller than ``SPECK`` line heights joins the nearest other
    component if it is within 0.3 line heights (the dot-like gaps of pen strokes); the rest stand alone."""
    n = len(box)
    widths, heights = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
    small = {i for i in range(n) if max(widths[i], heights[i]) < SPECK * line}
    owner = list(range(n))
    for i in sorted(small, key=lambda i: -int(box[i, 4])):
        best, dist = -1, math.inf
        for j in range(n):
            if j == i:
                continue
            dx = max(box[j, 0] - box[i, 2], box[i, 0] - box[j, 2], 0)
            dy = max(box[j, 1] - box[i, 3], box[i, 1] - box[j, 3], 0)
            d = math.hypot(dx, dy) + (0.5 if j in small else 0)  # prefer real strokes
            if d < dist:
                best, dist = j, d
        if best >= 0 and dist < 0.3 * line:
            owner[i] = best
    def root(i: int) -> int:
        seen = set()
        while owner[i] != i and i not in seen:
            seen.add(i)
            i = owner[i]
        return i
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def cut_columns(mask: np.ndarray, line: float) -> list[int]:
    """Candidate cuts of a ``(h, w)`` group mask wider than ``WIDE`` line heights: the columns with the
    least ink, at least a third of a line height from the edges and from each other."""
    w = mask.shape[1]
    margin = max(int(line / 3), 1)
    if w <= WIDE * line or w <= 2 * margin:
        return []
    profile = mask.sum(axis=0).astype(np.float64)
    chosen: list[int] = []
    for c in np.argsort(profile[margin : w - margin], kind="stable") + margin:
        if all(abs(int(c) - k) >= margin for k in chosen):
            chosen.append(int(c))
        if len(chosen) >= min(MAX_CUTS, max(int(w / (0.5 * line)) - 1, 1)):
            break
    return sorted(chosen)


def atoms(ink: np.ndarray) -> tuple[list[Atom], int, float]:
    """Normalized ``(H, W)`` ink in ``[0, 1]`` -> atoms sorted by their centre, left to right, the
    analysis ``factor`` (one cell is ``factor x factor`` ink pixels) and the line height in cells.

    An atom is a stroke (a connected component, with the specks that belong to it), or a column slice
    of a stroke wider than ``WIDE`` line heights (digits that touch)."""
    factor = max(1, math.ceil(max(ink.shape) / ANALYSIS_SIDE))
    mask = max_pool(ink, factor) >= INK_LEVEL
    labels, n = label_components(mask)
    if n == 0:
        return [], factor, 1.0
    box = _boxes(labels, n)
    heights = box[:, 3] - box[:, 1]
    line = float(np.median(heights[heights >= 0.5 * heights.max()]))
    out: list[Atom] = []
    for g in merge_specks(box, line):
        x0, y0 = int(box[g, 0].min()), int(box[g, 1].min())
        x1, y1 = int(box[g, 2].max()), int(box[g, 3].max())
        sub = np.isin(labels[y0:y1, x0:x1], np.asarray(g) + 1)
        edges = [0, *cut_columns(sub, line), x1 - x0]
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            piece = sub[:, a:b]
            rows = np.flatnonzero(piece.any(axis=1))
            if rows.size:
                top, bottom = int(rows[0]), int(rows[-1]) + 1
                out.append(Atom(piece[top:bottom], x0 + a, y0 + top, x0 + b, y0 + bottom))
    out.sort(key=lambda a: a.x0 + a.x1)
    return out, factor, line
