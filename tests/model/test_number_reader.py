"""Reading a whole number (``model.recipe.number_reader`` and its parts): the split into digits, the
rounds of reading, the rules that keep a drawing whole, and the second reading, run as the scripts
run it (``model.steps.run``)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

import model
from model.calibration import split_refusal
from model.recipe import preprocess
from model.recipe.number_choice import (
    DigitReading,
    best_spans,
    better_reading,
    digit_readings,
    one_digit,
    refuse_cut_strokes,
    to_recut,
)
from model.recipe.number_parts import Parts, candidate_spans, find_parts, prepare
from model.recipe.number_reader import choosing, read_number, reading
from model.recipe.number_split import uncut_spans, unsettled
from model.recipe.number_tuning import TUNING
from model.recipe.segmentation import Atom
from model.second_look import SECOND_LOOK_BELOW, SHIFTS
from model.steps import Classify, Done, advance, run
from scripts import drawn_sets
from tests.helpers import write_number as write

NO_INK = np.zeros((1, 1), np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["canvas", "pen"])
def test_drawn_digits_read_alone_as_through_predict(sample: tuple[np.ndarray, np.ndarray], kind: str) -> None:
    """300 drawn digits (the evaluation sets' canvases or pen redraws of sample digits): the number
    reader gives each one part, read as /predict reads it, all but at most one (a pen-drawn 4 whose
    slanted stem reads as a sure 1 beside a sure 4 is cut in two). A digit drawn in pieces (pen gaps, a
    flag) has short strokes; unless the whole drawing is a candidate, some were split into two digits."""
    x, y = sample
    net = model.load()
    drawn = list(drawn_sets.generate(kind, x[:300], y[:300], 300, 3, []))
    probs, is_digit = split_refusal(net.predict(np.stack([preprocess(s.data) for s in drawn])), net.reject_threshold)
    differ = []
    for k, (s, p, ok) in enumerate(zip(drawn, probs, is_digit, strict=True)):
        parts = run(read_number(s.data, net.reject_threshold), net.predict).digits
        if [(int(d.probabilities.argmax()), d.is_digit) for d in parts] != [(int(p.argmax()), bool(ok))]:
            differ.append((k, s.label, [int(d.probabilities.argmax()) for d in parts], int(p.argmax())))
    assert len(differ) <= 1, differ




def _one_stroke_cut_in_two(part_confidences: tuple[float, float], refused_whole: float) -> list[tuple[int, int]]:
    """The spans refuse_cut_strokes keeps for one stroke cut into two parts read at ``part_confidences``
    (each as a digit), the whole stroke refused at ``refused_whole``."""
    pieces = [Atom(np.ones((4, 4), bool), 0, 0, 4, 4, stroke=0), Atom(np.ones((4, 4), bool), 4, 0, 8, 4, stroke=0)]
    spans = [(0, 1), (1, 2), (0, 2)]
    found = Parts(NO_INK, pieces, spans, 1, (1.0, 1.0), splittable=2, images=np.zeros((3, 28, 28), np.uint8))
    scores = np.zeros((3, 11))
    for row, (digit, p) in enumerate(zip((3, 5), part_confidences, strict=True)):
        scores[row, digit], scores[row, 10] = p, 1 - p
    scores[2, 10], scores[2, 0] = refused_whole, 1 - refused_whole
    return [spans[s] for s in refuse_cut_strokes(found, scores, [0, 1], threshold=0.9)]


def test_a_cut_stroke_is_refused_whole_by_how_surely_its_parts_read_together() -> None:
    assert _one_stroke_cut_in_two((0.975, 0.999), 0.999) == [(0, 1), (1, 2)]  # one part just below SURE
    assert _one_stroke_cut_in_two((0.9, 0.9), 0.99) == [(0, 2)]  # a star cut into "88"
    assert _one_stroke_cut_in_two((0.9, 0.9), 0.5) == [(0, 1), (1, 2)]  # the whole not refused


def _whole_or_parts(whole: tuple[int, float], parts: tuple[float, float], second: tuple[int, int] = (10, 20)) -> str:
    """What one_digit keeps of a drawing of two strokes, the first in columns 0-10 and the second in
    ``second``, read as digits at ``parts``; the whole drawing read as ``whole`` (digit, probability;
    digit 10 is "not a digit"; the rest goes to the next digit)."""
    x0, x1 = second
    pieces = [Atom(np.ones((10, 10), bool), 0, 0, 10, 10, 0), Atom(np.ones((10, x1 - x0), bool), x0, 0, x1, 10, 1)]
    found = Parts(NO_INK, pieces, [(0, 1), (1, 2), (0, 2)], 1, (1.0, 1.0), 3, images=np.zeros((3, 28, 28), np.uint8))
    scores = np.zeros((3, 11))
    scores[0, 3], scores[1, 1] = parts
    scores[:2, 10] = 1 - np.array(parts)
    scores[2, whole[0]], scores[2, (whole[0] + 1) % 11] = whole[1], 1 - whole[1]
    return "whole" if one_digit(found, scores, [0, 1], threshold=0.5) == [2] else "parts"


def test_a_drawing_read_surely_whole_is_one_digit_unless_its_parts_read_more_surely_side_by_side() -> None:
    assert _whole_or_parts((5, 0.99), (0.95, 0.9)) == "whole"  # a 5 in pen pieces, not "31"
    assert _whole_or_parts((6, 0.98), (0.997, 0.997)) == "parts"  # "16", its 6 read through the 1
    assert _whole_or_parts((3, 0.93), (0.997, 0.997), second=(7, 10)) == "whole"  # a 3's loose tail end
    assert _whole_or_parts((3, 0.85), (0.95, 0.9)) == "parts"  # not sure enough as one digit
    assert _whole_or_parts((10, 0.99), (0.95, 0.9)) == "parts"  # refused whole
    assert _whole_or_parts((2, 0.74), (0.9, 0.84)) == "whole"  # halves read unsurely: the digit /predict reads
    assert _whole_or_parts((2, 0.74), (0.95, 0.9)) == "parts"  # halves read surely enough: a number
    assert _whole_or_parts((10, 0.9), (0.9, 0.84)) == "parts"  # unsure halves of something refused whole


def _rounds(data: bytes, net: model.InferenceNetwork) -> tuple[list[int], list[DigitReading]]:
    """The candidates each round of ``reading`` scored, and its digits."""
    program, sizes = reading(find_parts(data), net.reject_threshold), []
    step = advance(program)
    while isinstance(step, Classify):
        sizes.append(len(step.digits))
        step = advance(program, net.predict(step.digits))
    assert isinstance(step, Done)
    return sizes, step.value


@pytest.mark.parametrize(("start", "gap", "rounds"), [(0, 0.3, 1), (8, -0.2, 2)])
def test_the_slices_of_strokes_are_read_only_when_they_could_change_the_split(
    sample: tuple[np.ndarray, np.ndarray], start: int, gap: float, rounds: int
) -> None:
    x, _ = sample
    net = model.load()
    data = write(list(x[start : start + 4]), gap=gap)  # spaced: every stroke a sure digit; overlapping: cut
    found = prepare(find_parts(data))
    sizes, digits = _rounds(data, net)
    unsure = [d for d in digits if d.probabilities.max() < SECOND_LOOK_BELOW]
    looks = sizes[rounds:]  # then one more round when chosen digits read unsurely: 4 shifted views each
    assert len(looks) <= 1 and all(n % len(SHIFTS) == 0 for n in looks) and (not unsure or looks), sizes
    assert sum(sizes[:rounds]) < len(found.spans), (sizes, len(found.spans))
    every = run(choosing(found, net.reject_threshold, net.predict(found.digits)), net.predict)  # all at once
    assert [(d.box, d.is_digit, int(d.probabilities.argmax())) for d in digits] == [
        (d.box, d.is_digit, int(d.probabilities.argmax())) for d in every
    ]
    np.testing.assert_allclose([d.probabilities for d in digits], [d.probabilities for d in every], atol=1e-4)


def test_only_the_slices_that_could_still_win_are_read() -> None:
    # Strokes 0 and 1, each cut in two; each whole stroke read as one digit, stroke 0 at p, stroke 1 surely.
    pieces = [Atom(np.ones((10, 6), bool), 6 * k + (8 if k > 1 else 0), 0, 6 * k + 6 + (8 if k > 1 else 0), 10, k // 2)
              for k in range(4)]
    spans = [(0, 1), (0, 2), (1, 2), (2, 3), (2, 4), (3, 4)]
    parts = Parts(np.zeros((10, 40), np.float32), pieces, spans, 1, (1.0, 1.0), len(spans))
    read = uncut_spans(parts)
    assert [spans[s] for s in read] == [(0, 2), (2, 4)]

    def scores(p: float) -> np.ndarray:
        out = np.zeros((2, 11))
        out[0, 4], out[0, 10], out[1, 7], out[1, 10] = p, 1 - p, 0.999, 0.001
        return out

    assert unsettled(parts, read, scores(0.99), 0.9) == []  # a cut costs 0.1 + 0.6 > -log 0.99
    # -log 0.4 = 0.92: two sure halves of stroke 0 would win; stroke 1's halves could not beat its 0.999
    assert [spans[s] for s in unsettled(parts, read, scores(0.4), 0.9)] == [(0, 1), (1, 2)]


def _reads(parts: list[DigitReading], number: str) -> bool:
    return all(p.is_digit for p in parts) and "".join(str(int(p.probabilities.argmax())) for p in parts) == number


@pytest.mark.slow
def test_generated_numbers_are_read_exactly(sample: tuple[np.ndarray, np.ndarray]) -> None:
    # 300 numbers of 2-5 digits of the test sample, the evaluation generator's mix (pixels or pen,
    # spaced or tight): 277 read exactly with the shipped network, 273 by the first reading alone
    # (the second, with finer cuts, reads parts the first refused beside digits; 72e63bb5d00b read
    # 280 and 277, and evaluate's 1,000 numbers 96.2 % against the shipped network's 96.0 %);
    # 272 when every stroke up to a digit wide was cut 3 times and no closer than 1/4 line height to its
    # edges (a 1 touching a 6 was lost).
    x, y = sample
    net = model.load()
    rng = np.random.default_rng(7)
    right = first_right = 0
    for s in (drawn_sets.number_sample(x, y, rng) for _ in range(300)):
        found = prepare(find_parts(s.data))
        scores = net.predict(found.digits)
        first_right += _reads(digit_readings(found, scores, best_spans(found, scores, net.reject_threshold),
                                             net.reject_threshold), s.number)
        right += _reads(run(read_number(s.data, net.reject_threshold), net.predict).digits, s.number)
    assert right >= 275 and right >= first_right + 2, (right, first_right)




def _reading(digit: int, confidence: float, is_digit: bool = True, strokes: tuple[int, ...] = ()) -> DigitReading:
    probabilities = np.full(10, (1 - confidence) / 9, np.float32)
    probabilities[digit] = confidence
    return DigitReading(probabilities, is_digit, np.zeros((28, 28), np.uint8), (0, 0, 1, 1), frozenset(strokes))


def test_a_second_reading_only_beside_read_digits_and_kept_only_when_sure() -> None:
    one, refused = _reading(1, 0.99, strokes=(0,)), _reading(4, 0.5, is_digit=False, strokes=(1, 2))
    assert to_recut([one, refused, _reading(7, 0.4, is_digit=False, strokes=(4,))]) == {1, 2, 4}
    assert not to_recut([refused])  # a lone letter cut finely reads as a sure "17"
    assert not to_recut([one, one])
    first = [one, refused]
    second = [one, _reading(1, 0.999), _reading(9, 0.995)]
    assert better_reading(first, second) is second
    assert better_reading(first, [one, _reading(1, 0.9), _reading(9, 0.9)]) is first  # digits, but unsure
    assert better_reading(first, [one, _reading(1, 0.999), refused]) is first  # still a refused part


def _pen_drawing(strokes: list[list[tuple[int, int]]], size: tuple[int, int] = (300, 160)) -> bytes:
    """Black pen strokes (polylines, 9 px wide) on a white ``size`` canvas, as PNG bytes."""
    image = Image.new("L", size, 255)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line(stroke, fill=0, width=9, joint="curve")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


FOUR_IN_TWO_STROKES = [[(40, 30), (30, 90), (88, 90)], [(96, 30), (96, 130)]]  # the upright a pen lift away


@pytest.mark.parametrize(
    ("strokes", "number"),
    [
        (FOUR_IN_TWO_STROKES + [[(170, 35), (225, 35), (190, 130)]], "47"),  # not "617"
        (FOUR_IN_TWO_STROKES + [[(140, 30), (140, 130)]], "41"),  # a 1 a line height away stays a digit
        ([[(150, 30), (150, 130)], [(165, 35), (215, 35), (185, 130)]], "17"),  # close, but better apart
    ],
)
def test_a_digit_drawn_in_pieces_stays_whole_and_a_1_beside_a_7_stays_two(
    strokes: list[list[tuple[int, int]]], number: str
) -> None:
    net = model.load()
    read = run(read_number(_pen_drawing(strokes), net.reject_threshold), net.predict)
    assert "".join(str(int(d.probabilities.argmax())) for d in read.digits if d.is_digit) == number


def test_strokes_near_each_other_may_be_one_digit_however_little_they_overlap() -> None:
    def atom(x0: int, y0: int, x1: int, y1: int, stroke: int) -> Atom:
        return Atom(np.ones((y1 - y0, x1 - x0), bool), x0, y0, x1, y1, stroke)

    line = 100.0  # two tall strokes side by side, no overlap: one digit only if the gap is small
    near, far = TUNING.near_gap * line - 1, TUNING.near_gap * line + 1
    assert (0, 2) in candidate_spans([atom(0, 0, 40, 100, 0), atom(40 + int(near), 0, 60 + int(near), 100, 1)], line)
    assert (0, 2) not in candidate_spans([atom(0, 0, 40, 100, 0), atom(40 + int(far) + 1, 0, 80, 100, 1)], line)
    # a 9's tail lifted off below its loop, overlapping it by a sliver
    assert (0, 2) in candidate_spans([atom(0, 0, 50, 50, 0), atom(48, 60, 56, 120, 1)], line)
