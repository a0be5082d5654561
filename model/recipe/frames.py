"""A frame: two parallel lines of a form with a digit between them, the first of :mod:`.rulings`' forms.

What a digit never draws is a frame: two parallel lines, thin, straight and long, with the rest of
the ink between them and short of their ends on both sides. Such a pair goes, with the lines across
the gap between them that lie beside that ink (a box's sides, the neighbouring boxes' edges), and
the lines outside it parallel to the pair and printed like it (the near sides of boxes set apart). A
box's side that the digit touches, or writes over, is still a side when the opposite side stands
clear of the ink or lies outside the image (a box cut by the image's edge, its pair running off it
there): a digit written into a corner of its box, not a square 8. Pairs are judged from ink counts
per column (prefix sums over the rows that bound the lines), so each costs the image's side.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from .lines import RIM, Line

LONG: Final = 0.6  # a ruling spans at least this share of the ink box's shorter side (a box is square-ish)
GAP: Final = 0.25  # the two lines of a frame are at least this share of the ink box across them apart
OUTSIDE: Final = 0.35  # ink off the lines outside the frame: at most this share of the ink inside it


def frames(mask: np.ndarray, lines_: list[Line], cross: list[Line], across: int) -> tuple[list[Line], list[Line]]:
    """The horizontal lines of ``mask`` that are one of a frame's pair, and the lines across them (of
    ``mask.T``, from ``cross``) that are its sides. ``across``: the ink box's height, pixels."""
    rules: set[Line] = set()
    sides: set[Line] = set()
    if len(lines_) < 2:
        return [], []
    height = mask.shape[0]
    above = _ink_above(mask, [r for line in lines_ for r in _bounds(line, height) + _bounds(line, height, RIM + 1)])
    for i, one in enumerate(lines_):
        for two in lines_[i + 1 :]:
            top, bottom = (one, two) if one.p0 < two.p0 else (two, one)
            found = frame(above, top, bottom, cross, across, lines_)
            if found is not None:
                rules.update((top, bottom, *_neighbours(top, bottom, lines_)))
                sides.update(found)
    return sorted(rules), sorted(sides)


def _neighbours(top: Line, bottom: Line, parallel: list[Line]) -> list[Line]:
    """The lines of ``parallel`` outside the frame ``top`` and ``bottom`` make and printed like both
    (:func:`_alike`): the near sides of the neighbouring boxes in a row of boxes set apart, which
    :func:`frame` already leaves out of the ink outside it."""
    printed = max(top.p1 - top.p0, bottom.p1 - bottom.p0)
    return [
        p
        for p in parallel
        if (p.p1 <= top.p0 or p.p0 >= bottom.p1) and _alike(p, top, printed) and _alike(p, bottom, printed)
    ]


def _bounds(line: Line, height: int, off: int = RIM) -> tuple[int, int]:
    """The rows ``off`` rows off ``line``'s band on either side, within ``0..height``."""
    return min(max(line.p0 - off, 0), height), min(max(line.p1 + off, 0), height)


def _ink_above(mask: np.ndarray, rows: list[int]) -> dict[int, np.ndarray]:
    """For each row index of ``rows`` (0..H), the ``(W,)`` ink per column above it: one pass over the
    mask, however many rows are asked for."""
    cuts = sorted({0, mask.shape[0], *rows})
    counts = np.add.reduceat(mask, cuts[:-1], axis=0, dtype=np.int32) if mask.shape[0] else mask[:0]
    prefix = np.zeros((len(cuts), mask.shape[1]), np.int32)
    np.cumsum(counts, axis=0, out=prefix[1:])
    return dict(zip(cuts, prefix, strict=True))


def frame(
    above: dict[int, np.ndarray], top: Line, bottom: Line, cross: list[Line], across: int, parallel: list[Line]
) -> list[Line] | None:
    """The sides of the frame ``top`` and ``bottom`` make (their lines across between them beside the
    other ink), or None when they make none: too close, too short together, no ink between them, ink
    reaching their ends, or much ink outside them but on ``parallel`` lines like the pair's (a
    neighbouring box's edge). ``above``: ink per column above the rows that bound the lines
    (:func:`_bounds`), ``parallel`` among them."""
    if bottom.p0 - top.p1 < max(GAP * across, 2 * RIM + 1):
        return None
    a, b = max(top.a, bottom.a), min(top.b, bottom.b)
    if b - a < LONG * min(top.b - top.a, bottom.b - bottom.a):
        return None
    printed = max(top.p1 - top.p0, bottom.p1 - bottom.p0)
    slack = printed + RIM
    bridges = [c for c in cross if c.a <= top.p1 + slack and c.b >= bottom.p0 - slack]
    end = max(above)
    (top_out, top_in), (bottom_in, bottom_out) = _bounds(top, end), _bounds(bottom, end)
    inner = above[bottom_in] - above[top_in]
    next_in = _bounds(top, end, RIM + 1)[1], _bounds(bottom, end, RIM + 1)[0]  # the rows just inside the pair
    joined = (above[next_in[0]] > above[top_in]) & (above[bottom_in] > above[next_in[1]])
    cut = _cut((a, b), inner > 0, bridges, joined)
    sides, extent = inside(inner > 0, bridges, printed + 1, (a, b), cut)
    if not bridges or extent is None or not _short_of_ends(extent, (a, b), cut):
        return None
    alike = [p for p in parallel if _alike(p, top, printed) and _alike(p, bottom, printed)]
    outer = above[top_out] + above[end] - above[bottom_out] - _on_lines(above, alike, (top_out, bottom_out))
    held = count(inner, sides)
    if held < 2 * slack * slack or count(outer, sides) > OUTSIDE * held:
        return None
    return sides


def _alike(line: Line, other: Line, printed: int) -> bool:
    """Whether ``line`` is printed like ``other``: as thin as ``printed`` (and a pixel), its span
    within ``RIM`` of the other's at both ends."""
    return line.p1 - line.p0 <= printed + 1 and abs(line.a - other.a) <= RIM + 1 and abs(line.b - other.b) <= RIM + 1


def _on_lines(above: dict[int, np.ndarray], lines_: list[Line], pair: tuple[int, int]) -> np.ndarray:
    """``(W,)`` ink per column in the bands of ``lines_`` (``RIM`` wider) outside the rows ``pair``
    (from the first row off a frame's top line to the first after its bottom one); ``above`` holds
    their bounds. Bands that overlap are counted once."""
    end = max(above)
    bands = sorted(b for b in (_bounds(line, end) for line in lines_) if b[1] <= pair[0] or b[0] >= pair[1])
    total = np.zeros_like(above[end])
    reach = 0
    for r0, r1 in bands:
        r0 = max(r0, reach)
        if r1 > r0:
            total += above[r1] - above[r0]
            reach = r1
    return total


def _cut(span: tuple[int, int], filled: np.ndarray, bridges: list[Line], joined: np.ndarray) -> tuple[bool, bool]:
    """Whether a pair of lines spanning ``span`` runs off the image (``filled``: ``(W,)`` whether a
    column holds ink between them) at its start and at its end, with no box's side there: a box cut
    by the image's edge on that side. At one end only: a pair running off both may be a digit's own
    bars, cropped to its ink (a square 3 or 9). A row of boxes runs off both; there the side of the
    box that holds the ink, untouched and with no ink beyond it, closes one end (:func:`_closed`),
    unless ink other than the sides touches both lines (``joined``, per column): a closed shape's."""
    start, end = span[0] <= RIM, span[1] >= len(filled) - RIM
    if start and end:
        free = joined.copy()
        for c in bridges:
            free[max(c.p0 - RIM, 0) : c.p1 + RIM] = False
        if free.any():
            return False, False
        start, end = not _closed(filled, bridges), not _closed(filled[::-1], [_flip(c, len(filled)) for c in bridges])
    return (start, end) if start != end else (False, False)


def _closed(filled: np.ndarray, bridges: list[Line]) -> bool:
    """Whether the first of ``bridges`` from the start of ``(W,)`` ``filled`` has no ink before it
    nor just after it: a box's side between the image's edge and the ink."""
    if not bridges:
        return False
    first = min(bridges)
    return not filled[: max(first.p0 - RIM, 0)].any() and not filled[first.p1 + RIM : first.p1 + RIM + 2].any()


def _flip(line: Line, length: int) -> Line:
    """``line`` seen from the other end of an axis ``length`` long (its band across mirrored)."""
    return line._replace(p0=length - line.p1, p1=length - line.p0)


def _short_of_ends(extent: tuple[int, int], span: tuple[int, int], cut: tuple[bool, bool]) -> bool:
    """Whether ink spanning ``extent`` stops short of both ends of a pair's ``span`` by more than
    ``RIM``, but at an end where the pair is ``cut`` (runs off the image), where it may reach the
    edge: a box cut by the image's edge, its line there outside the image or a sliver of it."""
    return (extent[0] - span[0] > RIM or cut[0]) and (span[1] - extent[1] > RIM or cut[1])


def inside(
    filled: np.ndarray,
    bridges: list[Line],
    printed: int,
    span: tuple[int, int],
    cut: tuple[bool, bool] = (False, False),
) -> tuple[list[Line], tuple[int, int] | None]:
    """Which ``bridges`` (lines across the gap) are a frame's sides, and the columns ``(first, end)``
    the rest of the ink between the pair spans (None: no ink). ``filled``: ``(W,)`` whether a column
    holds ink between the pair, whose lines span the columns ``span``. A bridge that ink touches is the
    digit's own (the stem of a 1 that reaches both lines, under its flag; the back of a square 3),
    and joins it, unless it is as thin as the pair's lines (``printed`` pixels) and they run on past
    it: a ruling of a form's grid that the digit touches; or it closes a box (:func:`_boxed`), and
    the ink beyond it is the digit written over the box's line, not between the pair. When bridges
    are all the ink, one thicker than the pair's lines and clear of their ends is a 1 that touches
    both lines, not a side."""
    sides = list(bridges)
    while True:
        cols = filled.copy()
        for s in sides:
            cols[max(s.p0 - RIM, 0) : s.p1 + RIM] = False
        if not cols.any():  # all the ink between is bridges: a thicker one inside is a 1's stem, or none
            stems = _stems(sides, printed, span)
            if not stems:
                return sides, None
            sides = [s for s in sides if s not in stems]
            continue
        near = _touched(cols, sides, printed, span)
        at = _boxed(near[0], sides, printed, span, cut) if len(near) == 1 else 0
        if not near or at != 0:
            return sides, _extent(cols, near[0] if at else None, at)
        sides = [s for s in sides if s not in near]


def _stems(sides: list[Line], printed: int, span: tuple[int, int]) -> list[Line]:
    """The bridges of ``sides`` thicker than ``printed`` and clear of the ends of ``span``."""
    return [s for s in sides if s.p1 - s.p0 > printed and _grid(s._replace(p1=s.p0), printed, span)]


def _touched(cols: np.ndarray, sides: list[Line], printed: int, span: tuple[int, int]) -> list[Line]:
    """The bridges of ``sides`` that ink in ``(W,)`` ``cols`` touches (within two pixels of their
    band), but for the rulings of a form's grid (:func:`_grid`)."""
    return [s for s in sides if cols[max(s.p0 - RIM - 2, 0) : s.p1 + RIM + 2].any() and not _grid(s, printed, span)]


def _extent(cols: np.ndarray, side: Line | None, at: int) -> tuple[int, int] | None:
    """The first and end columns of ``(W,)`` ``cols`` holding ink, none beyond ``side`` (``RIM`` off
    its band): after it when ``at`` is 1 (the side closes the end of the span), before it when -1."""
    if side is not None and at > 0:
        cols[side.p1 + RIM :] = False
    elif side is not None:
        cols[: max(side.p0 - RIM, 0)] = False
    found = np.flatnonzero(cols)
    return (int(found[0]), int(found[-1]) + 1) if found.size else None


def _boxed(touched: Line, sides: list[Line], printed: int, span: tuple[int, int], cut: tuple[bool, bool]) -> int:
    """Where ``touched``, the one bridge that ink touches, closes a box: -1 at the start of the pair's
    ``span``, 1 at its end, 0 if it does not. It closes a box when it is as thin as ``printed``
    and stands at one end of the pair's ``span``, and at the other end another such bridge, untouched,
    or the image's edge where the pair is ``cut`` (runs off the image: the box's other side outside
    it). A digit written to the edge of its box touches one side; a square 8's middle bar touches both."""

    def end(bridge: Line) -> int:  # -1 or 1: at the start or the end of a span long enough to tell
        if bridge.p1 - bridge.p0 > printed or span[1] - span[0] <= 4 * (printed + RIM):
            return 0
        return -1 if bridge.p0 - span[0] <= printed + RIM else int(span[1] - bridge.p1 <= printed + RIM)

    at = end(touched)
    return at if at != 0 and (cut[at < 0] or any(end(s) == -at for s in sides if s != touched)) else 0


def _grid(bridge: Line, printed: int, span: tuple[int, int]) -> bool:
    """Whether ``bridge`` is as thin as ``printed`` and lines spanning ``span`` run on past it both ways."""
    return (
        bridge.p1 - bridge.p0 <= printed and bridge.p0 - span[0] > printed + RIM and span[1] - bridge.p1 > printed + RIM
    )


def count(per_column: np.ndarray, sides: list[Line]) -> int:
    """The sum of ``(W,)`` ink counts off the columns of ``sides``."""
    total = int(per_column.sum())
    for s in sides:
        total -= int(per_column[max(s.p0 - RIM, 0) : s.p1 + RIM].sum())
    return total
