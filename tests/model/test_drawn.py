"""Pen strokes, canvas styles, non-digit drawings and the drawn sets built from them."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from model import load
from model.generators import canvas as cv
from model.generators import negatives as neg
from model.generators.pen import draw_segments, pen_redraw, skeleton_segments, skeletonize
from model.recipe import ink_map, preprocess
from scripts import drawn_sets as ds
from tests.helpers import sample_digits


def _holes(mask: np.ndarray) -> int:
    """Background regions enclosed by a one-pixel line: the line is thickened by a 3x3 dilation first,
    so that the background (labelled 8-connected) cannot slip through its diagonal steps."""
    from model.recipe.segmentation import label_components

    thick = np.pad(mask, 2)
    thick = thick | np.roll(thick, 1, 0) | np.roll(thick, -1, 0)
    thick = thick | np.roll(thick, 1, 1) | np.roll(thick, -1, 1)
    _, n = label_components(~thick)
    return n - 1


def test_skeleton_is_one_pixel_wide_and_keeps_loops() -> None:
    yy, xx = np.mgrid[:40, :40]
    ring = (np.hypot(yy - 20, xx - 20) < 14) & (np.hypot(yy - 20, xx - 20) > 8)  # 6 px thick
    bar = np.zeros((40, 40), bool)
    bar[18:23, 5:35] = True
    for mask, holes in ((ring, 1), (bar, 0)):
        skel = skeletonize(mask)
        assert skel.sum() < mask.sum() / 3
        assert (skel <= mask).all()
        assert _holes(skel) == holes
        # no 2x2 block of skeleton pixels: one pixel wide
        blocks = skel[:-1, :-1] & skel[1:, :-1] & skel[:-1, 1:] & skel[1:, 1:]
        assert not blocks.any()


def test_skeleton_of_a_batch_equals_each_alone() -> None:
    x, _ = sample_digits()
    masks = x[:8] >= 128
    together = skeletonize(masks)
    for m, s in zip(masks, together, strict=True):
        assert (skeletonize(m) == s).all()


def test_segments_link_8_neighbours_once() -> None:
    skel = np.zeros((5, 5), bool)
    skel[2, 1:4] = True  # three in a row: two links and three dots
    segs = skeleton_segments(skel)
    links = segs[(segs[:, 0] != segs[:, 2]) | (segs[:, 1] != segs[:, 3])]
    assert len(links) == 2 and len(segs) == 5


@pytest.mark.parametrize("width", [4.0, 12.0])
def test_pen_strokes_have_the_pen_width(width: float) -> None:
    ink = Image.new("L", (100, 100))
    draw_segments(ink, np.array([[50.0, 10.0, 50.0, 90.0]]), width)
    column = np.asarray(ink)[:, 50] > 127
    row = np.asarray(ink)[:, 50:51].any(axis=1)
    assert abs(int((np.asarray(ink)[:, 50] > 127).sum()) - width) <= 1.5
    assert row.sum() == column.sum()


def test_pen_redraw_reads_as_the_same_digit_through_preprocessing() -> None:
    from model import load

    net = load()
    x, y = sample_digits()
    images = []
    for digit in x[:60]:
        ink = pen_redraw(digit, (200, 200), (20, 20, 160), width=9)
        images.append(preprocess(cv.encode(cv.compose(ink, cv.STYLES[0]), "PNG")))
    right = (net.classify(np.stack(images))[0].argmax(axis=1) == y[:60]).mean()
    assert right >= 0.9


STYLED = [
    (style, fmt) for style in cv.STYLES for fmt in cv.FORMATS
    if style.background is not None or fmt in cv.TRANSPARENT_FORMATS
]


@pytest.mark.parametrize(("style", "fmt"), STYLED, ids=[f"{s.name}-{f}" for s, f in STYLED])
def test_every_style_and_format_carries_the_ink(style: cv.Style, fmt: str) -> None:
    ink = Image.new("L", (64, 64))
    ink.paste(255, (20, 10, 40, 50))
    data = cv.encode(cv.compose(ink, style), fmt)
    found = ink_map(Image.open(io.BytesIO(data)))
    assert found[30, 30] > 0.7 and found[5, 5] < 0.2


def test_every_negative_shape_draws_ink_inside_its_box() -> None:
    rng = np.random.default_rng(0)
    for name, shape in neg.SHAPES.items():
        ink = np.asarray(neg.draw_shape(shape(rng), (120, 120), (20, 20, 80, 80), 6, rng))
        assert ink.max() == 255, name
        rows, cols = np.nonzero(ink)
        assert rows.min() >= 5 and cols.max() <= 115, name


def test_letters_exclude_those_that_read_as_digits() -> None:
    assert not set("OoDQIlijJZzSsBGbgqTt1234567890") & set(neg.LETTERS)


def test_drawn_sets_are_reproducible_and_labelled() -> None:
    x, y = sample_digits()
    fonts, _ = ds.font_split()
    for kind in ds.KINDS:
        a = list(ds.generate(kind, x[:6], y[:6], 6, seed=3, fonts=fonts))
        b = list(ds.generate(kind, x[:6], y[:6], 6, seed=3, fonts=fonts))
        assert [s.data for s in a] == [s.data for s in b]
        assert all(s.kind == kind for s in a)
        if kind == "not-digit":
            assert all(s.label == ds.NOT_DIGIT for s in a)
        else:
            assert [s.label for s in a] == list(y[:6])


def test_number_canvas_lists_its_digits_in_order() -> None:
    x, y = sample_digits()
    s = ds.number_sample(x, y, np.random.default_rng(1))
    assert 2 <= len(s.number) <= 5 and s.number.isdigit()
    assert preprocess(s.data).max() > 0


def test_number_parts_are_labelled_by_the_ink_they_hold() -> None:
    """The reader's candidate parts of generated numbers: same seed, same parts; a part labelled with a
    digit reads as that digit (a labelling bug would make it chance); two digits read as one are
    labelled "not a digit", never more of them than digits."""
    x, y = sample_digits()
    parts = [ds.number_parts(x, y, np.random.default_rng(seed)) for seed in range(12)]
    again = ds.number_parts(x, y, np.random.default_rng(0))
    assert np.array_equal(parts[0][0], again[0]) and np.array_equal(parts[0][1], again[1])
    for images, labels in parts:
        assert images.dtype == np.uint8 and images.shape == (len(labels), 28, 28)
        assert (labels <= ds.NOT_DIGIT).all() and (labels == ds.NOT_DIGIT).sum() <= (labels < 10).sum()
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    assert (labels == ds.NOT_DIGIT).any() and (labels < 10).sum() >= 24
    net = load()
    digits = labels < 10
    assert np.mean(net.predict(images[digits])[:, :10].argmax(axis=1) == labels[digits]) >= 0.9
