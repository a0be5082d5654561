"""The second look at unsure digits (``model.second_look``): the shift, which rows are looked at again,
and that /predict gives it while the parts of a number are left as read."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from app.predictor import Predictor
from model import load
from model.calibration import split_refusal
from model.recipe.number_reader import read_number
from model.second_look import SECOND_LOOK_BELOW, SHIFTS, look_again, shift
from model.steps import run
from tests.helpers import ROOT, png, sample_digits


def test_shift_moves_the_ink_and_fills_with_background() -> None:
    x = np.arange(1, 17, dtype=np.uint8).reshape(1, 4, 4)
    down = shift(x, 1, 0)
    assert down.dtype == np.uint8 and down.shape == x.shape
    assert (down[0, 0] == 0).all() and (down[0, 1:] == x[0, :3]).all()
    left = shift(x, 0, -1)
    assert (left[0, :, 3] == 0).all() and (left[0, :, :3] == x[0, :, 1:]).all()
    assert (shift(x[:, None], -1, 1)[:, 0] == shift(x, -1, 1)).all()  # a channel axis: the last two move
    assert (shift(x, 0, 0) == x).all()


class Recorder:
    """``predict`` answering ``answer(images)``, recording each call's images."""

    def __init__(self, answer: Any) -> None:
        self.answer, self.calls = answer, []  # type: ignore[var-annotated]

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.calls.append(images.copy())
        return np.asarray(self.answer(images), np.float32)


def test_only_the_unsure_rows_are_looked_at_again_in_one_call() -> None:
    x, _ = sample_digits()
    images = x[:3]
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.79, 0.21]], np.float32)  # the first is sure
    views = Recorder(lambda im: np.tile([[0.1, 0.9]], (len(im), 1)))
    out = look_again(views, images, probs)
    assert len(views.calls) == 1 and len(views.calls[0]) == 2 * len(SHIFTS)
    assert (views.calls[0][0] == shift(images[1], *SHIFTS[0])).all()  # views grouped by shift
    assert (views.calls[0][2] == shift(images[1], *SHIFTS[1])).all()
    assert out[0].tolist() == probs[0].tolist() and probs[1].tolist() == [0.5, 0.5]  # input not changed
    np.testing.assert_allclose(out[1], [(0.5 + 4 * 0.1) / 5, (0.5 + 4 * 0.9) / 5], rtol=1e-6)
    np.testing.assert_allclose(out[2], [(0.79 + 4 * 0.1) / 5, (0.21 + 4 * 0.9) / 5], rtol=1e-6)
    np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-6)

    sure = Recorder(lambda im: None)
    assert look_again(sure, images[:1], probs[:1]).tolist() == probs[:1].tolist() and not sure.calls
    assert look_again(sure, images[:0], probs[:0]).shape == (0, 2) and not sure.calls
    assert SECOND_LOOK_BELOW == 0.8


@pytest.fixture(scope="module")
def net() -> Any:
    return load(ROOT / "weights" / "default.npz")


def test_the_shipped_network_reads_an_unsure_digit_again(net: Any) -> None:
    x, y = sample_digits()
    first = net.predict(x)
    unsure = np.flatnonzero(first.max(axis=1) < SECOND_LOOK_BELOW)
    assert 0 < len(unsure) < 0.05 * len(x)  # a few of the 1,000 digits, not many
    probs, is_digit = net.classify(x)
    again = look_again(net.predict, x, first)
    expected, _ = split_refusal(again, net.reject_threshold)
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    sure = np.setdiff1d(np.arange(len(x)), unsure)
    np.testing.assert_allclose(again[sure], first[sure])
    assert not np.allclose(again[unsure], first[unsure], atol=1e-3)
    assert np.mean((probs.argmax(axis=1) == y) & is_digit) >= 0.99


class Unsure:
    """A network torn between 3 and 5 on every image, recording its batch sizes."""

    metadata: dict[str, Any] = {"name": "unsure", "sha256": "0" * 64}

    def __init__(self) -> None:
        self.batches: list[int] = []

    def predict(self, images: np.ndarray) -> np.ndarray:
        self.batches.append(len(images))
        p = np.zeros((len(images), 10), np.float32)
        p[:, 3], p[:, 5] = 0.6, 0.4
        return p


def test_predict_looks_again_and_number_parts_are_left_as_read() -> None:
    x, _ = sample_digits()
    ink = np.zeros((60, 200), np.uint8)
    ink[16:44, 20:48], ink[16:44, 120:148] = x[0], x[1]  # two digits far apart: one round, two digits
    net = Unsure()
    predictor = Predictor(net)
    predictor.start()  # one warm-up call
    try:
        net.batches.clear()
        lone = asyncio.run(predictor.predict(png(x[0])))
        assert net.batches == [1, len(SHIFTS)] and lone.digit == 3

        async def two() -> list[Any]:
            return list(await asyncio.gather(predictor.predict(png(x[1])), predictor.predict(png(x[2]))))

        net.batches.clear()
        answers = asyncio.run(two())  # one or two batches
        assert sum(net.batches) == 2 + 2 * len(SHIFTS) and all(a.digit == 3 for a in answers)
        net.batches.clear()
        number = asyncio.run(predictor.read_number(png(255 - ink)))
        assert len(number.digits) == 2 and net.batches == [2, 2 * len(SHIFTS)]  # the parts, then the chosen
    finally:
        predictor.close()


def test_the_number_reader_looks_again_at_the_digits_it_chose_unsurely() -> None:
    x, _ = sample_digits()
    ink = np.zeros((60, 200), np.uint8)
    ink[16:44, 20:48], ink[16:44, 120:148] = x[0], x[1]  # two digits far apart: one round, two digits
    net = Unsure()
    digits = run(read_number(png(255 - ink), None), net.predict).digits
    assert len(digits) == 2 and all(int(d.probabilities.argmax()) == 3 for d in digits)
    assert net.batches[-1] == 2 * len(SHIFTS)  # both read at 0.6: one more call, four views of each
    net.batches.clear()

    class Sure(Unsure):
        def predict(self, images: np.ndarray) -> np.ndarray:
            p = super().predict(images)
            p[:, 3], p[:, 5] = 0.9, 0.1
            return p

    sure = Sure()
    assert len(run(read_number(png(255 - ink), None), sure.predict).digits) == 2 and sure.batches == [2]
