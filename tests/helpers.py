"""Shared test data: the 1000-digit MNIST test-set sample shipped under tests/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "mnist_test_sample.npz"
FULL_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def sample_digits() -> tuple[np.ndarray, np.ndarray]:
    """The first 1000 MNIST test digits: uint8 ``(1000, 28, 28)`` and labels ``(1000,)``."""
    with np.load(SAMPLE) as f:
        return f["x"], f["y"].astype(np.int64)
