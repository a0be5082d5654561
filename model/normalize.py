"""Pixels to network input: the one normalization used by training, evaluation and inference."""

from __future__ import annotations

import numpy as np

MNIST_MEAN = 0.1307  # mean of the MNIST training pixels scaled to [0, 1]
MNIST_STD = 0.3081


def to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 ``[0, 255]`` or float ``[0, 1]`` images -> float32 in ``[0, 1]``, same shape."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) * np.float32(1 / 255)
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"images must be uint8 or float in [0, 1], got dtype {images.dtype}")
    return images.astype(np.float32, copy=False)


def to_network_input(
    images: np.ndarray, mean: float = MNIST_MEAN, std: float = MNIST_STD
) -> np.ndarray:
    """``(N, H, W)`` or ``(N, 1, H, W)`` pixels (white ink on black) -> ``(N, 1, H, W)`` float32,
    standardized as ``(x - mean) / std``."""
    x = to_unit(images)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"expected images of shape (N, H, W) or (N, 1, H, W), got {x.shape}")
    return (x - np.float32(mean)) * np.float32(1 / std)
