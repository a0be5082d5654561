"""Temperature scaling, calibration error, the refusal threshold and how refusals are split off."""

from __future__ import annotations

import numpy as np

from model.calibration import (
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    nll,
    split_refusal,
)
from model.layers.loss import softmax


def _sampled(temperature: float, n: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels drawn from softmax(logits / temperature): calibrated at that temperature."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (n, 5))
    p = softmax(logits / temperature)
    labels = (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    return logits, labels


def test_fit_temperature_recovers_the_true_one() -> None:
    logits, labels = _sampled(2.0)
    t = fit_temperature(logits, labels)
    assert abs(t - 2.0) < 0.1
    assert nll(logits, labels, t) <= min(nll(logits, labels, 1.0), nll(logits, labels, 4.0))


def test_calibration_error_is_small_when_calibrated_and_falls_with_the_temperature() -> None:
    logits, labels = _sampled(2.0)
    assert expected_calibration_error(softmax(logits / 2.0), labels) < 0.02
    assert expected_calibration_error(softmax(logits), labels) > 0.05


def test_threshold_stays_within_the_digit_budgets() -> None:
    rng = np.random.default_rng(1)
    digits = {"canvas": rng.beta(1, 30, 2000), "pen": rng.beta(1, 15, 1000)}
    negatives = rng.beta(8, 2, 1000)
    t = choose_threshold(digits, negatives, {"canvas": 0.005, "pen": 0.01})
    assert np.mean(digits["canvas"] >= t) <= 0.005
    assert np.mean(digits["pen"] >= t) <= 0.01
    assert np.mean(negatives >= t) > 0.9


def test_a_floor_of_refused_non_digits_overrules_the_yielding_budgets_only() -> None:
    rng = np.random.default_rng(3)
    digits = {"canvas": rng.beta(1, 30, 2000), "yours": np.array([0.97, 0.9, *rng.beta(1, 20, 58)])}
    negatives = rng.beta(6, 2, 2000)
    budgets = {"canvas": 0.005, "yours": 1 / 60}
    free = choose_threshold(digits, negatives, budgets)
    assert free > 0.9  # one odd image of the user's may be refused, not two: the threshold stays high
    floor = float(np.mean(negatives >= 0.5))
    held = choose_threshold(digits, negatives, budgets, floor=floor, yielding=("yours",))
    assert np.mean(negatives >= held) >= floor and held < free
    assert np.mean(digits["canvas"] >= held) <= 0.005
    assert choose_threshold(digits, negatives, budgets, floor=0.0, yielding=("yours",)) == free


def test_an_unreachable_floor_stops_at_the_firm_budgets_exactly() -> None:
    """Non-digits the network barely tells from canvases: the floor cannot be reached, and the threshold
    refuses exactly the canvases their budget allows, compared in float32 as the service compares."""
    rng = np.random.default_rng(4)
    canvas = rng.beta(1, 30, 2000).astype(np.float32)
    negatives = rng.beta(1, 20, 2000).astype(np.float32)
    budgets = {"canvas": 0.005, "yours": 0.5}
    yours = np.full(10, 0.99, np.float32)
    t = choose_threshold({"canvas": canvas, "yours": yours}, negatives, budgets, floor=0.9, yielding=("yours",))
    assert int(np.count_nonzero(canvas >= t)) == 10  # 0.5 % of 2,000, not 11
    assert np.mean(yours >= t) == 1.0  # the user's digits gave way entirely


def test_the_threshold_keeps_a_float32_budget_to_the_digit() -> None:
    p = np.linspace(0.001, 0.6, 1000).astype(np.float32)
    negatives = np.linspace(0.0, 1.0, 1000).astype(np.float32)  # every step up costs non-digits
    t = choose_threshold({"pen": p}, negatives, {"pen": 0.01}, slack=0.0)
    assert int(np.count_nonzero(p >= t)) == 10


def test_split_refusal_renormalises_the_digits() -> None:
    probs = np.array([[0.5, 0.1] + [0.0] * 8 + [0.4], [0.05] + [0.0] * 9 + [0.95]], np.float32)
    digits, is_digit = split_refusal(probs, 0.5)
    assert digits.shape == (2, 10)
    np.testing.assert_allclose(digits.sum(axis=1), 1, rtol=1e-6)
    assert is_digit.tolist() == [True, False]
    assert digits[1].argmax() == 0  # the closest guess survives a refusal


def test_ten_output_networks_never_refuse() -> None:
    probs = softmax(np.random.default_rng(2).normal(size=(4, 10)))
    digits, is_digit = split_refusal(probs, 0.5)
    assert is_digit.all() and (digits == probs).all()
