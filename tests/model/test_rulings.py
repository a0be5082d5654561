"""A form's printed lines taken out before the crop (model.recipe.rulings): a digit in a box, in a row
of boxes, on a comb or over an underline reads as the digit alone, and a number in a row of boxes as
the number; digits without rulings (the MNIST sample, large 1s, 4s and 7s, shapes of digits drawn
with a ruler) are never touched; the cost stays bounded on a large image."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

import model
from model.recipe import preprocess
from model.recipe.decode import open_image
from model.recipe.fit import fit_digit, to_uint8
from model.recipe.ink import digit_ink, ink_map, normalize_ink
from model.recipe.lines import MAX_LINES, lines
from model.recipe.number_reader import read_number
from model.recipe.rulings import remove_rulings
from model.steps import run
from tests.helpers import encode

FIELD = 120  # pixels of one box of the forms drawn here


def form(digits: list[np.ndarray], kind: str, line: int = 2, shade: int = 40) -> bytes:
    """``digits`` (28x28 uint8, white on black) written dark on paper, one to a box of ``FIELD`` px,
    the printed lines ``line`` px wide in grey ``shade``: ``kind`` is "none", "boxes" (a row of boxes
    running on past the digits), "box" (a box of its own for each, apart), "comb", "tick" (a comb's
    base with its first tooth alone) or "underline"."""
    n, top = len(digits), FIELD // 4
    im = Image.new("L", (FIELD * n + FIELD // 2, FIELD * 3 // 2), 245)
    d = ImageDraw.Draw(im)
    for k in range(-1, n + 1):
        x0 = FIELD // 4 + k * FIELD
        if kind == "boxes":
            d.rectangle([x0, top, x0 + FIELD, top + FIELD], outline=shade, width=line)
        elif kind == "box" and 0 <= k < n:
            d.rectangle([x0 + 4, top, x0 + FIELD - 4, top + FIELD], outline=shade, width=line)
        elif kind in ("comb", "tick"):
            d.line([(x0, top + FIELD), (x0 + FIELD, top + FIELD)], fill=shade, width=line)
            if kind == "comb" or k == 0:
                d.line([(x0, top + FIELD * 2 // 3), (x0, top + FIELD)], fill=shade, width=line)
    if kind == "underline":
        d.line([(FIELD // 8, top + FIELD), (im.width - FIELD // 8, top + FIELD)], fill=shade, width=line)
    for k, digit in enumerate(digits):
        mask = Image.fromarray(digit).resize((FIELD * 4 // 5,) * 2, Image.Resampling.BICUBIC)
        im.paste(Image.new("L", mask.size, 20), (FIELD // 4 + k * FIELD + FIELD // 10, top + FIELD // 10), mask)
    return encode(im)


@pytest.fixture(scope="module")
def net() -> model.InferenceNetwork:
    return model.load()


@pytest.fixture(scope="module")
def one_of_each(sample: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
    """The first sample digit of each class, 0 to 9."""
    x, y = sample
    return [x[int(np.flatnonzero(y == k)[0])] for k in range(10)]


@pytest.mark.parametrize(("kind", "line", "shade"), [
    ("boxes", 2, 40), ("boxes", 4, 150), ("box", 3, 60), ("comb", 2, 40), ("comb", 3, 200), ("tick", 2, 40),
    ("underline", 2, 40),
])  # fmt: skip
def test_a_digit_on_a_form_reads_like_the_digit_alone(
    one_of_each: list[np.ndarray], net: model.InferenceNetwork, kind: str, line: int, shade: int
) -> None:
    alone = np.stack([preprocess(form([d], "none")) for d in one_of_each])
    ruled = np.stack([preprocess(form([d], kind, line, shade)) for d in one_of_each])
    assert np.abs(ruled.astype(np.int16) - alone).mean(axis=(1, 2)).max() < 2
    assert list(net.predict(ruled)[:, :10].argmax(axis=1)) == list(net.predict(alone)[:, :10].argmax(axis=1))
    assert list(net.predict(alone)[:, :10].argmax(axis=1)) == list(range(10))


@pytest.mark.parametrize("kind", ["boxes", "box", "comb", "tick", "underline"])
def test_a_number_on_a_form_reads_as_the_number(
    one_of_each: list[np.ndarray], net: model.InferenceNetwork, kind: str
) -> None:
    for number in ("714", "4170", "25"):
        data = form([one_of_each[int(c)] for c in number], kind)
        assert run(read_number(data, net.reject_threshold), net.predict).number == number


def test_the_sample_digits_are_untouched(sample: tuple[np.ndarray, np.ndarray]) -> None:
    # all 1,000: no ruling in any, so the step hands back the very array it was given
    x, _ = sample
    for digit in x:
        ink = normalize_ink(ink_map(open_image(encode(Image.fromarray(digit)))))
        assert remove_rulings(ink) is ink


@pytest.mark.parametrize("label", [1, 4, 7])
def test_large_1s_4s_and_7s_come_out_bit_identical(sample: tuple[np.ndarray, np.ndarray], label: int) -> None:
    # a tall thin 1 is a long straight vertical stroke, a 7's bar and a 4's stem long straight strokes
    x, y = sample
    for digit in x[y == label][:30]:
        big = Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BICUBIC)
        data = encode(big)
        ink = normalize_ink(ink_map(open_image(data)))
        assert remove_rulings(ink) is ink
        assert np.array_equal(preprocess(data), to_uint8(fit_digit(ink)))


SHAPES = {  # digits drawn with a ruler: every stroke thin, long and straight, none a ruling
    "7": [[(40, 30), (160, 30), (90, 180)]],
    "7, its bar apart and past the stem": [[(40, 30), (170, 30)], [(150, 36), (80, 180)]],
    "1": [[(100, 20), (100, 180)]],
    "1 with a foot": [[(70, 50), (100, 20), (100, 180)], [(60, 180), (140, 180)]],
    "11": [[(60, 20), (60, 180)], [(140, 20), (140, 180)]],
    "7 as a corner": [[(40, 30), (160, 30), (160, 180)]],
    "7 as a corner, its bar crossed": [[(40, 30), (160, 30), (160, 180)], [(120, 100), (190, 100)]],
    "101": [[(20, 20), (20, 180)], [(60, 20), (140, 20), (140, 180), (60, 180), (60, 20)], [(180, 20), (180, 180)]],
    "1 by a 4 that stops short": [[(40, 20), (40, 180)], [(150, 60), (90, 140), (180, 140)], [(160, 100), (160, 180)]],
    "141": [[(20, 20), (20, 180)], [(100, 40), (50, 120), (140, 120)], [(120, 80), (120, 160)],
            [(180, 20), (180, 180)]],
    "4": [[(120, 20), (30, 130), (170, 130)], [(130, 60), (130, 190)]],
    "open 4": [[(50, 20), (50, 110), (170, 110)], [(130, 20), (130, 190)]],
    "Z-shaped 2": [[(40, 30), (160, 30), (40, 170), (160, 170)]],
    "2, its base apart": [[(40, 60), (100, 25), (150, 60), (50, 165)], [(30, 172), (170, 172)]],
    "square 3": [[(40, 30), (160, 30), (160, 170), (40, 170)], [(70, 100), (160, 100)]],
    "square 5": [[(160, 30), (40, 30), (40, 100), (160, 100), (160, 170), (40, 170)]],
    "square 6": [[(160, 30), (40, 30), (40, 170), (160, 170), (160, 100), (40, 100)]],
    "square 8": [[(40, 30), (160, 30), (160, 170), (40, 170), (40, 30)], [(40, 100), (160, 100)]],
    "square 9": [[(160, 100), (40, 100), (40, 30), (160, 30), (160, 170), (40, 170)]],
}


@pytest.mark.parametrize("name", list(SHAPES))
@pytest.mark.parametrize("width", [3, 8])
@pytest.mark.parametrize("tight", [False, True])
def test_digits_drawn_with_a_ruler_are_untouched(name: str, width: int, tight: bool) -> None:
    # tight: cropped to the ink and a pixel of paper, its strokes at the edges as a cut box's lines are
    im = Image.new("L", (200, 200), 255)
    draw = ImageDraw.Draw(im)
    for path in SHAPES[name]:
        draw.line(path, fill=0, width=width)
    if tight:
        left, top, right, bottom = ImageOps.invert(im).getbbox()
        im = im.crop((left - 1, top - 1, right + 1, bottom + 1))
    ink = normalize_ink(ink_map(open_image(encode(im))))
    assert remove_rulings(ink) is ink


CUT = {  # digits and numbers whose strokes the image's bottom edge cuts, as a comb's teeth are cut
    "101, the 0 risen": [[(20, 60), (20, 200)], [(60, 20), (140, 20), (140, 150), (60, 150), (60, 20)],
                         [(180, 60), (180, 200)]],
    "141, the 4 taller": [[(20, 50), (20, 200)], [(110, 20), (60, 110), (150, 110)], [(120, 40), (120, 170)],
                          [(180, 50), (180, 200)]],
    "171": [[(20, 70), (20, 200)], [(60, 20), (140, 20), (100, 160)], [(180, 70), (180, 200)]],
    "a narrow 0": [[(70, 200), (70, 60), (100, 20), (130, 60), (130, 200)]],
}


@pytest.mark.parametrize("name", list(CUT))
@pytest.mark.parametrize("width", [3, 8])
def test_digits_cut_by_the_image_edge_are_untouched(name: str, width: int) -> None:
    # their strokes stand on the edge like a cut comb's teeth, but are as tall as the rest of the ink
    # or joined to it, and never as even as printed ticks cut by one straight edge
    im = Image.new("L", (200, 200), 255)
    draw = ImageDraw.Draw(im)
    for path in CUT[name]:
        draw.line(path, fill=0, width=width)
    ink = normalize_ink(ink_map(open_image(encode(im.crop((0, 0, 200, 185))))))
    assert remove_rulings(ink) is ink


def test_the_cost_is_bounded_on_a_large_image() -> None:
    side = 2048
    boxed = np.zeros((side, side), np.float32)  # a frame around a bar: found and removed
    boxed[100:110, 100:1900] = boxed[1800:1810, 100:1900] = 1
    boxed[100:1810, 100:110] = boxed[100:1810, 1890:1900] = 1
    boxed[500:1500, 900:960] = 1
    ruled = np.zeros((side, side), np.float32)  # lined paper: hundreds of lines, at most MAX_LINES kept
    ruled[::3] = 1
    noise = (np.random.default_rng(0).random((side, side)) < 0.5).astype(np.float32)
    started = time.perf_counter()
    out = remove_rulings(boxed)
    assert int(np.count_nonzero(out)) == 1000 * 60
    assert remove_rulings(ruled) is ruled and remove_rulings(noise) is noise
    assert time.perf_counter() - started < 3  # about 0.3 s on the 2-core test machine
    assert len(lines(ruled > 0, 0.6 * side, 3)) == MAX_LINES


def test_digit_ink_is_the_ink_without_the_box(one_of_each: list[np.ndarray]) -> None:
    im = open_image(form([one_of_each[7]], "boxes"))
    plain = normalize_ink(ink_map(im))
    ink = digit_ink(im)
    assert ink.shape == plain.shape and ink.dtype == np.float32
    assert 0 < np.count_nonzero(ink) < np.count_nonzero(plain)


def test_a_box_cut_along_its_lines_reads_like_the_digit_alone(
    one_of_each: list[np.ndarray], net: model.InferenceNetwork
) -> None:
    # the box's lines make most of the image's border: the median of all pixels is the background
    edge = (FIELD // 4, FIELD // 4, FIELD // 4 + FIELD + 1, FIELD // 4 + FIELD + 1)
    alone = np.stack([preprocess(form([d], "none")) for d in one_of_each])
    cut = [Image.open(io.BytesIO(form([d], "boxes", 3, 40))).crop(edge) for d in one_of_each]
    ruled = np.stack([preprocess(encode(im)) for im in cut])
    assert np.abs(ruled.astype(np.int16) - alone).mean(axis=(1, 2)).max() < 2
    assert list(net.predict(ruled)[:, :10].argmax(axis=1)) == list(range(10))


def _written(
    digit: np.ndarray, size: tuple[int, int], at: tuple[int, int], lines: list[list[tuple[int, int]]],
    widths: tuple[int, ...] = (),
) -> bytes:
    """``digit`` (28x28, white on black) written dark at ``at`` (its 28x28 box scaled to 100 px) on
    paper of ``size``, under printed ``lines`` (grey 40, ``widths`` px each, 2 by default)."""
    im = Image.new("L", size, 245)
    d = ImageDraw.Draw(im)
    for k, path in enumerate(lines):
        d.line(path, fill=40, width=widths[k] if k < len(widths) else 2)
    mask = Image.fromarray(digit).resize((100, 100), Image.Resampling.BICUBIC)
    im.paste(Image.new("L", mask.size, 20), at, mask)
    return encode(im)


def _ink_left(digit: np.ndarray) -> int:
    """The first column of ``digit``'s 28x28 box that holds ink, in the 100 px it is written at."""
    return int(np.flatnonzero(digit.max(axis=0) > 100)[0] * 100 / 28)


def test_a_digit_written_into_a_corner_of_its_box_reads_like_the_digit_alone(
    one_of_each: list[np.ndarray], net: model.InferenceNetwork
) -> None:
    box = [[(20, 20), (150, 20), (150, 150), (20, 150), (20, 20)]]
    for digit in one_of_each:
        at = (21 - _ink_left(digit), 49 + _ink_left(digit[::-1].T))  # on the left side and the bottom line
        plain, boxed = _written(digit, (170, 170), at, []), _written(digit, (170, 170), at, box)
        _reads_like_alone(net, plain, boxed)


def _reads_like_alone(net: model.InferenceNetwork, plain: bytes, ruled: bytes) -> None:
    """The digit on a form (``ruled``) crops within 3 px of the digit alone (``plain``): the lines are
    gone and the digit whole (a side is kept where the ink lies on it); and both read the same."""
    edges = [_ink_box(digit_ink(open_image(data))) for data in (plain, ruled)]
    assert np.abs(np.subtract(*edges)).max() <= 3
    (p_alone, p_ruled), is_digit = net.classify(np.stack([preprocess(plain), preprocess(ruled)]))
    assert is_digit.all() and p_ruled.argmax() == p_alone.argmax()


def _ink_box(ink: np.ndarray) -> tuple[int, int, int, int]:
    """The first and last rows and columns of ``ink`` at least as strong as the crop's level."""
    rows, cols = np.flatnonzero((ink >= 0.3).any(axis=1)), np.flatnonzero((ink >= 0.3).any(axis=0))
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def test_a_digit_just_over_a_line_that_runs_off_the_image_reads_like_the_digit_alone(
    one_of_each: list[np.ndarray], net: model.InferenceNetwork
) -> None:
    # the ink two pixels clear of the line, which runs off the left edge close to it
    line = [[(0, 124), (160, 124)]]
    for digit in one_of_each:
        rows = np.flatnonzero(digit.max(axis=1) > 100)
        at = (12 - _ink_left(digit), 120 - int((rows[-1] + 1) * 100 / 28) - 3)
        alone = preprocess(_written(digit, (160, 140), at, []))
        ruled = preprocess(_written(digit, (160, 140), at, line))
        assert np.abs(ruled.astype(np.int16) - alone).mean() < 2
        assert net.predict(ruled[None])[0, :10].argmax() == net.predict(alone[None])[0, :10].argmax()


@pytest.mark.parametrize("base", [60, 80])
def test_a_2_whose_base_lies_on_the_box_line_keeps_its_base(base: int, net: model.InferenceNetwork) -> None:
    """A 2 written large in its box, its base drawn along the box's bottom line: the base is as long as
    a ruling and lies inside the line's band, yet it is the digit's and stays."""

    def two(box: bool) -> bytes:
        im = Image.new("L", (120, 120), 245)
        d = ImageDraw.Draw(im)
        if box:
            d.rectangle([10, 10, 110, 110], outline=40, width=2)
        left = 60 - base // 2
        d.line([(left, 30), (left + base, 30), (left, 108), (left + base, 108)], fill=20, width=4, joint="curve")
        return encode(im)

    alone, boxed = digit_ink(open_image(two(False))), digit_ink(open_image(two(True)))
    assert np.abs(np.subtract(_ink_box(alone), _ink_box(boxed))).max() <= 3
    (p_alone, p_boxed), is_digit = net.classify(np.stack([preprocess(two(False)), preprocess(two(True))]))
    assert is_digit.all() and p_alone.argmax() == 2 and p_boxed.argmax() == 2




@pytest.mark.parametrize("below", [10, 30])
def test_a_digit_written_over_its_box_line_reads_like_the_digit_alone(
    one_of_each: list[np.ndarray], net: model.InferenceNetwork, below: int
) -> None:
    # the box's bottom line through the digit, its foot ``below`` px under it: much ink outside the box
    box = [[(20, 20), (150, 20), (150, 110), (20, 110), (20, 20)]]
    for digit in one_of_each:
        rows = np.flatnonzero(digit.max(axis=1) > 100)
        at = (35, 110 + below - int((rows[-1] + 1) * 100 / 28))
        plain, boxed = _written(digit, (170, 160), at, []), _written(digit, (170, 160), at, box)
        _reads_like_alone(net, plain, boxed)

def _cut_box(digit: np.ndarray, box: str) -> tuple[bytes, bytes]:
    """``digit`` (28x28, white on black) written in a box cut by the image's edge, and alone at the same
    place: ``box`` "below" (its bottom line outside the image but for a faint broken sliver in the last
    row, the digit clear of the top line), "row" (the same, in a row of boxes: the next box's side
    beside it), "apart" (the same, the boxes set apart: the near sides of the boxes either side, their
    lines cut off), "above" (its top line outside, the digit written over the bottom line) or "right" (a
    row of boxes cut through the digit's box: its lines run off both sides, its left side stands clear
    of the digit, its right side is outside and the digit reaches the edge). The sides are printed
    thicker than the lines across, as anti-aliasing leaves them."""
    rows = np.flatnonzero(digit.max(axis=1) > 100)
    size = {"above": (170, 126), "right": (140, 150)}.get(box, (170, 140))
    at = {"above": (35, 124 - int((rows[-1] + 1) * 100 / 28)), "right": (40 + _ink_left(digit[:, ::-1]), 25)}
    images = []
    for ruled in (False, True):
        im = Image.new("L", size, 245)
        d = ImageDraw.Draw(im)
        if ruled and box in ("below", "row"):
            d.line([(0, 20), (170, 20)], fill=40, width=2)
            for x in (20, 150, 162) if box == "row" else (20, 150):
                d.line([(x, 20), (x, 140)], fill=40, width=4)
            for x in range(22, 148, 7):
                d.line([(x, 139), (x + 1, 139)], fill=180)
        elif ruled and box == "apart":
            d.line([(20, 20), (150, 20)], fill=40, width=2)
            for x in (4, 20, 150, 166):
                d.line([(x, 20), (x, 140)], fill=40, width=4)
        elif ruled and box == "above":
            d.line([(0, 118), (170, 118)], fill=40, width=2)
            d.line([(20, 0), (20, 118)], fill=40, width=4)
            d.line([(150, 0), (150, 118)], fill=40, width=4)
        elif ruled:
            d.line([(0, 20), (140, 20)], fill=40, width=2)
            d.line([(0, 130), (140, 130)], fill=40, width=2)
            d.line([(20, 20), (20, 130)], fill=40, width=4)
        mask = Image.fromarray(digit).resize((100, 100), Image.Resampling.BICUBIC)
        im.paste(Image.new("L", mask.size, 20), at.get(box, (35, 40)), mask)
        images.append(encode(im))
    return images[0], images[1]


def test_a_1_touching_both_lines_of_its_box_is_not_taken_for_a_side(net: model.InferenceNetwork) -> None:
    # the stem, thicker than the printed lines, spans the box from line to line: the only ink inside
    im = Image.new("L", (120, 140), 245)
    draw = ImageDraw.Draw(im)
    draw.rectangle([10, 10, 110, 130], outline=40, width=2)
    draw.line([(60, 11), (60, 129)], fill=20, width=6)
    data = encode(im)
    top, bottom, left, right = _ink_box(digit_ink(open_image(data)))
    assert right - left <= 8 and bottom - top >= 100  # the stem alone, the box gone
    probs, is_digit = net.classify(preprocess(data)[None])
    assert is_digit[0] and probs[0].argmax() == 1


def _cut_comb(digit: np.ndarray, edge: str) -> tuple[bytes, bytes]:
    """``digit`` (28x28, white on black) alone, and written between two teeth of a comb whose base the
    image's ``edge`` ("bottom", or "top" for a comb hanging down) has cut off."""
    teeth = [[(x, 110), (x, 150)] if edge == "bottom" else [(x, 0), (x, 40)] for x in (20, 150)]
    at = (35, 20 if edge == "bottom" else 45)
    return _written(digit, (170, 150), at, []), _written(digit, (170, 150), at, teeth, (3, 3))


def _corner(digit: np.ndarray, corner: str) -> tuple[bytes, bytes]:
    """``digit`` (28x28, white on black) alone, and in the ``corner`` ("top-left", "bottom-right", ...)
    of a box that the crop cut to two sides, each running off the image at its far end."""
    y, x = (12 if corner.startswith("top") else 137), (12 if corner.endswith("left") else 137)
    sides = [[(x, y), (150 if x < 75 else 0, y)], [(x, y), (x, 150 if y < 75 else 0)]]
    return _written(digit, (150, 150), (25, 25), []), _written(digit, (150, 150), (25, 25), sides, (2, 3))


CUT_FORMS = [  # what a crop close to the digit leaves of its form: (the image pair's maker, its variant)
    *((_cut_box, box) for box in ("below", "row", "apart", "above", "right")),  # a box cut by the image's edge
    *((_cut_comb, edge) for edge in ("bottom", "top")),  # a comb's teeth, its base cut off
    *((_corner, corner) for corner in ("top-left", "top-right", "bottom-left", "bottom-right")),  # two sides
]


@pytest.mark.parametrize(("make", "variant"), CUT_FORMS, ids=[f"{m.__name__[1:]}-{v}" for m, v in CUT_FORMS])
def test_a_digit_on_a_form_cut_by_the_crop_reads_like_the_digit_alone(
    one_of_each: list[np.ndarray], net: model.InferenceNetwork, make: Callable[[np.ndarray, str], tuple[bytes, bytes]],
    variant: str,
) -> None:
    for digit in one_of_each:
        plain, ruled = make(digit, variant)
        _reads_like_alone(net, plain, ruled)
