"""How much ink each pixel holds, decided by the image's content, not by a fixed colour.

On a transparent background the alpha channel is the ink; otherwise the ink is how far each pixel's
colour is from the background colour (the median of the border), so dark-on-light, light-on-dark and
coloured ink all work the same way. The ink is then stretched to ``[0, 1]`` above a noise floor (no
binarisation). :func:`digit_ink` adds the last step both ``/predict`` and the number reader take: a
form's printed lines taken out (:mod:`.rulings`).
"""

from __future__ import annotations

from typing import Final

import numpy as np
from PIL import Image

from .decode import FORMAT_NAMES, plain_mode
from .errors import CorruptImageError, NoDigitError
from .rulings import remove_rulings

MIN_CONTRAST: Final = 0.12  # strongest ink below this (fraction of full scale): no digit
NOISE_FLOOR: Final = 0.1  # ink below this fraction of the strongest ink is background noise
BACKGROUND_LEVEL: Final = 0.1  # pixels this close to the border's colour (fraction of full scale) match it
BACKGROUND_SHARE: Final = 0.2  # under this share matching, the median of all pixels is the background


def _border_median(a: np.ndarray) -> np.ndarray:
    """Median of the outermost pixels of ``(H, W)`` or ``(H, W, C)``, per channel (all pixels if tiny)."""
    if a.shape[0] <= 2 or a.shape[1] <= 2:
        border = a.reshape(-1, *a.shape[2:])
    else:
        border = np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])
    middle = len(border) // 2
    median: np.ndarray = np.partition(border, middle, axis=0)[middle]
    return median


def _full_scale(a: np.ndarray) -> float:
    """The value of full ink for pixel values ``a``: 255 for 8-bit, 65535 for 16-bit; otherwise the
    smallest of 1, 255, 65535 holding every value (32-bit and float greys carry no scale)."""
    if a.dtype == np.uint8:
        return 255.0
    if a.dtype == np.uint16 or a.dtype == np.dtype(">u2"):
        return 65535.0
    top = float(a.max())
    return next((full for full in (1.0, 255.0, 65535.0) if top <= full), top)


def ink_map(im: Image.Image) -> np.ndarray:
    """How much ink each pixel of a decoded image holds, ``(H, W)`` float32 in ``[0, 1]``, decided by
    content.

    Transparent border: strokes drawn on a transparent canvas, so the alpha channel is the ink, whatever
    the colour. Otherwise (transparency flattened over white) the ink is each pixel's largest
    per-channel distance from the median colour of the border: dark on light, light on dark and
    coloured ink alike. When few pixels inside have the border's colour (an image cut along a form's
    printed lines, which then make most of its border), the median of all pixels is the background.
    """
    im = plain_mode(im)
    if im.mode in ("LA", "RGBA"):
        alpha = np.asarray(im.getchannel("A"))
        if _border_median(alpha) < 128:
            return alpha * np.float32(1 / 255)
        if alpha.min() < 255:  # an opaque canvas (a browser's PNG of a filled canvas is RGBA) needs none
            white = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(white, im.convert("RGBA")).convert(im.mode)
        pixels = np.asarray(im)[..., :-1]
    else:
        pixels = np.asarray(im)
    if pixels.dtype.kind == "f" and not np.isfinite(pixels).all():
        raise CorruptImageError(f"image has NaN or infinite pixel values: send a {FORMAT_NAMES} image of real pixels")
    scale = np.float32(1 / _full_scale(pixels))
    ink = _distance_from(pixels, _border_median(pixels), scale)
    if np.count_nonzero(ink < BACKGROUND_LEVEL) < BACKGROUND_SHARE * ink.size:
        # the border's colour is rare inside: a form's lines along the edges, not the background
        flat = pixels.reshape(-1, *pixels.shape[2:])
        middle = len(flat) // 2
        ink = _distance_from(pixels, np.partition(flat, middle, axis=0)[middle], scale)
    return ink


def _distance_from(pixels: np.ndarray, colour: np.ndarray, scale: np.float32) -> np.ndarray:
    """``scale`` times the largest per-channel distance of ``(H, W)`` or ``(H, W, C)`` pixels from
    ``colour`` (a scalar or ``(C,)``): ``(H, W)`` float32. One channel at a time: numpy's ``max`` over
    a short last axis is far slower than these 2-D passes."""
    channels = [pixels] if pixels.ndim == 2 else [pixels[..., c] for c in range(pixels.shape[2])]
    levels = np.atleast_1d(colour).astype(np.float32)
    distance: np.ndarray | None = None
    for channel, level in zip(channels, levels, strict=True):
        d = channel.astype(np.float32)
        d -= level
        np.abs(d, out=d)
        distance = d if distance is None else np.maximum(distance, d, out=distance)
    assert distance is not None
    distance *= scale
    return distance


def normalize_ink(ink: np.ndarray) -> np.ndarray:
    """Stretch ``(H, W)`` ink so the strongest is 1 and noise below ``NOISE_FLOOR`` of it is 0.

    Raises :class:`NoDigitError` when even the strongest ink is fainter than ``MIN_CONTRAST``.
    """
    peak = float(ink.max()) if ink.size else 0.0
    if peak < MIN_CONTRAST:
        raise NoDigitError(
            "no digit found: the image is blank or too faint; draw a digit in a colour that stands out "
            "from the background (dark on light, light on dark, or on a transparent background)"
        )
    floor = NOISE_FLOOR * peak
    out = ink - np.float32(floor)
    out *= np.float32(1 / (peak - floor))
    return np.clip(out, 0, 1, out=out)


def digit_ink(im: Image.Image) -> np.ndarray:
    """The ink of a decoded image as the digits are found in it, ``(H, W)`` float32 in ``[0, 1]``:
    :func:`ink_map`, :func:`normalize_ink`, then a form's rulings (a box's lines, an underline, a
    comb) removed so they do not set the crop (:func:`.rulings.remove_rulings`)."""
    return remove_rulings(normalize_ink(ink_map(im)))
