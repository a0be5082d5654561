"""The JSON of ``POST /explain``: an :class:`~model.explain.Explanation` of one digit as people look at it.

Each shown layer becomes one greyscale PNG of its feature maps side by side (:func:`tile`): strongest
channel first (by mean activation), each channel scaled to its own largest value so that a weak channel
still shows its pattern, on a grid with a one-pixel grid line between them. A dense layer's units are
one map (scaled together: a single unit scaled to itself would always be white), strongest first.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any, Final

import numpy as np
from PIL import Image

from model.explain import Explanation, LayerOutput

GRID: Final = 72  # grey level of the line between tiles: apart from both dead (0) and full (255) channels
DENSE_COLUMNS: Final = 16  # units per row of a dense layer's map


def grid_shape(count: int) -> tuple[int, int]:
    """``(rows, columns)`` for ``count`` tiles, every row full: the divisor of ``count`` nearest to
    ``sqrt(2 * count)`` columns (about twice as wide as tall; 32 -> 4 x 8, 64 -> 8 x 8)."""
    divisors = [d for d in range(1, count + 1) if count % d == 0] or [1]
    columns = min(divisors, key=lambda d: (abs(d - math.sqrt(2 * count)), d))
    return max(1, count // columns), columns


def scaled(values: np.ndarray) -> np.ndarray:
    """Non-negative ``(C, ...)`` values -> uint8, each channel scaled to 255 at its largest (0 stays 0)."""
    top = values.reshape(len(values), -1).max(axis=1)
    shape = (-1,) + (1,) * (values.ndim - 1)
    unit = np.divide(values, top.reshape(shape), out=np.zeros_like(values, np.float32), where=top.reshape(shape) > 0)
    out: np.ndarray = np.round(np.clip(unit, 0, 1) * 255).astype(np.uint8)
    return out


def tile(values: np.ndarray) -> np.ndarray:
    """One digit's layer output -> a ``(H', W')`` uint8 picture: ``(C, H, W)`` feature maps on a grid,
    strongest first, each scaled to itself; ``(F,)`` units as one map of ``DENSE_COLUMNS`` columns, in
    their order, scaled together."""
    if values.ndim == 1:
        rows = math.ceil(len(values) / DENSE_COLUMNS)
        cells = np.zeros(rows * DENSE_COLUMNS, np.float32)
        cells[: len(values)] = values
        picture: np.ndarray = scaled(cells.reshape(1, rows, DENSE_COLUMNS))[0]
        return picture
    c, h, w = values.shape
    order = np.argsort(-values.reshape(c, -1).mean(axis=1), kind="stable")
    maps = scaled(values[order])
    rows, columns = grid_shape(c)
    out = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), GRID, np.uint8)
    for k in range(c):
        r, col = divmod(k, columns)
        out[r * (h + 1) : r * (h + 1) + h, col * (w + 1) : col * (w + 1) + w] = maps[k]
    return out


def png_data_url(picture: np.ndarray) -> str:
    """A uint8 ``(H, W)`` picture as ``data:image/png;base64,...``."""
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def layer_json(layer: LayerOutput, index: int = 0) -> dict[str, Any]:
    """``{"name", "shape", "image"}`` of one shown layer for the digit at ``index``."""
    return {"name": layer.name, "shape": list(layer.shape), "image": png_data_url(tile(layer.values[index]))}


def explanation_json(e: Explanation, version: str, index: int = 0) -> dict[str, Any]:
    """The body of ``POST /explain`` for the digit at ``index`` of ``e`` (see ``app.schemas.Explanation``):
    the same reading as ``/predict`` (probabilities rounded to 6 decimals, as there), then what the
    network saw and where it looked."""
    p = np.round(e.digit_probabilities[index].astype(np.float64), 6)
    digit = int(p.argmax())
    return {
        "digit": digit,
        "confidence": float(p[digit]),
        "probabilities": p.tolist(),
        "is_digit": bool(e.is_digit[index]),
        "model": version,
        "target": int(e.targets[index]),
        "input": np.round(e.inputs[index] * 255).astype(np.uint8).tolist(),
        "heatmap": np.round(e.heatmaps[index].astype(np.float64), 4).tolist(),
        "layers": [layer_json(layer, index) for layer in e.layers],
    }
