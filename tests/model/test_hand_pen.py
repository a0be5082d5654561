"""The hand pen (pen lifts, open loops, overshoots, retracing) and scribbles, and the sets made of them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from model.generators import scribbles as scr
from model.generators.hand import FLAG, FLAG_RISE, Habits, draw_strokes, flagged, hand_redraw, humanize, skeleton_paths
from model.generators.pen import skeletonize
from model.recipe.segmentation import label_components
from scripts import drawn_sets as ds
from tests.helpers import sample_digits

STILL = Habits(lift=0, mid_lift=0, open_loop=0, overshoot_p=0, retrace=0, width_var=(0, 0), jitter=(0, 0), tremor=0)


def _components(ink: Image.Image) -> tuple[int, np.ndarray]:
    labels, n = label_components(np.asarray(ink) >= 128)
    return n, labels


def _gap(labels: np.ndarray, a: int, b: int) -> float:
    """The shortest distance between two labelled components, in pixels."""
    pa = np.argwhere(labels == a)[::3].astype(float)
    pb = np.argwhere(labels == b)[::3].astype(float)
    return float(np.sqrt(((pa[:, None] - pb[None]) ** 2).sum(-1)).min())


def _ring(size: int = 64) -> np.ndarray:
    im = Image.new("L", (size, size), 0)
    ImageDraw.Draw(im).ellipse([12, 8, 52, 56], outline=255, width=5)
    return skeletonize(np.asarray(im) >= 128)


def _enclosed(ink: Image.Image) -> int:
    """Background regions the ink closes (a closed loop makes one)."""
    _, n = label_components(~np.pad(np.asarray(ink) >= 128, 2))
    return n - 1


def test_a_ring_is_one_closed_path_and_a_cross_four_branches() -> None:
    (loop,) = skeleton_paths(_ring())
    assert np.array_equal(loop[0], loop[-1]) and len(loop) > 60
    cross = np.zeros((40, 40), bool)
    cross[20, 5:36] = cross[5:36, 20] = True
    branches = skeleton_paths(cross)
    assert len(branches) == 4 and sorted(len(b) for b in branches) == [16] * 4


def test_short_spurs_are_dropped_and_long_branches_kept() -> None:
    line = np.zeros((40, 40), bool)
    line[20, 5:36] = True
    line[18:20, 25] = True  # a two-pixel spur off the line
    paths = skeleton_paths(line)
    assert sum(len(p) for p in paths) <= 31 + 1 and all(np.ptp(p[:, 1]) == 0 for p in paths)
    line[8:20, 25] = True  # now a real branch
    assert len(skeleton_paths(line)) == 3


def test_a_pen_lift_in_the_middle_leaves_two_pieces_a_few_pixels_apart() -> None:
    bar = [np.stack([np.full(100, 100.0), np.linspace(30, 170, 100)], axis=1)]
    habits = Habits(**{**STILL.__dict__, "mid_lift": 1.0, "gap": (0.03, 0.06)})
    for seed in range(5):
        ink = Image.new("L", (200, 200), 0)
        draw_strokes(ink, humanize(bar, 140, 8, np.random.default_rng(seed), habits))
        n, labels = _components(ink)
        assert n == 2
        assert 0.03 * 140 - 2 <= _gap(labels, 1, 2) <= 0.06 * 140 + 2  # the ink's edges, in pixels


def test_lifted_pen_digits_come_apart_in_small_gaps_and_still_ones_do_not() -> None:
    x, _ = sample_digits()
    habits = Habits(**{**STILL.__dict__, "lift": 1.0, "mid_lift": 1.0})
    lifted = still = 0
    for i in range(30):
        ink = hand_redraw(x[i], (200, 200), (20, 20, 160), 8, np.random.default_rng(i), habits)
        n, labels = _components(ink)
        if n > 1:
            lifted += 1
            gaps = [_gap(labels, 1, k) for k in range(2, n + 1)]
            assert min(gaps) <= 0.10 * 114 + 3  # 114 px: the ink's height of a 160 px field
        still += _components(hand_redraw(x[i], (200, 200), (20, 20, 160), 8, np.random.default_rng(i), STILL))[0] > 1
    assert lifted >= 20 and still <= 3  # MNIST's own broken digits stay broken


def test_loops_are_left_open_as_often_as_the_habit_says() -> None:
    paths = [p * 2 + 30 for p in skeleton_paths(_ring())]
    opened = {}
    for p_open in (0.0, 1.0):
        habits = Habits(**{**STILL.__dict__, "open_loop": p_open})
        inks = []
        for seed in range(20):
            ink = Image.new("L", (200, 200), 0)
            draw_strokes(ink, humanize(paths, 100, 6, np.random.default_rng(seed), habits))
            inks.append(ink)
        opened[p_open] = sum(_enclosed(ink) == 0 for ink in inks)
    assert opened[0.0] == 0 and opened[1.0] >= 8  # half open by a full gap, half by a share of it


def test_overshoot_runs_free_ends_on() -> None:
    bar = [np.stack([np.full(50, 100.0), np.linspace(50, 150, 50)], axis=1)]
    habits = Habits(**{**STILL.__dict__, "overshoot_p": 1.0, "overshoot": (0.1, 0.1)})
    (pts, _), = humanize(bar, 100, 6, np.random.default_rng(0), habits)
    (plain, _), = humanize(bar, 100, 6, np.random.default_rng(0), STILL)
    assert plain[:, 1].min() - pts[:, 1].min() == pytest.approx(10, abs=0.5)  # 0.1 of the height, each end
    assert pts[:, 1].max() - plain[:, 1].max() == pytest.approx(10, abs=0.5)


def test_width_swings_along_a_stroke_within_its_range() -> None:
    bar = [np.stack([np.full(80, 100.0), np.linspace(20, 180, 80)], axis=1)]
    habits = Habits(**{**STILL.__dict__, "width_var": (0.3, 0.3)})
    (_, widths), = humanize(bar, 160, 10, np.random.default_rng(3), habits)
    assert widths.min() >= 7 - 1e-9 and widths.max() <= 13 + 1e-9 and np.ptp(widths) > 2


def test_the_hand_pen_is_deterministic_per_seed() -> None:
    x, _ = sample_digits()
    a = hand_redraw(x[7], (180, 200), (10, 15, 150), 9, np.random.default_rng(5))
    b = hand_redraw(x[7], (180, 200), (10, 15, 150), 9, np.random.default_rng(5))
    c = hand_redraw(x[7], (180, 200), (10, 15, 150), 9, np.random.default_rng(6))
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()


def test_a_flag_rises_into_the_top_of_a_1_in_one_stroke_with_it() -> None:
    stem = np.stack([np.full(100, 50.0), np.linspace(10, 110, 100)], axis=1)  # drawn from the top down
    results = [flagged([stem[::-1]], np.random.default_rng(seed)) for seed in range(200)]
    with_flag = [r[0] for r in results if len(r[0]) > len(stem)]
    assert len(with_flag) / len(results) == pytest.approx(FLAG, abs=0.1)
    for path in with_flag:
        assert len(path) > len(stem) and np.array_equal(path[-len(stem):], stem)  # top first, one stroke
        foot, top = path[0], stem[0]
        rise = math.degrees(math.atan2(foot[1] - top[1], top[0] - foot[0]))  # down and to the left of the top
        assert FLAG_RISE[0] - 1e-6 <= rise <= FLAG_RISE[1] + 1e-6
    two = [stem[:50], stem[50:]]  # a 1 drawn in two pieces, or any other digit's paths: as they came
    assert all(flagged(two, np.random.default_rng(seed)) is two for seed in range(20))


def test_a_1_leaning_far_over_gets_no_flag_along_its_stem() -> None:
    leaning = np.stack([np.linspace(80, 20, 100), np.linspace(10, 60, 100)], axis=1)  # 40 degrees, top right
    assert all(flagged([leaning], np.random.default_rng(seed))[0] is leaning for seed in range(50))


def _turning(stroke: np.ndarray) -> float:
    d = np.diff(stroke, axis=0)
    d = d[np.hypot(*d.T) > 1e-9]
    a = np.unwrap(np.arctan2(d[:, 1], d[:, 0]))
    return float(np.abs(np.diff(a)).sum())


@pytest.mark.parametrize("kind", list(scr.KINDS))
def test_every_scribble_fits_the_unit_square_and_turns_more_than_a_digit(kind: str) -> None:
    for seed in range(10):
        name, strokes = scr.scribble_strokes(np.random.default_rng(seed), kind)
        pts = np.concatenate(strokes)
        assert name == kind and pts.min() >= -1e-9 and pts.max() <= 1 + 1e-9
        assert np.isclose(np.ptp(pts, axis=0).max(), 1.0)
        assert sum(_turning(s) for s in strokes) > 4 * math.pi  # an 8 turns about 4 pi
        if kind == "sparse":
            assert len(strokes) >= 2


def test_scribbles_draw_ink_inside_their_box_and_repeat_per_seed() -> None:
    inks = []
    for _ in range(2):
        rng = np.random.default_rng(11)
        _, strokes = scr.scribble_strokes(rng)
        inks.append(np.asarray(scr.draw_scribble(strokes, (200, 160), (40, 30, 100, 80), 6, rng)))
    assert np.array_equal(inks[0], inks[1])
    ys, xs = np.nonzero(inks[0])
    assert len(ys) > 200 and xs.min() >= 40 - 12 and xs.max() <= 140 + 12 and ys.min() >= 30 - 12


def test_hand_sets_are_labelled_reproducible_and_numbers_spaced() -> None:
    x, y = sample_digits()
    hand = list(ds.generate("hand", x[:6], y[:6], 6, 4, []))
    again = list(ds.generate("hand", x[:6], y[:6], 6, 4, []))
    assert [s.label for s in hand] == list(y[:6]) and [s.data for s in hand] == [s.data for s in again]
    marks = list(ds.generate("scribble", x[:1], y[:1], 5, 4, []))
    assert all(s.label == ds.NOT_DIGIT and s.style.startswith("scribble-") for s in marks)
    number = ds.number_sample(x, y, np.random.default_rng(3), hand=True)
    assert number.style.startswith("hand/spaced/") and 2 <= len(number.number) <= 5
