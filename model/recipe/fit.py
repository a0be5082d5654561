"""Ink -> the 28x28 digit as MNIST made them, and the whole recipe from bytes (:func:`preprocess`).

The ink is cropped to its box, scaled so the box fits a 20x20 box keeping the aspect ratio
(anti-aliased), marker-thick strokes are thinned towards MNIST's pen width, and the digit is placed
in a 28x28 field so that its centre of mass sits where MNIST's does (pixel index 14.0, 14.0). A 1-bit
digit the resize cannot anti-alias (an ink box under 2 x 20 px: enlarged, or reduced less than 2x) is
given MNIST's soft edges. The result is ``(28, 28)`` uint8, white ink on black, ready for
``InferenceNetwork.predict``.
"""

from __future__ import annotations

import io
import math
from typing import Final

import numpy as np
from PIL import Image

from ..normalize import DIGIT_BOX, INPUT_SIZE
from . import resample
from .decode import DEFAULT_MAX_PIXELS, open_image
from .ink import digit_ink

SIZE: Final = INPUT_SIZE  # side of the network input, pixels
BOX: Final = DIGIT_BOX  # the digit's bounding box is scaled to fit BOX x BOX pixels
CENTRE: Final = 14.0  # MNIST's centre of mass, in pixel indices (the same on both axes)
BOX_LEVEL: Final = 0.3  # the bounding box is taken over ink at least this strong (0..1)
# Anti-aliased, and the sharpest (closest to MNIST's strokes); model/recipe/resample.py does the same
# resize for large crops.
RESAMPLE: Final = Image.Resampling.LANCZOS
STROKE: Final = 1.9  # MNIST's median stroke width, output pixels (see stroke_width)
MAX_STROKE: Final = 2.4  # strokes thicker than this are thinned to about STROKE
HARD_EDGE: Final = 0.05  # ink within this of 0 or 1 everywhere is 1-bit (no anti-aliased edge)


def pad_zeros(a: np.ndarray, width: int) -> np.ndarray:
    """``(H, W)`` -> ``(H + 2 width, W + 2 width)``, zeros around ``a``: ``np.pad(a, width)`` at a
    tenth of its overhead, which shows at the dozens of small parts of one number."""
    out = np.zeros((a.shape[0] + 2 * width, a.shape[1] + 2 * width), a.dtype)
    out[width : width + a.shape[0], width : width + a.shape[1]] = a
    return out


def _bounds(mask: np.ndarray) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)``, end-exclusive, of the True pixels of a non-empty ``(H, W)`` mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _centre_of_mass(ink: np.ndarray) -> tuple[float, float]:
    """``(row, col)`` centre of mass of ``(H, W)`` ink, in pixel indices (pixel ``i`` centred at ``i``)."""
    rows = ink.sum(axis=1, dtype=np.float64)
    cols = ink.sum(axis=0, dtype=np.float64)
    total = float(rows.sum())
    return float(rows @ np.arange(len(rows))) / total, float(cols @ np.arange(len(cols))) / total


def fit_digit(ink: np.ndarray) -> np.ndarray:
    """Normalized ``(H, W)`` ink in ``[0, 1]`` -> the MNIST digit ``(28, 28)`` float32 in ``[0, 1]``.

    The box of ink stronger than ``BOX_LEVEL`` is scaled so its longer side spans ``BOX`` pixels,
    and the digit is placed so that its centre of mass lands on ``CENTRE``: in one anti-aliased
    resize, sub-pixel exact, when the scale changes; by whole pixels (no resampling) when it does not.
    A 1-bit digit whose box is under ``2 * BOX`` pixels (enlarged, or reduced less than 2x) gets
    MNIST's soft edges (:func:`_soften`).
    """
    # ink fainter than BOX_LEVEL everywhere (a few specks box-averaged with a wide span) is boxed by its
    # strongest pixels rather than refused
    top, bottom, left, right = _bounds(ink >= min(BOX_LEVEL, float(ink.max())))
    scale = BOX / max(bottom - top, right - left)  # output pixels per source pixel
    margin = math.ceil(2 / scale)  # keep two output pixels of soft edge around the box
    crop = ink[max(top - margin, 0) : bottom + margin, max(left - margin, 0) : right + margin]
    soften = scale > 0.5 and _is_one_bit(crop)  # fewer than 2x2 source pixels an output pixel
    if scale == 1:
        field = _place(crop)
        return _soften(field) if soften else field
    crop = _thin(crop, scale)
    cy, cx = _centre_of_mass(crop)
    # Continuous coordinates (pixel i spans [i, i + 1)): source (cy, cx) + 0.5 -> output CENTRE + 0.5.
    y0 = cy + 0.5 - (CENTRE + 0.5) / scale
    x0 = cx + 0.5 - (CENTRE + 0.5) / scale
    span = SIZE / scale  # source pixels covered by the output field
    pad = math.ceil(max(-y0, -x0, y0 + span - crop.shape[0], x0 + span - crop.shape[1], 0))
    box = (x0 + pad, y0 + pad, x0 + pad + span, y0 + pad + span)
    field = np.clip(_resize(crop, box, pad), 0, 1)
    return _soften(field) if soften else field


def _resize(crop: np.ndarray, box: tuple[float, float, float, float], pad: int) -> np.ndarray:
    """``(h, w)`` float32 ink -> ``(SIZE, SIZE)`` float32: ``box`` of the crop with ``pad`` zeros around it,
    resampled with ``RESAMPLE``. Pillow's own resize for a small crop (it costs less per call); the same
    taps as two matrix products for a large one, where Pillow's tap-by-tap loop grows with the crop."""
    if max(crop.shape) >= resample.MATRICES_FROM:
        return resample.resize(crop, box, pad, SIZE)
    source = Image.fromarray(pad_zeros(crop, pad) if pad else crop)
    return np.asarray(source.resize((SIZE, SIZE), RESAMPLE, box=box))


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width of ``(h, w)`` ink, in its pixels: twice the area over the perimeter of the
    ink >= 0.5 (``STROKE`` is MNIST's median)."""
    m = pad_zeros(ink >= 0.5, 1)
    perimeter = int(np.count_nonzero(m[1:] != m[:-1])) + int(np.count_nonzero(m[:, 1:] != m[:, :-1]))
    return 2 * int(np.count_nonzero(m)) / max(perimeter, 1)


def _thin(crop: np.ndarray, scale: float) -> np.ndarray:
    """Erode strokes that will be thicker than ``MAX_STROKE`` output pixels down to about ``STROKE``
    (thick marker strokes -> MNIST pen strokes); only where the source has pixels to spare."""
    if scale > 0.5:
        return crop
    width = stroke_width(crop) * scale
    if width <= MAX_STROKE:
        return crop
    for _ in range(round((width - STROKE) / 2 / scale)):
        crop = _erode(crop)
    return crop


def _is_one_bit(ink: np.ndarray) -> bool:
    """Whether ``(H, W)`` ink in ``[0, 1]`` is all background or full ink, with no grey edge."""
    return not np.any((ink > HARD_EDGE) & (ink < 1 - HARD_EDGE))


def _soften(field: np.ndarray) -> np.ndarray:
    """``(H, W)`` -> ``(H, W)`` float32, blurred by the binomial kernel [1, 2, 1] / 4 each way.

    MNIST's digits were reduced from 1-bit scans with anti-aliasing, so their edges are grey. A small
    1-bit digit (a paint program's pencil drawing, a thresholded scan) keeps hard edges through a resize
    that averages fewer than 2x2 of its pixels into each output pixel, and reads worse than softened
    (benchmarks/README.md has the figures).
    """
    p = pad_zeros(field, 1)
    rows = 0.25 * p[:-2] + 0.5 * p[1:-1] + 0.25 * p[2:]
    out: np.ndarray = (0.25 * rows[:, :-2] + 0.5 * rows[:, 1:-1] + 0.25 * rows[:, 2:]).astype(np.float32)
    return out


def _erode(a: np.ndarray) -> np.ndarray:
    """Grey-level erosion of ``(H, W)`` by a 3x3 square (edges see zeros beyond the image)."""
    p = pad_zeros(a, 1)
    rows = np.minimum(np.minimum(p[:-2], p[1:-1]), p[2:])
    eroded: np.ndarray = np.minimum(np.minimum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])
    return eroded


def _place(digit: np.ndarray) -> np.ndarray:
    """Paste ``(h, w)`` ink into a 28x28 field, shifted by whole pixels so its centre of mass is at
    ``CENTRE`` (whatever falls outside the field is cut)."""
    cy, cx = _centre_of_mass(digit)
    dy, dx = round(CENTRE - cy), round(CENTRE - cx)
    out = np.zeros((SIZE, SIZE), np.float32)
    h, w = digit.shape
    oy0, ox0 = max(dy, 0), max(dx, 0)
    oy1, ox1 = min(dy + h, SIZE), min(dx + w, SIZE)
    if oy1 > oy0 and ox1 > ox0:
        out[oy0:oy1, ox0:ox1] = digit[oy0 - dy : oy1 - dy, ox0 - dx : ox1 - dx]
    return out


def to_uint8(digit: np.ndarray) -> np.ndarray:
    """``(28, 28)`` float in ``[0, 1]`` -> uint8 ``[0, 255]``, rounded."""
    out = digit * np.float32(255)
    out += np.float32(0.5)
    return out.astype(np.uint8)


def preprocess_image(im: Image.Image) -> np.ndarray:
    """A decoded Pillow image -> ``(28, 28)`` uint8 digit, white ink on black (the MNIST recipe)."""
    return to_uint8(fit_digit(digit_ink(im)))


def preprocess(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Encoded image bytes -> ``(28, 28)`` uint8 digit, white ink on black.

    Raises a subclass of :class:`ImageError` saying what was wrong.
    """
    return preprocess_image(open_image(data, max_pixels))


def to_png(digit: np.ndarray) -> bytes:
    """``(28, 28)`` uint8 -> PNG bytes (what the network saw, for the ``debug`` option)."""
    buf = io.BytesIO()
    Image.fromarray(digit).save(buf, format="PNG")
    return buf.getvalue()
