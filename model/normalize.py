"""Pixels to network input: the one normalization used by training, evaluation and inference.

Every ``predict`` (``Sequential.predict``, ``InferenceNetwork.predict``) takes pixels and calls
:func:`to_network_input` itself; only ``logits`` and ``forward`` take its output.
"""

from __future__ import annotations

import numpy as np

INPUT_SIZE = 28  # side of the network's input, pixels: every digit is INPUT_SIZE x INPUT_SIZE
DIGIT_BOX = 20  # MNIST scales each digit's bounding box to fit DIGIT_BOX x DIGIT_BOX, then centres it
MNIST_MEAN = 0.1307  # mean of the MNIST training pixels scaled to [0, 1]
MNIST_STD = 0.3081
PIXEL_SLACK = 1e-3  # float pixels may stray this far outside [0, 1] (interpolation rounding)


def to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 ``[0, 255]`` or float ``[0, 1]`` images -> float32 in ``[0, 1]``, same shape.

    Floats outside ``[0, 1]`` raise ``ValueError``: they are not pixels (most likely input that was
    already normalized, which would be normalized twice).
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) * np.float32(1 / 255)
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"images must be uint8 or float in [0, 1], got dtype {images.dtype}")
    if images.size and (images.min() < -PIXEL_SLACK or images.max() > 1 + PIXEL_SLACK):
        raise ValueError(
            f"float images must be pixels in [0, 1], got values in [{images.min():.3g}, {images.max():.3g}]: "
            "pass pixels, not normalized network input"
        )
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
