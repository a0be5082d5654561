"""The recipe's Lanczos resize as two matrix products (``model/recipe/resample.py``) gives Pillow's
resize of the same box to float32 rounding, and the digits fitted through it are Pillow's digits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from model.recipe import fit, resample
from model.recipe.fit import pad_zeros

ULP = 2.0**-23  # float32's spacing just below 1.0: the resize's values lie in about [-0.1, 1.1]


def pillow(image: np.ndarray, box: tuple[float, float, float, float], pad: int, side: int) -> np.ndarray:
    source = Image.fromarray(pad_zeros(image, pad) if pad else image)
    return np.asarray(source.resize((side, side), Image.Resampling.LANCZOS, box=box))


def a_box(rng: np.random.Generator, height: int, width: int, scale: float) -> tuple[tuple[float, ...], int]:
    """A ``scale``-times resize's box around a random centre of the image, as ``fit_digit`` sets one up:
    zero padding where the box leaves the image."""
    span = 28 / scale
    y0, x0 = rng.uniform(-span / 2, height - span / 2), rng.uniform(-span / 2, width - span / 2)
    pad = math.ceil(max(-y0, -x0, y0 + span - height, x0 + span - width, 0))
    return (x0 + pad, y0 + pad, x0 + pad + span, y0 + pad + span), pad


@pytest.mark.parametrize("seed", range(4))
def test_the_matrices_give_pillows_resize_to_float32_rounding(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(150):
        height, width = (int(v) for v in rng.integers(3, 400, 2))
        image = (rng.random((height, width)) * (rng.random((height, width)) < 0.4)).astype(np.float32)
        scale = float(rng.uniform(0.05, 4.0) if rng.random() < 0.3 else 20 / max(height, width))
        box, pad = a_box(rng, height, width, scale)
        ours, theirs = resample.resize(image, box, pad, 28), pillow(image, box, pad, 28)
        assert ours.dtype == np.float32 and ours.shape == (28, 28)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=2 * ULP)


def test_each_output_pixels_taps_sum_to_one_and_stay_inside_the_image() -> None:
    weights = resample.taps(50, 0.25, 49.5, 7)
    assert weights.shape == (7, 50)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    edge = resample.taps(50, 0.0, 50.0, 5)[0]  # the first pixel's filter reaches past the left edge
    assert edge[0] > 0 and np.isclose(edge.sum(), 1.0)


def test_large_digits_fit_as_through_pillow(sample: tuple[np.ndarray, np.ndarray], monkeypatch) -> None:
    """Digits drawn 280 and 560 px tall: the matrices and Pillow's resize give the same uint8 digits
    (a float32 rounding may move a pixel by one level)."""
    rng = np.random.default_rng(0)
    inks = []
    for digit, side in zip(sample[0][:60], rng.choice([280, 560], 60), strict=True):
        big = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC))
        inks.append(big.astype(np.float32) / 255)
    assert min(ink.shape[0] for ink in inks) >= resample.MATRICES_FROM
    ours = np.stack([fit.to_uint8(fit.fit_digit(ink)) for ink in inks])
    monkeypatch.setattr(resample, "MATRICES_FROM", 10**6)  # every crop through Pillow
    theirs = np.stack([fit.to_uint8(fit.fit_digit(ink)) for ink in inks])
    moved = np.abs(ours.astype(int) - theirs.astype(int))
    assert moved.max() <= 1 and np.count_nonzero(moved) <= moved.size // 10_000
