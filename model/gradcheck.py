"""Central finite differences, to check every layer's backward pass (as ``torch.autograd.gradcheck``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """``d f / d x`` by central differences, perturbing ``x`` in place one element at a time.

    ``f`` takes no arguments and reads ``x`` (so it can close over a layer's parameter array).
    Use float64 arrays: float32 rounding swamps the differences.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        grad[i] = partial_derivative(f, x, i, h)
    return grad


def numerical_gradient_at(
    f: Callable[[], float], x: np.ndarray, indices: Sequence[tuple[int, ...]], h: float = 1e-6
) -> np.ndarray:
    """``(len(indices),)``: :func:`numerical_gradient` at a few entries only (large parameter arrays)."""
    return np.array([partial_derivative(f, x, i, h) for i in indices])


def partial_derivative(f: Callable[[], float], x: np.ndarray, i: tuple[int, ...], h: float = 1e-6) -> float:
    """``d f / d x[i]`` by central differences; ``x[i]`` is restored after."""
    old = x[i]
    x[i] = old + h
    plus = f()
    x[i] = old - h
    minus = f()
    x[i] = old
    return float((plus - minus) / (2 * h))


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b| / max(max |a|, max |b|)``: the worst error relative to the gradient's scale.

    Elementwise ratios (CS231n's form) blow up on entries near zero, where central differences in
    float64 carry ~1e-9 of rounding noise; a wrong backward pass gives errors of order 1 here.
    """
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), 1e-12)
    return float(np.max(np.abs(a - b))) / scale
