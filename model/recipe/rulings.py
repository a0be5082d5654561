"""A form's printed lines taken out of the ink before the crop: box borders, table lines, a frame.

A digit written in a form's box reaches the service with the box's lines around it; counted as ink,
they set the crop, and the digit arrives at half its size inside a frame. Length alone cannot tell a
ruling from a digit's own strokes: the bar of a 7 and the stem of a 1 or a 4 are as long and as
straight, relative to their ink, as a box's side. What a digit never draws is a *frame*: two parallel
lines, thin, straight and long, with the rest of the ink between them and short of their ends on both
sides. Such a pair goes, with the lines across the gap between them that lie beside that ink (a box's
sides, the neighbouring boxes' edges) and, in the same rows or columns, what continues the pair's
lines (a neighbour's edge beyond a gap). Two lesser forms of the same relation count too: a comb
(a base line with teeth standing on it, the ink between two teeth of like length) and an underline
(under the ink, apart from it, past it at both ends or off the image at one; never over it, where a
7's bar drawn apart would be). A box's side that the digit touches, or writes over, is still a side
when the opposite side stands clear of the ink or lies outside the image (a box cut by the image's
edge, its pair running off it there): a digit written into a corner of its box, not a square 8. Strokes that
cross or touch a ruling are kept where they meet it; an image without any of these is returned as it
came, the same array (a plain digit is never touched).

Lines are runs of the ink mask, rows then columns (none across: no ruling); pairs are judged from ink
counts per column (prefix sums): a few passes over the pixels, plus pairs times the image's side."""

from __future__ import annotations

from typing import Final

import numpy as np

from .erase import erase
from .lines import RIM, Line, lines

LEVEL: Final = 0.3  # the crop's level (0..1): without ink this strong left, nothing is removed
FAINT: Final = 0.1  # ink at least this strong (0..1) may be a ruling's: printed lines may be pale
LONG: Final = 0.6  # a ruling spans at least this share of the ink box's shorter side (a box is square-ish)
THIN: Final = 0.08  # and is at most this share of the ink box across it thick
GAP: Final = 0.25  # the two lines of a frame are at least this share of the ink box across them apart
OUTSIDE: Final = 0.35  # ink off the lines outside the frame: at most this share of the ink inside it
MAX_BASES: Final = 3  # lines across the whole ink considered as a comb's base or an underline
EDGE: Final = 0.9  # a comb's base spans at least this share of the ink box's width
TOOTH: Final = 0.2  # a comb's teeth are at least this share of the ink box's height long
SAME: Final = 1.35  # and the two around the ink at most this many times as long as each other
MARGIN: Final = 0.15  # an underline reaches past the ink above it by this share of its height, each end
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
    if not across:  # every ruling has a horizontal line: a frame's pair or its sides, a comb's base
        return [], []
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
    return sorted(h_all), sorted(v_all)


def frames(mask: np.ndarray, lines_: list[Line], cross: list[Line], across: int) -> tuple[list[Line], list[Line]]:
    """The horizontal lines of ``mask`` that are one of a frame's pair, and the lines across them (of
    ``mask.T``, from ``cross``) that are its sides. ``across``: the ink box's height, pixels."""
    rules: set[Line] = set()
    sides: set[Line] = set()
    if len(lines_) < 2:
        return [], []
    above = _ink_above(mask, [r for line in lines_ for r in _bounds(line, mask.shape[0])])
    for i, one in enumerate(lines_):
        for two in lines_[i + 1 :]:
            top, bottom = (one, two) if one.p0 < two.p0 else (two, one)
            found = frame(above, top, bottom, cross, across, lines_)
            if found is not None:
                rules.update((top, bottom))
                sides.update(found)
    return sorted(rules), sorted(sides)


def _bounds(line: Line, height: int) -> tuple[int, int]:
    """The rows ``RIM`` off ``line``'s band on either side, within ``0..height``."""
    return min(max(line.p0 - RIM, 0), height), min(max(line.p1 + RIM, 0), height)


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
    cut = _cut((a, b), len(inner))
    sides, extent = _inside(inner > 0, bridges, printed + 1, (a, b), cut)
    if not bridges or extent is None or not _short_of_ends(extent, (a, b), cut):
        return None
    alike = [p for p in parallel if _alike(p, top, printed) and _alike(p, bottom, printed)]
    outer = above[top_out] + above[end] - above[bottom_out] - _on_lines(above, alike, (top_out, bottom_out))
    inside = _count(inner, sides)
    if inside < 2 * slack * slack or _count(outer, sides) > OUTSIDE * inside:
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


def _cut(span: tuple[int, int], length: int) -> tuple[bool, bool]:
    """Whether a pair of lines spanning ``span`` (pixels along, of an image ``length`` long) runs off
    the image at its start and at its end: a box cut by the image's edge on that side. At one end
    only: a pair running off both may be a digit's own bars, cropped to its ink (a square 3)."""
    start, end = span[0] <= RIM, span[1] >= length - RIM
    return (start, end) if start != end else (False, False)


def _short_of_ends(extent: tuple[int, int], span: tuple[int, int], cut: tuple[bool, bool]) -> bool:
    """Whether ink spanning ``extent`` stops short of both ends of a pair's ``span`` by more than
    ``RIM``, but at an end where the pair is ``cut`` (runs off the image), where it may reach the
    edge: a box cut by the image's edge, its line there outside the image or a sliver of it."""
    return (extent[0] - span[0] > RIM or cut[0]) and (span[1] - extent[1] > RIM or cut[1])


def _inside(
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
    the ink beyond it is the digit written over the box's line, not between the pair."""
    sides = list(bridges)
    while True:
        cols = filled.copy()
        for s in sides:
            cols[max(s.p0 - RIM, 0) : s.p1 + RIM] = False
        if not cols.any():
            return sides, None
        near = [s for s in sides if cols[max(s.p0 - RIM - 2, 0) : s.p1 + RIM + 2].any() and not _grid(s, printed, span)]
        at = _boxed(near[0], sides, printed, span, cut) if len(near) == 1 else 0
        if at != 0:
            _drop_beyond(cols, near[0], at)
        if not near or at != 0:
            found = np.flatnonzero(cols)
            return sides, (int(found[0]), int(found[-1]) + 1) if found.size else None
        sides = [s for s in sides if s not in near]


def _drop_beyond(cols: np.ndarray, side: Line, at: int) -> None:
    """Clear ``(W,)`` ``cols`` beyond ``side`` (``RIM`` off its band), in place: after it when ``at``
    is 1 (the side closes the end of the span), before it when -1."""
    if at > 0:
        cols[side.p1 + RIM :] = False
    else:
        cols[: max(side.p0 - RIM, 0)] = False


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


def _count(per_column: np.ndarray, sides: list[Line]) -> int:
    """The sum of ``(W,)`` ink counts off the columns of ``sides``."""
    total = int(per_column.sum())
    for s in sides:
        total -= int(per_column[max(s.p0 - RIM, 0) : s.p1 + RIM].sum())
    return total


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
    sides, extent = _inside(per_column > 0, teeth, base.p1 - base.p0 + 1, (base.a, base.b))
    if extent is None:
        return []
    left = [t for t in sides if t.p1 <= extent[0]]
    right = [t for t in sides if t.p0 >= extent[1]]
    if not left or not right:
        return []
    lengths = sorted(t.b - t.a for t in (max(left), min(right)))
    outer = mask[base.p1 + RIM :] if up else mask[: max(base.p0 - RIM, 0)]
    if lengths[1] > SAME * lengths[0] or np.count_nonzero(outer) > OUTSIDE * _count(per_column, sides):
        return []
    return sides


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
        sides, extent = _inside(np.count_nonzero(above, axis=0) + between > 0, teeth, 0, (0, 0))
        if extent is None or _count(between, sides):
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
