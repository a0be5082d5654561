"""The library's single source of randomness (weight init, dropout masks, shuffling, augmentation)."""

from __future__ import annotations

import numpy as np

_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Reset the global generator, as ``torch.manual_seed`` does: same seed, same run."""
    global _rng
    _rng = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    """The generator layers use when none is passed to them."""
    return _rng
