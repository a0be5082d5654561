"""Named network builders: ``small`` (the reference network of the benchmarks) and ``default`` (the
shipped one)."""

from __future__ import annotations

from collections.abc import Callable

from .layers import (
    BatchNormalization,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    SoftmaxWithCrossEntropyLoss,
)
from .sequential import Sequential


def small(num_classes: int = 10) -> Sequential:
    """One conv block and two linear layers: 202,218 parameters, 0.26 M multiply-adds per digit."""
    return Sequential([
        Conv2d(in_channels=1, out_channels=8, kernel_size=3, stride=1, padding=1),
        ReLU(),
        MaxPool2d(kernel_size=2, stride=2),
        BatchNormalization(num_features=8),
        Dropout(p=0.25),
        Flatten(),
        Linear(in_features=8 * 14 * 14, out_features=128),
        ReLU(),
        Linear(in_features=128, out_features=num_classes),
        SoftmaxWithCrossEntropyLoss(),
    ])


def default(num_classes: int = 10) -> Sequential:
    """Three conv blocks (32-64-64 channels, conv-BN-ReLU) and a 128-unit head.

    28x28 -> 14x14 -> 7x7 by max-pooling; 458,858 parameters and 6.05 M multiply-adds per digit (23 times
    the small network).
    """
    return Sequential([
        Conv2d(1, 32, kernel_size=3, padding=1, bias=False),
        BatchNormalization(32),
        ReLU(),
        MaxPool2d(2),
        Conv2d(32, 64, kernel_size=3, padding=1, bias=False),
        BatchNormalization(64),
        ReLU(),
        MaxPool2d(2),
        Conv2d(64, 64, kernel_size=3, padding=1, bias=False),
        BatchNormalization(64),
        ReLU(),
        Flatten(),
        Dropout(0.3),
        Linear(64 * 7 * 7, 128, bias=False),
        BatchNormalization(128),
        ReLU(),
        Dropout(0.3),
        Linear(128, num_classes),
        SoftmaxWithCrossEntropyLoss(label_smoothing=0.05),
    ])


def deep(num_classes: int = 10) -> Sequential:
    """Four conv blocks (32-48-64-48 channels; two at 7x7) and a 128-unit head, at the default's cost.

    28x28 -> 14x14 -> 7x7 by max-pooling; 5.94 M multiply-adds per digit (default: 6.05 M): a deeper
    network for the same work, one conv more at 7x7 paid for by fewer channels at 14x14.
    """
    return Sequential([
        Conv2d(1, 32, kernel_size=3, padding=1, bias=False),
        BatchNormalization(32),
        ReLU(),
        MaxPool2d(2),
        Conv2d(32, 48, kernel_size=3, padding=1, bias=False),
        BatchNormalization(48),
        ReLU(),
        MaxPool2d(2),
        Conv2d(48, 64, kernel_size=3, padding=1, bias=False),
        BatchNormalization(64),
        ReLU(),
        Conv2d(64, 48, kernel_size=3, padding=1, bias=False),
        BatchNormalization(48),
        ReLU(),
        Flatten(),
        Dropout(0.3),
        Linear(48 * 7 * 7, 128, bias=False),
        BatchNormalization(128),
        ReLU(),
        Dropout(0.3),
        Linear(128, num_classes),
        SoftmaxWithCrossEntropyLoss(label_smoothing=0.05),
    ])


ARCHITECTURES: dict[str, Callable[..., Sequential]] = {"small": small, "default": default, "deep": deep}
RENAMED = {"seed": "small"}  # old names, refused with a pointer to the new one


def build(name: str, num_classes: int = 10) -> Sequential:
    """The architecture ``name`` with ``num_classes`` outputs (11: the ten digits and "not a digit")."""
    if name in RENAMED:
        raise ValueError(f"architecture {name!r} was renamed {RENAMED[name]!r}: use {RENAMED[name]!r}")
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose from {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name](num_classes)
