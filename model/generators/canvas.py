"""Canvases as people send them: ink laid on a background in a colour style, saved in an image format.

A drawing is first an ink map (a Pillow ``"L"`` image, 255 = full ink) the size of the canvas; a
:class:`Style` turns it into the pixels a draw-pad, a paint program or a phone would save, and
:func:`encode` into the bytes that reach the service.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..normalize import DIGIT_BOX, INPUT_SIZE


@dataclass(frozen=True)
class Style:
    """Ink colour on a background; ``background=None`` is a transparent canvas (ink in the alpha)."""

    name: str
    ink: tuple[int, int, int]
    background: tuple[int, int, int] | None


STYLES: tuple[Style, ...] = (
    Style("black-on-white", (0, 0, 0), (255, 255, 255)),
    Style("white-on-black", (255, 255, 255), (0, 0, 0)),
    Style("black-on-transparent", (0, 0, 0), None),
    Style("blue-on-white", (30, 60, 200), (255, 255, 255)),
)
FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
TRANSPARENT_FORMATS: tuple[str, ...] = ("PNG", "WEBP", "GIF")


def compose(ink: Image.Image, style: Style) -> Image.Image:
    """``"L"`` ink -> an ``"RGBA"`` image (transparent style) or ``"RGB"`` (ink blended over the background)."""
    if style.background is None:
        im = Image.new("RGBA", ink.size, (*style.ink, 0))
        im.putalpha(ink)
        return im
    return Image.composite(Image.new("RGB", ink.size, style.ink), Image.new("RGB", ink.size, style.background), ink)


def encode(im: Image.Image, fmt: str, quality: int = 85) -> bytes:
    """Save ``im`` as ``fmt`` bytes the way common tools do (JPEG/WebP lossy at ``quality``, GIF
    palettised with one transparent index when ``im`` has alpha). The lossless encodings (PNG, WebP
    with alpha) take their fastest setting: every setting decodes to the same visible pixels, and the
    training pools are made of thousands of these."""
    buf = io.BytesIO()
    if fmt == "JPEG":
        im.convert("RGB").save(buf, "JPEG", quality=quality)
    elif fmt == "WEBP" and im.mode == "RGBA":
        im.save(buf, "WEBP", lossless=True, quality=0, method=0)
    elif fmt == "WEBP":
        im.save(buf, "WEBP", quality=quality)
    elif fmt == "PNG":
        im.save(buf, "PNG", compress_level=1)
    elif fmt == "GIF":
        if im.mode == "RGBA":
            alpha = np.asarray(im.getchannel("A"))
            pal = im.convert("RGB").quantize(255)
            idx = np.asarray(pal).copy()
            idx[alpha < 128] = 255
            out = Image.fromarray(idx, "P")
            out.putpalette((pal.getpalette() or [])[: 255 * 3] + [0, 0, 0])
            out.save(buf, "GIF", transparency=255)
        else:
            im.save(buf, "GIF")
    elif fmt == "BMP":
        im.convert("RGB").save(buf, "BMP")
    else:
        im.save(buf, fmt)
    return buf.getvalue()


def paste_pixels(canvas: tuple[int, int], digit: np.ndarray, box: tuple[float, float, float]) -> Image.Image:
    """Re-render a ``(28, 28)`` uint8 scan on a blank ink canvas, its 28x28 field scaled to
    ``box = (left, top, height)`` canvas pixels (bicubic, the way an image editor enlarges)."""
    left, top, height = box
    side = max(int(round(height)), 1)
    big = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    ink = Image.new("L", canvas, 0)
    ink.paste(big, (int(round(left)), int(round(top))))
    return ink


def random_box(
    rng: np.random.Generator, canvas: tuple[int, int], fraction: tuple[float, float]
) -> tuple[float, float, float]:
    """Where a digit's 28x28 field lands: its *ink* (about 20/28 of the field) spans ``fraction`` of the
    canvas height, off-centre anywhere it fits. Returns ``(left, top, field height)`` in canvas pixels."""
    w, h = canvas
    ink_height = rng.uniform(*fraction) * h
    field = ink_height * INPUT_SIZE / DIGIT_BOX
    margin = (field - ink_height) / 2
    left = rng.uniform(-margin, max(w - field + margin, -margin))
    top = rng.uniform(-margin, max(h - field + margin, -margin))
    return left, top, field
