"""Confidence that means what it says: temperature scaling, calibration error, and the refusal threshold.

The network has an 11th output, "not a digit". After training, a temperature ``T`` is fitted on
held-out digits (``softmax(logits / T)`` minimises their negative log-likelihood; Guo et al. 2017),
and a threshold on the calibrated "not a digit" probability is chosen on held-out digits and
non-digits. Both are stored in the weights metadata under ``calibration``.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from .layers.loss import softmax

NOT_DIGIT = 10  # index of the "not a digit" output, when the network has one


def split_refusal(probs: np.ndarray, threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
    """``(N, K)`` probabilities -> the digits' ``(N, 10)`` probabilities (renormalised to sum to 1: the
    closest guess) and ``(N,)`` bool ``is_digit``: False where "not a digit" reaches ``threshold``.
    A 10-output network, or no threshold, refuses nothing."""
    digits = probs[:, :NOT_DIGIT]
    if probs.shape[1] <= NOT_DIGIT or threshold is None:
        return digits, np.ones(len(probs), bool)
    total = digits.sum(axis=1, keepdims=True)
    guess = np.divide(digits, total, out=np.full_like(digits, 0.1), where=total > 0)
    return guess, probs[:, NOT_DIGIT] < threshold


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of ``(N,)`` labels under ``softmax((N, K) logits / T)``."""
    p = softmax((logits / temperature).astype(np.float64))
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(labels)), labels], 1e-300))))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, lo: float = 0.05, hi: float = 10.0) -> float:
    """The ``T`` in ``[lo, hi]`` minimising :func:`nll` (golden-section search on ``log T``; the NLL
    is convex in ``1 / T``, so the minimum is unique)."""
    a, b = np.log(lo), np.log(hi)
    g = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        c, d = b - g * (b - a), a + g * (b - a)
        if nll(logits, labels, float(np.exp(c))) < nll(logits, labels, float(np.exp(d))):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE of ``(N, K)`` probabilities: the mean gap between confidence and accuracy over ``bins``
    equal-width confidence bins, weighted by how many predictions fall in each."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs(float(correct[m].mean()) - float(conf[m].mean()))
    return float(ece)


SLACK = 0.005  # the share of held-out non-digits a threshold may give up for the digits' margin
# A floor of refused held-out non-digits (a share), and the digit kinds whose budgets give way to it.
Floor = tuple[float, tuple[str, ...]]


def _lowest(reject_digits: dict[str, np.ndarray], budgets: dict[str, float]) -> float:
    """The lowest threshold that refuses at most ``budgets[name]`` of each ``reject_digits[name]`` (a
    budget of ``k / N`` allows ``k`` digits, whatever its rounding). The step above the first digit
    kept is taken in the probabilities' own precision: the service compares float32 probabilities
    with the threshold in float32, where a float64 step would round back onto that digit."""
    lowest = 0.0
    for name, p in reject_digits.items():
        allowed = int(np.floor(budgets[name] * len(p) + 1e-9))
        ranked = np.sort(p)[::-1]
        if allowed < len(p):  # refusing p >= t must catch at most `allowed` digits
            lowest = max(lowest, float(np.nextafter(ranked[allowed], ranked.dtype.type(1))))
    return min(max(lowest, 1e-6), 1.0)


def choose_threshold(
    reject_digits: dict[str, np.ndarray], reject_negatives: np.ndarray, budgets: dict[str, float],
    slack: float = SLACK, floor: float | None = None, yielding: Collection[str] = (),
) -> float:
    """A threshold on the "not a digit" probability (refuse when ``p >= t``), from held-out data.

    ``reject_digits[name]`` are ``(N,)`` probabilities on digit sets, each allowed to lose at most
    ``budgets[name]`` of its digits; ``reject_negatives`` on non-digits. The lowest threshold within
    the budgets refuses the most non-digits; of the thresholds that refuse within ``slack`` of that
    most, the highest is returned, so that digits keep the margin the non-digits do not need. Without
    non-digits, that lowest threshold.

    ``floor``: a share of the non-digits to refuse however that margin is chosen; the digit kinds named
    in ``yielding`` give up their budgets as far as reaching it needs, the others' budgets hold. A
    fine-tune sets it from the base network, so that a few odd images of the user's cannot make the
    service refuse fewer non-digits than before.
    """
    digits, negatives = reject_digits, np.asarray(reject_negatives)
    lowest = _lowest(digits, budgets)
    if not len(negatives):
        return lowest
    refused = float(np.mean(negatives >= lowest))
    target = refused - slack
    if floor is not None:
        if refused < floor:
            firm = _lowest({k: p for k, p in digits.items() if k not in yielding}, budgets)
            needed = min(max(int(np.ceil(floor * len(negatives) - 1e-9)), 1), len(negatives))
            reach = float(np.sort(negatives)[::-1][needed - 1])  # refusing p >= reach catches `needed`
            lowest = max(firm, min(lowest, reach))
            refused = float(np.mean(negatives >= lowest))
        target = max(refused - slack, min(floor, refused))
    candidates = np.concatenate([[lowest], np.linspace(lowest, 0.999, 400)])
    return float(max(t for t in candidates if np.mean(negatives >= t) >= target))
