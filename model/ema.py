"""An exponential moving average of a network's weights (Polyak averaging), the weights one ships.

After every optimizer step ``average = d * average + (1 - d) * current`` for every parameter and
buffer (BatchNorm's running statistics too, as ``torch.optim.swa_utils.AveragedModel(use_buffers=True)``
does), with ``d = min(decay, (1 + step) / (10 + step))`` so that the first steps do not drag the
average back to the random initialisation. The average costs nothing at inference: it is an ordinary
``state_dict``.
"""

from __future__ import annotations

import numpy as np

from .sequential import Sequential


class ExponentialMovingAverage:
    """Averages of ``net``'s arrays, by ``state_dict`` name (float32 arrays of the same shapes)."""

    def __init__(self, net: Sequential, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.average: dict[str, np.ndarray] = {k: v.copy() for k, v in net.state_dict().items()}

    def update(self, net: Sequential) -> None:
        """Fold ``net``'s current arrays into the average (call after each optimizer step)."""
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for key, value in net.state_dict().items():
            avg = self.average[key]
            avg *= d
            avg += (1.0 - d) * value

    def state_dict(self) -> dict[str, np.ndarray]:
        """The averaged arrays (copies), loadable with ``net.load_state_dict``."""
        return {k: v.copy() for k, v in self.average.items()}

    def load_state_dict(self, state: dict[str, np.ndarray], updates: int) -> None:
        """Restore an average saved with :meth:`state_dict` after ``updates`` steps (resuming)."""
        if set(state) != set(self.average):
            raise ValueError(f"EMA state mismatch: expected {sorted(self.average)}, got {sorted(state)}")
        self.average = {k: np.asarray(v, dtype=self.average[k].dtype).copy() for k, v in state.items()}
        self.updates = updates
