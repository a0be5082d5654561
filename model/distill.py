"""Knowledge distillation: soft training targets from networks already trained (the teachers).

The teachers read each clean training image once, before training; the student is then trained
towards ``weight * (the teachers' mean softmax) + (1 - weight) * one-hot``, on the same augmented
batches as usual (the target stays the clean image's: the augmentations keep the label). What the
teachers agree a digit resembles (a 7 that is a little like a 1) is a finer target than its label
alone, and the mean of several networks reads better than any one of them. Where the teachers' best
guess is not the label, the label alone is the target: their mistake is not taught.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .inference import InferenceNetwork
from .layers.loss import softmax
from .normalize import to_network_input


def teacher_probabilities(
    teachers: Sequence[InferenceNetwork], images: np.ndarray, batch_size: int = 2048
) -> np.ndarray:
    """The teachers' mean softmax (temperature 1, not their calibrated one) over ``(N, 28, 28)`` uint8
    images: ``(N, K)`` float32."""
    total: np.ndarray | None = None
    for t in teachers:
        chunks = range(0, len(images), batch_size)
        logits = np.concatenate([t.logits(to_network_input(images[i : i + batch_size], t.mean, t.std)) for i in chunks])
        probs = softmax(logits.astype(np.float64)).astype(np.float32)
        total = probs if total is None else total + probs
    if total is None:
        raise ValueError("no teachers")
    mean: np.ndarray = total / np.float32(len(teachers))
    return mean


def soft_targets(teacher_probs: np.ndarray, labels: np.ndarray, weight: float) -> np.ndarray:
    """``weight * teacher_probs + (1 - weight) * one_hot(labels)``: ``(N, K)`` float32, rows summing to 1.
    A row whose label is not the teachers' best guess is its one-hot alone: there the teachers are
    wrong (a flagged 1 they read as a 7), and half their softmax would teach the student the mistake."""
    n, k = teacher_probs.shape
    agree = teacher_probs.argmax(axis=1) == labels
    target = teacher_probs * np.where(agree, np.float32(weight), np.float32(0))[:, None]
    target[np.arange(n), labels] += np.where(agree, np.float32(1 - weight), np.float32(1))
    return target
