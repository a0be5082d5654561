"""Speck merging: the grid search gives exactly what comparing every speck with every component gives,
and a canvas of thousands of dots is refused before any work that grows with their number."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.hostile_inputs import speck_canvas
from model.recipe import segmentation, specks
from model.recipe.decode import open_image
from model.recipe.errors import TooManyPartsError
from model.recipe.ink import ink_map, normalize_ink
from model.recipe.segmentation import MAX_COMPONENTS, atoms, label_components
from model.recipe.specks import SPECK, merge_specks


def merge_specks_reference(boxes: np.ndarray, line: float) -> list[list[int]]:
    """The all-pairs algorithm the grid search replaced (issue 31), kept as the specification."""
    n = len(boxes)
    box = boxes.tolist()  # Python ints: the same values, compared far faster
    widths, heights = [b[2] - b[0] for b in box], [b[3] - b[1] for b in box]
    small = {i for i in range(n) if max(widths[i], heights[i]) < SPECK * line}
    owner = list(range(n))
    for i in sorted(small, key=lambda i: -box[i][4]):
        best, dist = -1, math.inf
        for j in range(n):
            if j == i:
                continue
            dx = max(box[j][0] - box[i][2], box[i][0] - box[j][2], 0)
            dy = max(box[j][1] - box[i][3], box[i][1] - box[j][3], 0)
            d = math.hypot(dx, dy) + (0.5 if j in small else 0)
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


def random_boxes(rng: np.random.Generator, n: int, side: int, big: float) -> np.ndarray:
    """``(n, 5)`` boxes in a ``side x side`` grid: mostly specks of 1..4 cells, a share ``big`` of them
    strokes up to half the side, cells counted as the box's area."""
    sizes = np.where(rng.random((n, 2)) < big, rng.integers(1, side // 2, (n, 2)), rng.integers(1, 5, (n, 2)))
    x0, y0 = rng.integers(0, side - sizes[:, 0]), rng.integers(0, side - sizes[:, 1])
    box = np.stack([x0, y0, x0 + sizes[:, 0], y0 + sizes[:, 1], sizes[:, 0] * sizes[:, 1]], axis=1)
    return box.astype(np.int64)


@pytest.mark.parametrize("seed", range(40))
def test_grid_search_matches_all_pairs_on_random_boxes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    side = int(rng.integers(8, 256))
    box = random_boxes(rng, n, side, big=float(rng.choice([0.0, 0.05, 0.3])))
    line = float(rng.uniform(1, side))
    assert merge_specks(box, line) == merge_specks_reference(box, line)


@pytest.mark.parametrize("density", [0.05, 0.15, 0.3])
def test_grid_search_matches_all_pairs_on_labelled_noise(density: float) -> None:
    """Boxes as :func:`atoms` makes them: the components of random ink, with a few long strokes."""
    rng = np.random.default_rng(int(density * 100))
    mask = rng.random((60, 120)) < density
    mask[10:50, 20:23] = mask[30:33, 50:110] = True
    labels, n = label_components(mask)
    box = segmentation._boxes(labels, n)
    for line in (4.0, 13.0, 40.0):
        assert merge_specks(box, line) == merge_specks_reference(box, line)


def test_mutual_nearest_specks_each_head_a_group() -> None:
    """Two specks nearest to each other, far from any stroke: each stands alone (as before the grid)."""
    box = np.array([[0, 0, 40, 40, 1600], [100, 0, 101, 1, 1], [102, 0, 103, 1, 1], [104, 0, 105, 1, 1]])
    assert merge_specks(box, 40.0) == merge_specks_reference(box, 40.0) == [[0], [1], [2, 3]]


def test_the_grid_looks_at_near_neighbours_only() -> None:
    """The work: on a canvas of 1,588 dots, the pairs compared are a few per dot, not all pairs."""
    ink = normalize_ink(ink_map(open_image(speck_canvas(1024, 400, 16))))
    mask = segmentation.max_pool(ink, 4) >= segmentation.INK_LEVEL
    labels, n = label_components(mask)
    box = segmentation._boxes(labels, n)
    heights = box[:, 3] - box[:, 1]
    line = float(np.median(heights[heights >= 0.5 * heights.max()]))
    small = np.flatnonzero(np.maximum(box[:, 2] - box[:, 0], heights) < SPECK * line)
    grid = specks._Grid(box, 4)
    compared = len(grid.pairs(small, 1)[0])
    assert n > 1500 and compared < 20 * n  # all pairs would be n * n, about 2.5 million


@pytest.mark.parametrize(("width", "height", "every"), [(1024, 400, 8), (2048, 2048, 16)])
def test_a_canvas_of_thousands_of_dots_is_refused(width: int, height: int, every: int) -> None:
    ink = normalize_ink(ink_map(open_image(speck_canvas(width, height, every))))
    with pytest.raises(TooManyPartsError, match=f"at most {MAX_COMPONENTS}"):
        atoms(ink)


def test_a_canvas_of_dots_under_the_cap_is_read_as_before() -> None:
    ink = normalize_ink(ink_map(open_image(speck_canvas(1024, 400, 16))))
    pieces, factor, line = atoms(ink)
    assert factor == 4 and line == 50.0 and len(pieces) == 31  # as the all-pairs merge made it
