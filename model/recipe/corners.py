"""A box's corner left by a close crop: a horizontal and a vertical line of a form meeting at one end.

A form's box cropped close to its digit may keep only two of its sides: a horizontal line and a
vertical one that meet at a corner, each running off the image at its other end (the crop cut the
box's other two sides away). No frame is left for :mod:`.frames` to find. A digit never draws such
an L with the rest of its ink clear of both lines and inside the corner: a square 5's or an open
4's strokes meet the L's lines, a ruler-drawn 7's L holds no other ink, and a 1's foot meets its
stem in the middle, not at an end.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from .frames import OUTSIDE
from .lines import RIM, Line

TOUCH: Final = 2  # pixels off a line's band within which other ink touches the line


def corners(mask: np.ndarray, across: list[Line], down: list[Line]) -> list[tuple[Line, Line]]:
    """The corners of a ``(H, W)`` ink mask: pairs of a horizontal line of ``across`` and a vertical
    one of ``down`` (lines of ``mask.T``) that meet at one end each, run off the image at the other,
    and hold the rest of the ink inside the corner, clear of both."""
    found = []
    for h in across:
        for v in down:
            quadrant = _quadrant(h, v, mask.shape)
            if quadrant is not None and _holds_the_ink(mask, h, v, quadrant):
                found.append((h, v))
    return found


def _quadrant(h: Line, v: Line, shape: tuple[int, ...]) -> tuple[slice, slice] | None:
    """The rows and columns the corner of ``h`` (rows ``p0..p1``, columns ``a..b``) and ``v``
    (columns ``p0..p1``, rows ``a..b``) opens towards, when each ends at the other and runs off the
    image at its other end; None otherwise."""
    tol = TOUCH + RIM + max(h.p1 - h.p0, v.p1 - v.p0)  # a line's end lies in the other's band
    cols, rows = _opening(h, v, shape[1], tol), _opening(v, h, shape[0], tol)
    return None if cols is None or rows is None else (rows, cols)


def _opening(line: Line, cross: Line, length: int, tol: int) -> slice | None:
    """The positions along ``line`` (``a..b`` of ``length``) on its side of ``cross`` (``p0..p1``
    across it): after ``cross`` when ``line`` starts at it and runs off the image's far edge, before
    it when ``line`` ends at it and runs off the near edge; None when it does neither."""
    if abs(line.a - cross.p0) <= tol and line.b >= length - RIM:
        return slice(cross.p1 + RIM, length)
    if abs(line.b - cross.p1) <= tol and line.a <= RIM:
        return slice(0, max(cross.p0 - RIM, 0))
    return None


def _holds_the_ink(mask: np.ndarray, h: Line, v: Line, quadrant: tuple[slice, slice]) -> bool:
    """Whether the ink off the lines ``h`` and ``v`` lies in ``quadrant`` (all but ``OUTSIDE`` of it)
    and clear of both lines by ``TOUCH`` pixels."""
    other = mask.copy()
    other[max(h.p0 - RIM, 0) : h.p1 + RIM, :] = False
    other[:, max(v.p0 - RIM, 0) : v.p1 + RIM] = False
    inside = np.count_nonzero(other[quadrant])
    if not inside or np.count_nonzero(other) - inside > OUTSIDE * inside:
        return False
    near = TOUCH + RIM
    by_h = other[max(h.p0 - near, 0) : h.p1 + near, h.a : h.b]
    by_v = other[v.a : v.b, max(v.p0 - near, 0) : v.p1 + near]
    return not by_h.any() and not by_v.any()
