"""A fixed check that a loaded network computes: ten sample digits it must read correctly and surely.

A weights file can pass every structural check (its checksum, its shapes, finite values) and still be
unable to read anything: weights scaled by 1e38 overflow to a uniform answer, all-zero weights answer
0.1 for every digit, permuted channels answer nonsense. Ten digits shipped beside the weights
(``weights/selfcheck.npz``: one clear MNIST test digit of each class, uint8 ``(10, 28, 28)`` white on
black, labels ``(10,)``) must each be read as their digit with a probability of at least
``MIN_CONFIDENCE``; a network that cannot is refused where it is loaded (:func:`model.load`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np

SAMPLES: Final = Path(__file__).resolve().parents[1] / "weights" / "selfcheck.npz"
MIN_CONFIDENCE: Final = 0.9  # the shipped network reads each sample at 0.999 or more


def sample_digits(path: Path = SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """The check's digits: uint8 ``(10, 28, 28)`` and their labels ``(10,)`` int64."""
    with np.load(path, allow_pickle=False) as f:
        return f["x"], f["y"].astype(np.int64)


def failures(predict: Callable[[np.ndarray], np.ndarray], path: Path = SAMPLES) -> str | None:
    """What is wrong with the readings of ``predict`` (``(N, 28, 28)`` uint8 -> ``(N, K)``
    probabilities, K >= 10) on the sample digits, as one line; None when every one is read as its
    label with at least ``MIN_CONFIDENCE``."""
    x, y = sample_digits(path)
    with np.errstate(all="ignore"):  # overflow is what the check is for: reported below, not warned
        probs = np.asarray(predict(x), np.float64)
    broken = int((~np.isfinite(probs).all(axis=1)).sum())
    if broken:
        return f"it answers NaN or infinite probabilities for {broken} of {len(y)} sample digits"
    read, sure = probs.argmax(axis=1), probs[np.arange(len(y)), y]
    bad = [(int(d), int(r), float(p)) for d, r, p in zip(y, read, sure, strict=True) if r != d or p < MIN_CONFIDENCE]
    if not bad:
        return None
    shown = ", ".join(f"a {d} read as {r} (p({d}) = {p:.2f})" for d, r, p in bad[:3])
    more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
    return (
        f"it misreads {len(bad)} of {len(y)} sample digits that a working network reads at "
        f"p >= {MIN_CONFIDENCE}: {shown}{more}"
    )
