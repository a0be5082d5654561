"""What every peer shares with the service: its preprocessing, its input normalisation and its answer.

Imported from the repository under test (``bench_peers`` puts it on ``PYTHONPATH``); needs only
NumPy and Pillow, so it runs in every peer's virtual environment:

- ``preprocess(bytes) -> (28, 28) uint8``: ``model.recipe.preprocess``, the service's own;
- :func:`network_input`: ``model.normalize.to_network_input`` with the shipped mean and std;
- :func:`readings`: the network's ``(N, 11)`` probabilities -> the service's JSON answers, the "not a
  digit" output split off by ``model.calibration.split_refusal`` exactly as the service does.

The exported network (``network.json``, ``network.npz``, ``network.onnx``) lives in the directory named by
``BENCH_EXPORT_DIR``; ``network.json`` holds the calibration (temperature, threshold) and normalisation.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.calibration import split_refusal
from model.normalize import to_network_input
from model.recipe import ImageError, preprocess

__all__ = ["ImageError", "Shipped", "export_dir", "network_input", "preprocess", "readings", "shipped"]

EXPORT_DIR_VARIABLE = "BENCH_EXPORT_DIR"


def export_dir() -> Path:
    """Where ``bench_peers`` wrote the exported network."""
    return Path(os.environ[EXPORT_DIR_VARIABLE])


@dataclass(frozen=True)
class Shipped:
    """The shipped network's numbers that live outside its layers."""

    mean: float
    std: float
    temperature: float
    reject_threshold: float | None


def shipped(directory: Path | None = None) -> Shipped:
    spec = json.loads(((directory or export_dir()) / "network.json").read_text())
    return Shipped(spec["mean"], spec["std"], spec["temperature"], spec["reject_threshold"])


def network_input(digits: np.ndarray, net: Shipped) -> np.ndarray:
    """``(N, 28, 28)`` uint8 digits -> ``(N, 1, 28, 28)`` float32, standardised like the service's input."""
    return to_network_input(digits, net.mean, net.std)


def readings(probabilities: np.ndarray, net: Shipped) -> list[dict[str, Any]]:
    """``(N, K)`` calibrated probabilities -> one answer per image, the service's JSON fields and rounding."""
    guess, is_digit = split_refusal(np.asarray(probabilities, np.float32), net.reject_threshold)
    out = []
    for p, ok in zip(np.round(guess.astype(np.float64), 6), is_digit, strict=True):
        digit = int(p.argmax())
        out.append({"digit": digit, "confidence": float(p[digit]), "probabilities": p.tolist(), "is_digit": bool(ok)})
    return out
