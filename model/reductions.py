"""Reductions tuned for the tall, narrow matrices of activations."""

from __future__ import annotations

import numpy as np


def column_sums(rows: np.ndarray) -> np.ndarray:
    """``(M, C) -> (C,)`` sums as a matrix-vector product: several times faster than ``sum(axis=0)``
    when M is large and C small (BLAS streams the rows; NumPy's reduction walks them pairwise)."""
    return np.ones(rows.shape[0], dtype=rows.dtype) @ rows
