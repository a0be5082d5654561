"""Reading one digit: the program behind ``POST /predict`` and ``/predict/batch``.

The upload goes through the MNIST recipe (:func:`~.fit.preprocess`, a :class:`~model.steps.Decode`
step a driver may run in another process), then the network reads the 28x28 digit with the second
look (:func:`model.second_look.look`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from .. import second_look
from ..calibration import split_refusal
from ..steps import Decode, Program
from .decode import DEFAULT_MAX_PIXELS
from .fit import preprocess

T = TypeVar("T")


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


def explain_digit(
    data: bytes,
    explain: Callable[[np.ndarray, int | None], T],
    target: int | None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Program[T]:
    """Encoded image bytes -> ``explain(digits, target)`` of the ``(1, 28, 28)`` digit it holds, read
    through the same recipe as :func:`read_digit` (``explain``: ``InferenceNetwork.explain``, run when
    the program advances: by the service's scheduler, in its predictor thread)."""
    digit: np.ndarray = yield Decode(preprocess, data, (max_pixels,))
    return explain(digit[None], target)
