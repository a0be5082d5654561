"""Splitting a written number into atoms: connected components, specks, cuts of touching strokes."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from model.generators import canvas as cv
from model.recipe import segmentation
from model.recipe.segmentation import INK_LEVEL, atoms, cut_columns, label_components, max_pool, split_at_necks


def _flood_fill_count(mask: np.ndarray) -> tuple[int, np.ndarray]:
    """Reference: 8-connected components by breadth-first search."""
    seen = np.zeros(mask.shape, np.int32)
    n = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        n += 1
        seen[start] = n
        queue = deque([start])
        while queue:
            r, c = queue.popleft()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < mask.shape[0] and 0 <= cc < mask.shape[1] and mask[rr, cc] and not seen[rr, cc]:
                        seen[rr, cc] = n
                        queue.append((rr, cc))
    return n, seen


@pytest.mark.parametrize("density", [0.2, 0.4, 0.6])
def test_components_match_a_flood_fill(density: float) -> None:
    rng = np.random.default_rng(int(density * 10))
    mask = rng.random((40, 50)) < density
    labels, n = label_components(mask)
    ref_n, ref = _flood_fill_count(mask)
    assert n == ref_n
    assert ((labels > 0) == mask).all()
    # the same partition: each reference component maps to exactly one label and back
    pairs = set(zip(labels[mask].tolist(), ref[mask].tolist(), strict=True))
    assert len(pairs) == n


@pytest.mark.parametrize("seed", range(5))
def test_components_are_numbered_in_raster_order_of_their_first_cell(seed: int) -> None:
    mask = np.random.default_rng(seed).random((30, 40)) < 0.3
    labels, n = label_components(mask)
    flat = labels.ravel()
    first = [int(flat[i]) for i in np.flatnonzero(flat)]
    assert list(dict.fromkeys(first)) == list(range(1, n + 1))


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        (np.indices((64, 64)).sum(axis=0) % 2 == 0, 1),  # a checkerboard: one run per two cells, all joined
        (np.kron(np.ones((32, 32), bool), np.array([[1, 0], [0, 0]], bool)), 32 * 32),  # dots every 2 cells
    ],
)
def test_components_of_patterns(mask: np.ndarray, expected: int) -> None:
    labels, n = label_components(mask)
    assert n == expected and ((labels > 0) == mask).all()


def test_a_serpentine_is_one_component() -> None:
    """One stroke winding over the whole grid: joined through hundreds of runs, end to end."""
    mask = np.zeros((64, 64), bool)
    mask[:, ::4] = True
    mask[0, 1::8] = mask[0, 2::8] = mask[0, 3::8] = True  # joined at the top...
    mask[63, 5::8] = mask[63, 6::8] = mask[63, 7::8] = True  # ...and the bottom, in turn
    mask[63, 61:] = False
    assert label_components(mask)[1] == 1
    ref_n, _ = _flood_fill_count(mask)
    assert ref_n == 1


def test_diagonal_pixels_are_connected() -> None:
    mask = np.eye(6, dtype=bool)
    assert label_components(mask)[1] == 1


def test_max_pool_keeps_thin_strokes() -> None:
    ink = np.zeros((9, 9), np.float32)
    ink[:, 4] = 1.0  # a one-pixel line
    pooled = max_pool(ink, 4)
    assert pooled.shape == (3, 3) and (pooled[:, 1] == 1).all()


def _strokes(boxes: list[tuple[int, int, int, int]], shape: tuple[int, int] = (100, 250)) -> np.ndarray:
    ink = np.zeros(shape, np.float32)
    for y0, y1, x0, x1 in boxes:
        ink[y0:y1, x0:x1] = 1.0
    return ink


def test_separate_strokes_are_atoms_left_to_right() -> None:
    ink = _strokes([(20, 80, 200, 206), (20, 80, 30, 36), (20, 80, 110, 116)])
    found, factor, line = atoms(ink)
    assert factor == 1 and line == 60
    assert [a.x0 for a in found] == [30, 110, 200]


def test_a_speck_joins_the_stroke_it_breaks_off_from() -> None:
    ink = _strokes([(20, 60, 30, 36), (63, 66, 31, 34), (20, 80, 150, 156)])  # a gap 3 px below the first
    found, _, _ = atoms(ink)
    assert len(found) == 2 and found[0].y1 == 66


def test_a_wide_stroke_is_cut_at_its_thinnest_column() -> None:
    # two 40x60 blocks joined by a thin bridge: touching digits
    ink = _strokes([(20, 80, 20, 60), (48, 51, 60, 70), (20, 80, 70, 110)])
    cuts = cut_columns(ink[20:80, 20:110] > 0, line=60)
    assert any(60 <= c - 0 + 20 <= 70 for c in cuts)
    found, _, _ = atoms(ink)
    assert len(found) >= 2


def _overlapping_pair(x: np.ndarray, i: int, overlap: float) -> np.ndarray:
    """Sample digits ``i`` and ``i + 1`` pasted 200 px tall with their ink boxes overlapping by
    ``overlap`` of that height: ``(2, 340, 900)`` uint8 ink, one layer per digit."""
    height, field, left, layers = 200, 200 * 28 / 20, 40.0, []
    for d in (x[i], x[i + 1]):
        cols = np.flatnonzero((d >= 96).any(axis=0))
        box = (left - cols[0] / 28 * field, 60 - field * 4 / 28, field)
        layers.append(np.asarray(cv.paste_pixels((900, 340), d, box)))
        left += (cols[-1] - cols[0] + 1) / 28 * field - overlap * height
    return np.stack(layers)


def _pairs_with_a_mixed_atom(x: np.ndarray, pairs: int) -> int:
    """How many overlapping pairs give an atom that holds over 15 % of each digit's cells."""
    mixed = 0
    for i in range(0, 2 * pairs, 2):
        layers = _overlapping_pair(x, i, 0.05)
        found, factor, _ = atoms(layers.max(axis=0) / 255.0)
        own = np.stack([max_pool(layer / 255.0, factor) >= INK_LEVEL for layer in layers])
        for a in found:
            cells = own[:, a.y0 : a.y1, a.x0 : a.x1][:, a.mask].sum(axis=1)
            if cells.min() > 0.15 * cells.sum():
                mixed += 1
                break
    return mixed


def test_touching_digits_that_overlap_are_sliced_finely_enough_to_keep_them_apart(
    sample: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two digits overlapping by 5 % of their height: no upright cut separates them, but slices an
    # eighth of a line height wide mostly fall within one digit (the reader joins them back).
    x, _ = sample
    fine = _pairs_with_a_mixed_atom(x, 100)
    monkeypatch.setattr(segmentation, "CUTS", ((segmentation.WIDE, 3, 1 / 4),))  # every stroke cut coarsely
    coarse = _pairs_with_a_mixed_atom(x, 100)
    assert fine <= 27 and coarse >= fine + 6, (fine, coarse)


def test_a_narrow_stroke_is_never_cut() -> None:
    assert cut_columns(np.ones((60, 30), bool), line=60) == []


def test_a_flat_stroke_is_never_cut() -> None:
    # A bar three line heights wide but a quarter of one tall: a 5's flag or a 7's bar, not digits.
    bar = np.ones((15, 180), bool)
    assert cut_columns(bar, line=60) == []
    assert cut_columns(np.ones((30, 180), bool), line=60) != []  # half a line tall: may be digits


def test_digits_touching_at_a_neck_are_split_along_the_ink() -> None:
    # two 30x40 blocks overlapping in columns (one above-left, one below-right), joined by a 2-cell neck
    mask = np.zeros((60, 80), bool)
    mask[0:40, 0:35] = True
    mask[20:60, 37:80] = True
    mask[25:27, 35:37] = True
    pieces = split_at_necks(mask, line=50)
    assert len(pieces) == 2
    assert (pieces[0] | pieces[1]).sum() == mask.sum() and not (pieces[0] & pieces[1]).any()
    left = next(p for p in pieces if p[0, 0])
    assert left[0:40, 0:35].all() and not left[:, 37:].any()  # each block whole, the neck split between
