"""Softmax and the fused softmax + cross-entropy loss."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..module import Module


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(N, K)`` logits, shifted by the row max for stability."""
    z: np.ndarray = logits - logits.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def targets(labels: np.ndarray, k: int, label_smoothing: float = 0.0) -> np.ndarray:
    """The ``(N, k)`` target distribution: ``(1 - s) * onehot + s / k`` for ``(N,)`` integer labels,
    ``(1 - s) * labels + s / k`` for ``(N, k)`` soft labels (rows summing to 1, e.g. a teacher's)."""
    if labels.ndim == 2:
        return (1.0 - label_smoothing) * labels.astype(np.float64) + label_smoothing / k
    target = np.full((len(labels), k), label_smoothing / k)
    target[np.arange(len(labels)), labels] += 1.0 - label_smoothing
    return target


def cross_entropy_forward(
    logits: np.ndarray, labels: np.ndarray, label_smoothing: float = 0.0
) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``(N, K)`` logits against ``(N,)`` integer labels or ``(N, K)`` soft labels.

    Returns the loss and the ``(N, K)`` probabilities needed by the backward pass. With label smoothing
    ``s`` the target is ``(1 - s) * onehot + s / K`` (``(1 - s) * soft + s / K``).
    """
    n, k = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    if labels.ndim == 2:
        nll = -(targets(labels, k, label_smoothing) * log_probs).sum(axis=1)
    else:
        nll = -log_probs[np.arange(n), labels]
        if label_smoothing:
            nll = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(axis=1)
    return float(nll.mean()), np.exp(log_probs)


def cross_entropy_backward(
    probs: np.ndarray, labels: np.ndarray, label_smoothing: float = 0.0
) -> np.ndarray:
    """``d loss / d logits = (probs - target) / N``, ``(N, K)``."""
    n, k = probs.shape
    grad: np.ndarray = (probs - targets(labels, k, label_smoothing)) / n
    return grad


class SoftmaxWithCrossEntropyLoss(Module):
    """Last layer of a classifier: ``forward(logits, labels)`` gives the mean loss; ``backward()`` its
    gradient with respect to the logits. ``predict``-time it is a plain softmax."""

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing
        self.cache: tuple[np.ndarray, np.ndarray] | None = None

    def forward(self, logits: np.ndarray, labels: np.ndarray | None = None) -> Any:
        if labels is None:
            return softmax(logits)
        if logits.ndim != 2 or labels.shape not in ((logits.shape[0],), logits.shape):
            raise ValueError(
                f"{self!r} expects logits (N, K) and labels (N,) or soft labels (N, K), "
                f"got {logits.shape} and {labels.shape}"
            )
        loss, probs = cross_entropy_forward(logits, labels, self.label_smoothing)
        self.cache = (probs, labels)
        return loss

    def backward(self, dout: np.ndarray | None = None) -> np.ndarray:
        if self.cache is None:
            raise RuntimeError("SoftmaxWithCrossEntropyLoss: backward() before forward(logits, labels)")
        probs, labels = self.cache
        grad = cross_entropy_backward(probs, labels, self.label_smoothing).astype(probs.dtype)
        self.cache = None
        return grad if dout is None else grad * dout

    def inference_op(self) -> None:
        """The inference network applies its own (calibrated) softmax to the logits."""
        return None

    def spec(self) -> dict[str, Any]:
        return {"label_smoothing": self.label_smoothing} if self.label_smoothing else {}
