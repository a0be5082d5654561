"""The JSON answers of the prediction routes, built directly from the readings (no validation on the
hot path; :mod:`app.schemas` documents the same shapes)."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from model.recipe import ImageError, to_png
from model.recipe.digit_reader import Reading
from model.recipe.number_choice import DigitReading
from model.recipe.number_reader import NumberReading

from .errors import image_error_status
from .metrics import Metrics


def prediction(reading: Reading, debug: bool, version: str, metrics: Metrics) -> dict[str, Any]:
    """A :class:`~app.schemas.Prediction`: what the network read in one image, and the model."""
    return {**_reading(reading, debug, metrics), "model": version}


def number(reading: NumberReading, debug: bool, version: str, metrics: Metrics) -> dict[str, Any]:
    """A :class:`~app.schemas.NumberResponse`: the number, each digit with its box, and the model."""
    if reading.recut is not None:
        metrics.count_second_reading(reading.recut)
    digits = [_number_digit(d, debug, metrics) for d in reading.digits]
    value = "".join(str(d["digit"]) for d in digits) if all(d["is_digit"] for d in digits) else None
    return {"number": value, "digits": digits, "model": version}


def item_error(exc: ImageError) -> dict[str, Any]:
    """The entry of a batch's image that could not be read."""
    return {"error": str(exc), "status": image_error_status(exc)}


def _number_digit(reading: DigitReading, debug: bool, metrics: Metrics) -> dict[str, Any]:
    return {**_reading(reading, debug, metrics), "box": list(reading.box)}


def _reading(reading: Reading, debug: bool, metrics: Metrics) -> dict[str, Any]:
    """Digit, confidence, probabilities, is_digit and, with debug, the 28x28 image the network saw as a
    PNG data URL; counted in the metrics."""
    p = np.round(reading.probabilities.astype(np.float64), 6)
    digit = int(p.argmax())
    metrics.count_prediction(digit if reading.is_digit else None)
    body: dict[str, Any] = {
        "digit": digit,
        "confidence": float(p[digit]),
        "probabilities": p.tolist(),
        "is_digit": reading.is_digit,
    }
    if debug:
        body["debug_image"] = "data:image/png;base64," + base64.b64encode(to_png(reading.image)).decode("ascii")
    return body
