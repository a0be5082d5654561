"""A form's printed lines taken out of the ink before the crop: box borders, table lines, a frame.

A digit written in a form's box reaches the service with the box's lines around it; counted as ink,
they set the crop, and the digit arrives at half its size inside a frame. Length alone cannot tell a
ruling from a digit's own strokes: the bar of a 7 and the stem of a 1 or a 4 are as long and as
straight, relative to their ink, as a box's side. What a digit never draws is a *frame* (two
parallel lines with the rest of the ink between them, :mod:`.frames`); it goes with its sides and,
in the same rows or columns, what continues its lines (a neighbour's edge beyond a gap), and the
lines outside it printed like its pair (the near sides of boxes set apart). A 1 outside the box,
as tall as its sides within a rim and as thin as its lines, goes with them: a known limit. Two lesser
forms of the same relation count too: a comb (a base line with teeth standing on it, the ink between
two teeth of like length; or only its teeth, on the image's edge, when the crop cut its base off)
and an underline (under the ink, apart from it, past it at both ends or off the image at one; never
over it, where a 7's bar drawn apart would be). Strokes that cross or touch
a ruling are kept where they meet it (:mod:`.erase`); an image without any of these is returned as
it came, the same array (a plain digit is never touched).

Lines are runs of the ink mask, rows then columns (none across: no ruling); pairs are judged from ink
counts per column (prefix sums): a few passes over the pixels, plus pairs times the image's side."""

from __future__ import annotations

from typing import Final

import numpy as np

from .corners import corners
from .erase import erase
from .frames import LONG, OUTSIDE, count, frames, inside
from .lines import RIM, Line, lines

LEVEL: Final = 0.3  # the crop's level (0..1): without ink this strong left, nothing is removed
FAINT: Final = 0.1  # ink at least this strong (0..1) may be a ruling's: printed lines may be pale
THIN: Final = 0.08  # a ruling is at most this share of the ink box across it thick
MAX_BASES: Final = 3  # lines across the whole ink considered as a comb's base or an underline
EDGE: Final = 0.9  # a comb's base spans at least this share of the ink box's width
TOOTH: Final = 0.2  # a comb's teeth are at least this share of the ink box's height long
SAME: Final = 1.35  # and the two around the ink at most this many times as long as each other
MARGIN: Final = 0.15  # an underline reaches past the ink above it by this share of its height, each end
RISE: Final = 0.15  # the ink between a cut comb's teeth rises past them by this share of its height
SHORT: Final = 0.75  # and a cut comb's teeth are at most this share of that ink's height long (forms: 0.35-0.75)
EVEN: Final = 0.05  # and as long as each other within this share (or 2 px): one straight edge cut them
APART: Final = 2  # rows of paper at least between an underline and the ink above it (beyond its rim)


def remove_rulings(ink: np.ndarray) -> np.ndarray:
    """``(H, W)`` float32 ink in ``[0, 1]`` -> the same ink with the rulings found set to 0; ``ink``
    itself (not a copy) when there are none, or when no ink as strong as ``LEVEL`` would be left."""
    mask = ink >= FAINT
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size < 3 or cols.size < 3:
        return ink
    across, down = rulings(mask, int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1))
    if not across and not down:
        return ink
    out = erase(ink, mask, across, down)
    return out if bool((out >= LEVEL).any()) else ink


def rulings(mask: np.ndarray, height: int, width: int) -> tuple[list[Line], list[Line]]:
    """The horizontal and the vertical rulings of a ``(H, W)`` ink mask whose ink box is ``height`` x
    ``width``: frames' lines and sides, combs' bases and teeth, underlines. A frame's lines, its sides
    and underlines along the whole image (what continues them goes too)."""
    long = LONG * min(height, width)  # a row of boxes: each box's own lines, not the row's width
    across = lines(mask, long, int(THIN * height))
    cut = [tooth for teeth in cut_combs(mask, height) for tooth in teeth]
    if not across:  # every other ruling has a horizontal line: a frame's pair or its sides, a comb's base
        return [], sorted(set(cut))
    turned = np.ascontiguousarray(mask.T)  # the columns as rows, in memory order
    down = lines(turned, long, int(THIN * width))
    h_rules, v_sides = frames(mask, across, down, height)
    v_rules, h_sides = frames(turned, down, across, width)
    h_all = {_whole(r, mask.shape[1]) for r in h_rules + h_sides}
    v_all = {_whole(r, mask.shape[0]) for r in v_rules + v_sides}
    bases = [r for r in across if r.b - r.a >= EDGE * width][:MAX_BASES]
    for base, teeth in combs(mask, bases, height):
        h_all.add(_whole(base, mask.shape[1]))
        v_all.update(teeth)
    for base, teeth in underlines(mask, bases, height):
        h_all.add(_whole(base, mask.shape[1]))
        v_all.update(teeth)
    v_all.update(cut)
    if not h_all and not v_all:
        for h, v in corners(mask, across, down):
            h_all.add(h)
            v_all.add(v)
    return sorted(h_all), sorted(v_all)


def _whole(line: Line, length: int) -> Line:
    """``line`` along the whole image (``length`` pixels): its continuations go with it."""
    return line._replace(a=0, b=length)


def combs(mask: np.ndarray, bases: list[Line], height: int) -> list[tuple[Line, list[Line]]]:
    """Combs: a horizontal line (of ``bases``) with thin teeth standing on it, up or down. Returns each
    comb's base and teeth (lines of ``mask.T``: columns across, the rows they span along)."""
    found = []
    for base in bases:
        for up in (True, False):
            teeth = _comb(mask, base, up, height)
            if teeth:
                found.append((base, teeth))
    return found


def _comb(mask: np.ndarray, base: Line, up: bool, height: int) -> list[Line]:
    """The teeth of the comb ``base`` makes with the strokes standing on it (upward or downward), or
    none: a comb has ink between two teeth of like length, short of them, and little on its other
    side."""
    teeth = _teeth(mask, base, up, height)
    if len(teeth) < 2:
        return []
    inner = mask[: max(base.p0 - RIM, 0)] if up else mask[base.p1 + RIM :]
    per_column: np.ndarray = inner.sum(axis=0)
    sides, extent = inside(per_column > 0, teeth, base.p1 - base.p0 + 1, (base.a, base.b))
    if extent is None:
        return []
    left = [t for t in sides if t.p1 <= extent[0]]
    right = [t for t in sides if t.p0 >= extent[1]]
    if not left or not right:
        return []
    lengths = sorted(t.b - t.a for t in (max(left), min(right)))
    outer = mask[base.p1 + RIM :] if up else mask[: max(base.p0 - RIM, 0)]
    if lengths[1] > SAME * lengths[0] or np.count_nonzero(outer) > OUTSIDE * count(per_column, sides):
        return []
    return sides


def cut_combs(mask: np.ndarray, height: int) -> list[list[Line]]:
    """The teeth of combs whose base the image's bottom (or top) edge has cut off: a row of boxes
    cropped just short of its line. They are a comb's (:func:`_comb`) standing on the edge, and with
    no base to show they are printed, they must look it (:func:`_printed_teeth`). ``height``: the ink
    box's."""
    found = []
    rows, width = mask.shape
    thick = max(int(THIN * height), 1)  # the base is not seen: its teeth may be as thick as a ruling
    for up, edge in ((True, rows - 1), (False, 0)):
        if not mask[edge].any():
            continue
        base = Line(rows, rows + thick, 0, width) if up else Line(-thick, 0, 0, width)
        teeth = _printed_teeth(mask, _comb(mask, base, up, height), up)
        if teeth:
            found.append(teeth)
    return found


def _printed_teeth(mask: np.ndarray, teeth: list[Line], up: bool) -> list[Line]:
    """Those of ``teeth`` (columns ``p0..p1``, rows ``a..b``) on the image's edge that are a cut comb's,
    not a digit's own strokes; none unless they look printed. They are the teeth no other ink touches,
    two or more either side of that ink, as long as each other within ``EVEN`` (one straight edge cut
    them), at most ``SHORT`` of the ink's height, and the ink rises past them by ``RISE`` of it. A
    digit's strokes that reach the edge touch the rest of it (the two sides of a 0 cut by the edge
    meet in its arc), and a number's 1s either side of a 0, cropped tight, are as tall as the 0."""
    near, other = RIM + 2, _off(mask, teeth)
    printed = [t for t in teeth if not other[t.a : t.b, max(t.p0 - near, 0) : t.p1 + near].any()]
    if len(printed) < 2:
        return []
    other = _off(mask, printed)
    rows, cols = np.flatnonzero(other.any(axis=1)), np.flatnonzero(other.any(axis=0))
    if not rows.size or not min(t.p1 for t in printed) <= cols[0] < cols[-1] < max(t.p0 for t in printed):
        return []
    lengths = [t.b - t.a for t in printed]
    tall = int(rows[-1]) - int(rows[0]) + 1
    rise = min(t.a for t in printed) - int(rows[0]) if up else int(rows[-1]) + 1 - max(t.b for t in printed)
    even = max(lengths) - min(lengths) <= max(2, EVEN * max(lengths))
    return printed if even and max(lengths) <= SHORT * tall and rise >= RISE * tall else []


def _off(mask: np.ndarray, teeth: list[Line]) -> np.ndarray:
    """A copy of ``mask`` without the columns of ``teeth`` (``RIM`` wider)."""
    other = mask.copy()
    for t in teeth:
        other[:, max(t.p0 - RIM, 0) : t.p1 + RIM] = False
    return other


def underlines(mask: np.ndarray, bases: list[Line], height: int) -> list[tuple[Line, list[Line]]]:
    """The lines of ``bases`` under the other ink: ``APART`` from it, past it at both ends by ``MARGIN``
    of its height (or at one end, by its own width, when it runs off the image there: a form cut
    close), with little ink below them; with the teeth standing on them beside that ink (a comb cut
    to one tooth). Only under: a line over the ink, apart from it, may be a 7's bar drawn in a
    stroke of its own. Returns each line with its teeth."""
    found = []
    for base in bases:
        gap = base.p1 - base.p0 + RIM
        above = mask[: max(base.p0 - RIM - APART, 0)]
        between = np.count_nonzero(mask[max(base.p0 - RIM - APART, 0) : max(base.p0 - RIM, 0)], axis=0)
        teeth = _teeth(mask, base, True, height)
        sides, extent = inside(np.count_nonzero(above, axis=0) + between > 0, teeth, 0, (0, 0))
        if extent is None or count(between, sides):
            continue
        rows = np.flatnonzero(above.any(axis=1))
        margin = max(gap, MARGIN * (int(rows[-1]) - int(rows[0]) + 1)) if rows.size else gap
        below = np.count_nonzero(mask[base.p1 + RIM :])
        ends = (extent[0] - base.a, base.b - extent[1])
        off = (base.a <= RIM, base.b >= mask.shape[1] - RIM)  # the line runs off the image there
        past = any(ends[k] >= (gap if off[k] else margin) and ends[1 - k] >= margin for k in (0, 1))
        if past and below <= OUTSIDE * np.count_nonzero(above):
            found.append((base, sides))
    return found


def _teeth(mask: np.ndarray, base: Line, up: bool, height: int) -> list[Line]:
    """Thin straight strokes standing on ``base`` (upward or downward from it), at least ``TOOTH``
    of ``height`` (the ink box's) long and no thicker than the base: as lines of ``mask.T`` (columns
    across, the rows they span along)."""
    start = base.p0 - 1 if up else base.p1
    if start < 0 or start >= mask.shape[0]:
        return []
    region = mask[start::-1] if up else mask[start:]
    region = region[:, base.a : base.b]
    closed = np.concatenate([region, np.zeros((1, region.shape[1]), bool)])
    runs = np.argmin(closed, axis=0)  # pixels of ink from the base outward, per column
    tall = runs >= TOOTH * height
    edges = np.diff(np.concatenate([[0], tall.astype(np.int8), [0]]))
    firsts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    teeth = []
    for c0, c1 in zip(firsts, ends, strict=True):
        if c1 - c0 > base.p1 - base.p0 + RIM:
            continue
        length = int(runs[c0:c1].max())
        a, b = (start - length + 1, start + 1) if up else (start, start + length)
        teeth.append(Line(base.a + int(c0), base.a + int(c1), a, b))
    return teeth
