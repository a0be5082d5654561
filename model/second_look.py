"""A second look at the digits the network is unsure of: the same digit shifted one pixel each way.

A drawn digit comes to the network through a crop, a resize and a centring of its mass, which can
leave it a fraction of a pixel away from where MNIST's recipe puts its scans. Where the network's top
probability is under :data:`SECOND_LOOK_BELOW`, its reading is averaged with four more: the digit
moved one pixel up, down, left and right (shift-averaging, the cheapest kind of test-time
augmentation). Sure readings are kept as they are, so the cost is four more passes for the few unsure
digits. The threshold was chosen on the training run's held-out digits (benchmarks/README.md has the
figures).

This is the one place the second look is applied: :func:`look` reads digits with it, and
:func:`refine` gives it to digits already read; both are programs (:mod:`model.steps`), run by the
service's scheduler, by :func:`model.steps.run`, or by :func:`look_again`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .steps import Classify, Program, run

SECOND_LOOK_BELOW = 0.8  # a top probability (calibrated) under this gets the second look
SHIFTS: tuple[tuple[int, int], ...] = ((-1, 0), (1, 0), (0, -1), (0, 1))  # (down, right) in pixels


def shift(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``(..., H, W)`` images moved ``dy`` pixels down and ``dx`` right (negative: up, left); what
    leaves the frame is lost and what enters is background (0). Same shape and dtype."""
    out = np.zeros_like(images)
    h, w = images.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def unsure_rows(probs: np.ndarray, below: float = SECOND_LOOK_BELOW) -> np.ndarray:
    """Indices of the ``(N, K)`` rows whose largest probability is under ``below``: ``(M,)`` intp."""
    return np.flatnonzero(probs.max(axis=1) < below) if len(probs) else np.zeros(0, np.intp)


def views(images: np.ndarray) -> np.ndarray:
    """The ``(M, ...)`` images shifted by each of :data:`SHIFTS`: ``(len(SHIFTS) * M, ...)``, grouped by
    shift (all images moved the first way, then the second...)."""
    return np.concatenate([shift(images, dy, dx) for dy, dx in SHIFTS])


def average(probs: np.ndarray, view_probs: np.ndarray) -> np.ndarray:
    """``(M, K)`` readings averaged with ``(len(SHIFTS) * M, K)`` readings of their :func:`views`:
    ``(M, K)`` float32, rows still summing to 1."""
    stacked = np.asarray(view_probs, np.float32).reshape(len(SHIFTS), len(probs), -1)
    out: np.ndarray = ((probs + stacked.sum(axis=0)) / np.float32(1 + len(SHIFTS))).astype(np.float32)
    return out


def look(digits: np.ndarray) -> Program[np.ndarray]:
    """Read ``(N, 28, 28)`` uint8 digits with the second look: ``(N, K)`` float32 probabilities."""
    probs = yield Classify(digits)
    return (yield from refine(digits, probs))


def refine(digits: np.ndarray, probs: np.ndarray, below: float = SECOND_LOOK_BELOW) -> Program[np.ndarray]:
    """``probs`` (``(N, K)``, the network's reading of ``digits``) with each row whose largest value is
    under ``below`` replaced by the mean of it and the readings of its digit shifted by each of
    :data:`SHIFTS`, in one :class:`~model.steps.Classify` step for all the unsure rows (none when every
    row is sure). ``digits``: ``(N, 28, 28)`` (or ``(N, 1, 28, 28)``), background 0. Returns a new
    ``(N, K)`` float32 array (rows still sum to 1)."""
    out = np.array(probs, dtype=np.float32, copy=True)
    unsure = unsure_rows(out, below)
    if len(unsure):
        out[unsure] = average(out[unsure], (yield Classify(views(digits[unsure]))))
    return out


def look_again(
    predict: Callable[[np.ndarray], np.ndarray],
    images: np.ndarray,
    probs: np.ndarray,
    below: float = SECOND_LOOK_BELOW,
) -> np.ndarray:
    """:func:`refine` run with ``predict`` in this thread."""
    return run(refine(images, probs, below), predict)
