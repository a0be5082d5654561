"""Reading one digit: the program behind ``POST /predict`` and ``/predict/batch``.

The upload goes through the MNIST recipe (:func:`~.fit.preprocess`, a :class:`~model.steps.Decode`
step a driver may run in another process), then the network reads the 28x28 digit with the second
look (:func:`model.second_look.look`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import second_look
from ..calibration import split_refusal
from ..steps import Decode, Program
from .decode import DEFAULT_MAX_PIXELS
from .fit import preprocess


@dataclass(frozen=True)
class Reading:
    """What the network read in one image."""

    probabilities: np.ndarray  # (10,) float32 summing to 1: the closest digit's distribution
    is_digit: bool  # False: refused as not a digit (``probabilities`` still give the closest guess)
    image: np.ndarray  # (28, 28) uint8: what the network saw

    @property
    def digit(self) -> int:
        return int(self.probabilities.argmax())


def read_digit(data: bytes, threshold: float | None, max_pixels: int = DEFAULT_MAX_PIXELS) -> Program[Reading]:
    """Encoded image bytes -> the digit it holds. ``threshold``: the "not a digit" probability from
    which the image is refused (None: never). Raises :class:`~.errors.ImageError` subclasses."""
    digit: np.ndarray = yield Decode(preprocess, data, (max_pixels,))
    scores = yield from second_look.look(digit[None])
    probabilities, is_digit = split_refusal(scores, threshold)
    return Reading(probabilities[0], bool(is_digit[0]), digit)
