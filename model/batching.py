"""Mini-batches with seeded shuffling, and one-hot encoding."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def one_hot(labels: np.ndarray, num_classes: int = 10, dtype: type = np.float32) -> np.ndarray:
    """``(N,)`` integer labels -> ``(N, num_classes)``; raises on labels out of range."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    out: np.ndarray = np.zeros((labels.shape[0], num_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


class DataGenerator:
    """Iterate ``(x_batch, y_batch)`` over arrays of equal length.

    A new permutation each epoch (each ``iter()``) from a generator seeded once, so a run with the
    same seed sees the same batches. The last partial batch is yielded unless ``drop_last``.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int = 64,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        if len(x) != len(y):
            raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(self.x)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield self.x[idx], self.y[idx]

    def state_dict(self) -> dict[str, object]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.rng.bit_generator.state = state["rng"]  # type: ignore[assignment]
