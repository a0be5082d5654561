"""Rulings taken out of the ink: their bands set to paper, but for the strokes that meet them.

:mod:`.rulings` decides which lines are a form's; this step erases them. A band goes ``RIM`` pixels
wider than the line found (its anti-aliased or blurred edge) along the line's span, except where
other ink meets the band from either side (a stroke crossing the line or ending on it keeps its
pixels there) and where a stroke lies along it (a 2's base drawn on the box's bottom line): there
the band holds more ink across than the printed line's width.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from .lines import RIM, Line

ALONG: Final = 2  # pixels across a ruling beyond its printed width: a stroke lies along it there


def erase(ink: np.ndarray, mask: np.ndarray, rows: list[Line], cols: list[Line]) -> np.ndarray:
    """A copy of ``ink`` with the bands of ``rows`` (horizontal rulings) and ``cols`` (vertical ones),
    ``RIM`` pixels wider on each side, set to 0 along their spans, except where other ink meets a band
    (a stroke crossing it or ending on it keeps its pixels there) or lies along it (:func:`_along`)."""
    in_rows, near_rows = _covered(rows, mask.shape[0])
    in_cols, near_cols = _covered(cols, mask.shape[1])
    other = mask & ~in_rows[:, None] & ~in_cols[None, :]
    out = ink.copy()
    _erase_bands(out, mask, other, rows, near_cols)
    _erase_bands(out.T, mask.T, other.T, cols, near_rows)
    return out


def _covered(bands: list[Line], length: int) -> tuple[np.ndarray, np.ndarray]:
    """``(length,)`` masks of the rows (or columns) ``bands`` cover, and of those ``RIM`` wider."""
    inside, near = np.zeros(length, bool), np.zeros(length, bool)
    for band in bands:
        inside[band.p0 : band.p1] = True
        near[max(band.p0 - RIM, 0) : band.p1 + RIM] = True
    return inside, near


def _erase_bands(out: np.ndarray, mask: np.ndarray, other: np.ndarray, bands: list[Line], crossed: np.ndarray) -> None:
    """Zero the rows of each band of ``out`` (in place), ``RIM`` wider, along its span (``RIM``
    longer), but for the columns where ``other`` holds ink just outside it on either side, or where a
    stroke lies along it; ``crossed``: ``(W,)`` the columns of the rulings across."""
    height = out.shape[0]
    for band in bands:
        r0, r1 = max(band.p0 - RIM, 0), min(band.p1 + RIM, height)
        c0, c1 = max(band.a - RIM, 0), band.b + RIM
        none = np.zeros(out[:, c0:c1].shape[1], bool)
        above = other[max(r0 - 2, 0) : r0, c0:c1].any(axis=0) if r0 > 0 else none
        below = other[r1 : r1 + 2, c0:c1].any(axis=0) if r1 < height else none
        along = _along(np.count_nonzero(mask[r0:r1, c0:c1], axis=0)) & ~crossed[c0:c1]
        out[r0:r1, c0:c1][:, ~(above | below | along)] = 0


def _along(across: np.ndarray) -> np.ndarray:
    """Which columns of a band, holding ``across`` ink pixels each, have a stroke lying along the line
    (a 2's base drawn on the box's bottom line): ``ALONG`` pixels more than the printed line's width
    (its thinnest tenth), in runs of more than ``ALONG`` columns (not a speck of noise)."""
    if not across.any():
        return np.zeros(across.shape, bool)
    printed = float(np.percentile(across[across > 0], 10))
    thick = np.concatenate(([False], across >= printed + ALONG, [False]))
    edges = np.flatnonzero(thick[1:] != thick[:-1]).reshape(-1, 2)
    out = np.zeros(across.shape, bool)
    for start, end in edges[edges[:, 1] - edges[:, 0] > ALONG]:
        out[start:end] = True
    return out
