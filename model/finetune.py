"""Fine-tuning a trained network on a user's own labelled images without forgetting what it knew.

The pieces ``scripts/finetune.py`` puts together: a stratified hold-out of the user's images
(:func:`stratified_split`), the training set that mixes them with data the network already reads
(:func:`mix`: the user's images repeated to a fixed share of every epoch, the rest drawn from the
"keep" set, whose targets may be the base network's own soft outputs: distillation), the parameters
left to learn when early blocks are frozen (:func:`trainable`), and how a network reads a labelled set
as the service would (:func:`service_readings`: the second look, and refusal counted wrong for a digit,
right for a ``not_digit`` image).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .calibration import NOT_DIGIT
from .distill import soft_targets, teacher_probabilities
from .inference import InferenceNetwork
from .parameter import Parameter
from .sequential import Sequential

REFUSED = NOT_DIGIT  # a reading's "digit" when the network refused the image
BLOCK_LAYERS = 4  # layers of one convolutional block: Conv2d, BatchNormalization, ReLU, MaxPool2d


def stratified_split(labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, held_out)`` of ``(N,)`` labels: ``share`` of every class held out (rounded, at
    least one image of each class that has two or more, none of a class with one), the rest to train.
    Both sorted; the same ``seed`` gives the same split."""
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        n = len(idx)
        k = 0 if n < 2 else min(max(int(round(share * n)), 1), n - 1)
        held.append(rng.permutation(idx)[:k])
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    train_idx = np.setdiff1d(np.arange(len(labels)), held_idx)
    return train_idx, held_idx


def one_hot_targets(labels: np.ndarray, classes: int) -> np.ndarray:
    """``(N,)`` labels -> ``(N, classes)`` float32 targets (the soft-target form every row shares)."""
    out = np.zeros((len(labels), classes), np.float32)
    out[np.arange(len(labels)), labels] = 1
    return out


def keep_targets(
    teacher: InferenceNetwork | None, images: np.ndarray, labels: np.ndarray, classes: int, weight: float
) -> np.ndarray:
    """Targets ``(N, classes)`` for the images the network should keep reading: ``weight`` of the base
    network's own softmax (distillation: it keeps its answers, including how sure it was) and the rest
    the true labels; the label alone where the base network misreads the image
    (:func:`~model.distill.soft_targets`). No teacher, or ``weight`` 0: the labels alone."""
    if teacher is None or weight <= 0 or len(images) == 0:
        return one_hot_targets(labels, classes)
    return soft_targets(teacher_probabilities([teacher], images), labels, weight)


@dataclass(frozen=True)
class Mix:
    """How one epoch is made: ``user_share`` of its ``size`` images are the user's (repeated, each
    epoch reshuffled by the trainer), the rest drawn from the keep set without repetition."""

    size: int
    user_share: float


def mix(
    user: tuple[np.ndarray, np.ndarray], keep: tuple[np.ndarray, np.ndarray], plan: Mix, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's images ``(M, 28, 28)`` uint8 and ``(M, K)`` targets from ``user`` and ``keep``
    (``(images, targets)`` each); with an empty keep set, the user's images alone fill it."""
    rng = np.random.default_rng(seed)
    ux, uy = user
    kx, ky = keep
    n_user = plan.size if len(kx) == 0 else max(int(round(plan.size * plan.user_share)), len(ux))
    n_keep = min(max(plan.size - n_user, 0), len(kx))
    reps = rng.permutation(np.resize(np.arange(len(ux)), n_user))
    chosen = rng.choice(len(kx), n_keep, replace=False) if n_keep else np.zeros(0, np.int64)
    return np.concatenate([ux[reps], kx[chosen]]), np.concatenate([uy[reps], ky[chosen]])


def trainable(net: Sequential, frozen_blocks: int) -> list[Parameter]:
    """The parameters the optimizer updates: all but those of the first ``frozen_blocks``
    convolutional blocks (their batch-norm statistics still follow the new data)."""
    if frozen_blocks < 0:
        raise ValueError(f"frozen_blocks must be 0 or more, got {frozen_blocks}")
    return [p for layer in net.layers[frozen_blocks * BLOCK_LAYERS :] for p in layer.parameters()]


def service_readings(net: InferenceNetwork, images: np.ndarray) -> np.ndarray:
    """``(N, 28, 28)`` uint8 -> ``(N,)`` what the service answers for each: the digit 0-9 (after the
    second look at unsure ones), or :data:`REFUSED` when it refuses the image as not a digit."""
    if len(images) == 0:
        return np.zeros(0, np.int64)
    probs, is_digit = net.classify(images)
    return np.where(is_digit, probs.argmax(axis=1), REFUSED).astype(np.int64)


def right(readings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(N,)`` bool: a digit read as itself and not refused; a not-a-digit image refused."""
    return np.asarray(readings == labels)
