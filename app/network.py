"""What the service needs of a model: ``model.InferenceNetwork`` fits, and so do the tests' fakes."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class Network(Protocol):
    """What the service needs of a model (``model.InferenceNetwork`` fits)."""

    @property
    def metadata(self) -> dict[str, Any]:
        """The weights metadata (name, sha256, calibration...)."""
        ...

    def predict(self, images: np.ndarray) -> np.ndarray:
        """``(N, 28, 28)`` uint8, white on black -> ``(N, K)`` float32 calibrated probabilities."""
        ...
