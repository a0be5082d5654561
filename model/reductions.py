"""Reductions tuned for the tall, narrow matrices of activations."""

from __future__ import annotations

import numpy as np


def column_sums(rows: np.ndarray) -> np.ndarray:
    """``(M, C) -> (C,)`` sums as a matrix-vector product: BLAS streams the tall rows where NumPy's
    ``sum(axis=0)`` walks them pairwise (``python benchmarks/bench_kernels.py`` compares the two)."""
    sums: np.ndarray = np.ones(rows.shape[0], dtype=rows.dtype) @ rows
    return sums
