"""What the recipe needs of a network: ``predict`` from 28x28 digits to probabilities."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class Network(Protocol):
    """What reading needs of a model (``model.InferenceNetwork`` fits)."""

    @property
    def metadata(self) -> dict[str, Any]:
        """The weights metadata (name, sha256, architecture, calibration...)."""
        ...

    def predict(self, images: np.ndarray) -> np.ndarray:
        """``(N, 28, 28)`` uint8, white on black -> ``(N, K)`` float32 probabilities; K = 11 when the
        last output is "not a digit" (refused from ``metadata["calibration"]["reject_threshold"]``)."""
        ...
