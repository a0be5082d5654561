"""The horizontal lines of a mask (:func:`model.recipe.lines.lines`): the bit-parallel search finds
exactly what a plain row-by-row reading of the definition finds, on digits, forms and noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.recipe.lines import MAX_LINES, Line, lines


def reference(mask: np.ndarray, long: float, thin: int) -> list[Line]:
    """The definition, one row and one pixel at a time: gaps of one or two pixels between ink bridged,
    runs of at least ``long``, bands of consecutive rows holding one, at most ``thin`` thick."""
    runs: dict[int, tuple[int, int]] = {}
    for r, row in enumerate(mask):
        ink = np.flatnonzero(row).tolist()
        chains: list[list[int]] = []
        for c in ink:
            if chains and c - chains[-1][1] <= 3:
                chains[-1][1] = c
            else:
                chains.append([c, c])
        long_ones = [(a, b + 1) for a, b in chains if b + 1 - a >= math.ceil(long)]
        if long_ones:
            runs[r] = (min(a for a, _ in long_ones), max(b for _, b in long_ones))
    found, rows = [], sorted(runs)
    while rows:
        band = [rows.pop(0)]
        while rows and rows[0] == band[-1] + 1:
            band.append(rows.pop(0))
        if len(band) <= thin:
            found.append(Line(band[0], band[-1] + 1, min(runs[r][0] for r in band), max(runs[r][1] for r in band)))
    found.sort(key=lambda line: line.a - line.b)
    return found[:MAX_LINES]


def masks(seed: int) -> list[np.ndarray]:
    """Noise of every density, dashed and dotted lines, boxes: shapes and sizes from 3x3 to 90x140."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(3, 90, 2))
        out.append(rng.random((h, w)) < rng.random())
    for gap in (1, 2, 3):  # a dashed line: bridged up to gaps of two, broken by three
        row = np.zeros((9, 140), bool)
        row[4, 5:130] = True
        row[4, 5 + gap : 130 : gap + 1] = False
        out.append(row)
    box = np.zeros((60, 60), bool)
    box[[5, 6, 50], 5:55] = True
    box[5:51, [5, 54]] = True
    out += [box, box.T.copy(), np.ones((4, 30), bool), np.zeros((30, 4), bool)]
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lines_match_the_definition_read_pixel_by_pixel(seed: int) -> None:
    for mask in masks(seed):
        for long in (1.0, 2.4, 7.5, 20.0, 60.0, 200.0):
            for thin in (0, 1, 2, 4):
                assert lines(mask, long, thin) == reference(mask, long, thin), (mask.shape, long, thin)


def test_a_gap_of_three_pixels_breaks_a_line_and_two_do_not() -> None:
    row = np.zeros((3, 40), bool)
    row[1, :40] = True
    row[1, 18:20] = False
    assert lines(row, 40, 1) == [Line(1, 2, 0, 40)]
    row[1, 17] = False
    assert lines(row, 40, 1) == []
    assert lines(row, 20, 1) == [Line(1, 2, 20, 40)]


def test_runs_never_reach_across_rows() -> None:
    mask = np.zeros((4, 20), bool)
    mask[1, 10:] = True  # the end of one row
    mask[2, :10] = True  # and the start of the next: one run only in memory order
    assert lines(mask, 12, 2) == []
