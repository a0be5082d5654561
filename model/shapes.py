"""Output-size arithmetic shared by every spatial layer."""

from __future__ import annotations


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0) -> int:
    """Length of one spatial axis after a convolution or pooling window.

    ``floor((size + 2 * padding - kernel_size) / stride) + 1``, as in PyTorch with ``ceil_mode=False``.
    Raises ``ValueError`` when the window does not fit even once.
    """
    span = size + 2 * padding - kernel_size
    if span < 0:
        raise ValueError(
            f"window of {kernel_size} with padding {padding} does not fit an axis of length {size}"
        )
    return span // stride + 1


def pair(value: int | tuple[int, int]) -> tuple[int, int]:
    """``3 -> (3, 3)``; a pair is returned unchanged."""
    if isinstance(value, tuple):
        return value
    return (int(value), int(value))
