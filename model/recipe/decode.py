"""Decoding an upload with a bounded cost: the formats accepted, the pixel limit read from the header
before any pixel is decompressed, and large images decoded reduced.

Large JPEGs are decoded at a reduced DCT scale; other large images are box-reduced after decoding to
about ``WORKING_SIDE`` pixels a side, the size every later step works on.
"""

from __future__ import annotations

import io
import math
import re
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import CorruptImageError, ImageError, ImageTooLargeError, UnsupportedImageError
from .structure import check_exif, check_structure

# The accepted image formats, the one list: Pillow's name -> (the name people know, its media types).
IMAGE_FORMATS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "PNG": ("PNG", ("image/png",)),
    "JPEG": ("JPEG", ("image/jpeg", "image/jpg")),
    "WEBP": ("WebP", ("image/webp",)),
    "GIF": ("GIF", ("image/gif",)),
    "BMP": ("BMP", ("image/bmp", "image/x-ms-bmp")),
    "TIFF": ("TIFF", ("image/tiff",)),
}
FORMATS: Final = tuple(IMAGE_FORMATS)
_NAMES = [name for name, _ in IMAGE_FORMATS.values()]
FORMAT_NAMES: Final = ", ".join(_NAMES[:-1]) + " or " + _NAMES[-1]  # "PNG, JPEG, WebP, GIF, BMP or TIFF"
MEDIA_TYPES: Final = tuple(kind for _, kinds in IMAGE_FORMATS.values() for kind in kinds)
DEFAULT_MAX_PIXELS: Final = 2048 * 2048  # the service's default for DIGITS_MAX_IMAGE_PIXELS
JPEG_PIXEL_FACTOR: Final = 4  # JPEG may declare 4x as many (a 12-16 MP photo): it is decoded at 1/2-1/8 scale
WORKING_SIDE: Final = 1024  # larger images are box-reduced to about this side before analysis


def read_header(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Identify ``data`` and check its size from the header alone: a lazy Pillow image (no pixel
    decompressed yet). Cheap whatever the image: this is where the cost of an image is bounded.

    Formats decoded in full (PNG, WebP, GIF, BMP, TIFF) may have ``max_pixels``; JPEG, which is decoded
    at a reduced DCT scale (see :func:`decode_cost`), ``JPEG_PIXEL_FACTOR`` times as many.
    """
    check_structure(data)  # no more blocks than a real image has: Pillow walks them one by one in Python
    webp = webp_size(data)
    if webp is not None:
        check_size("WEBP", webp, max_pixels)
    try:
        im = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError as exc:
        raise UnsupportedImageError(f"not a {FORMAT_NAMES} image") from exc
    except Image.DecompressionBombError as exc:  # over Pillow's own guard, far over ours
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"image is {found.group(1)} pixels" if found else "image is too large to decode"
        raise ImageTooLargeError(f"{size}; the limit is {max_pixels} pixels: send a smaller image") from exc
    except Exception as exc:  # any failure of a decoder on untrusted bytes is a corrupt file
        raise CorruptImageError(f"corrupt image header: {exc}") from exc
    check_size(im.format, im.size, max_pixels)
    return im


def check_size(image_format: str | None, size: tuple[int, int], max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Raise :class:`ImageTooLargeError` (or :class:`CorruptImageError` for an empty size) unless an
    image of ``image_format`` and ``size`` is within the pixel limit."""
    width, height = size
    if width < 1 or height < 1:
        raise CorruptImageError(f"image has an empty size {width}x{height}")
    limit = pixel_limit(image_format, max_pixels)
    if width * height > limit:
        other = (
            f"{JPEG_PIXEL_FACTOR * max_pixels} for JPEG, which is decoded at a reduced scale"
            if limit == max_pixels
            else f"{max_pixels} for the other formats"
        )
        raise ImageTooLargeError(
            f"image is {width}x{height} = {width * height} pixels; the limit is {limit} pixels for "
            f"{image_format} ({other}): send a smaller image (a digit needs no more than 1000x1000)"
        )


def webp_size(data: bytes) -> tuple[int, int] | None:
    """The canvas size written in a WebP file's first chunk, or None if ``data`` is not a WebP file
    with a readable one. Read by hand: Pillow's WebP opener allocates (and, under the service's
    allocator settings, zeroes) the whole RGBA canvas, 16 MB for 2048x2048, before any check of ours."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: 24-bit canvas width - 1 and height - 1
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8L" and data[20] == 0x2F:  # lossless: 14-bit width - 1 and height - 1
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy: 14-bit width and height
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    return None


def pixel_limit(image_format: str | None, max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
    """The most pixels an image of ``image_format`` may declare, given the full-decode limit."""
    return max_pixels * JPEG_PIXEL_FACTOR if image_format == "JPEG" else max_pixels


def _jpeg_scale(size: tuple[int, int]) -> tuple[int, int] | None:
    """The draft size to ask a large JPEG for: the smallest DCT scale (1/2, 1/4, 1/8) whose longer side
    stays at least 3/4 of ``WORKING_SIDE``; None when the image is small enough already."""
    target = WORKING_SIDE * 3 // 4
    if max(size) < 2 * target:
        return None
    ratio = target / max(size)
    return max(1, math.ceil(size[0] * ratio)), max(1, math.ceil(size[1] * ratio))


def decode_cost(im: Image.Image) -> int:
    """The work of decoding a :func:`read_header` image, in pixels: the declared size, or for a large
    JPEG its reduced DCT decode plus the entropy decoding of the full image. Known before any pixel is
    decoded: the unit of the predictor's scheduling."""
    width, height = im.size
    draft = _jpeg_scale(im.size) if im.format == "JPEG" else None
    if draft is None:
        return width * height
    # libjpeg entropy-decodes every coefficient whatever the scale (a progressive file buffers them all
    # and passes over them again): a quarter of a pixel each, twice that when progressive.
    scale = next((s for s in (8, 4, 2) if -(-width // s) >= draft[0] and -(-height // s) >= draft[1]), 1)
    coefficients = width * height // (2 if im.info.get("progressive") else 4)
    return -(-width // scale) * -(-height // scale) + coefficients


def upload_cost(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
    """The work of decoding ``data``, in pixels (:func:`decode_cost`), from its header alone and checked
    against the limit. A WebP's size is read from its first chunk: Pillow's WebP opener would allocate
    the whole canvas. Raises the :func:`read_header` errors."""
    webp = webp_size(data)
    if webp is not None:
        check_size("WEBP", webp, max_pixels)
        return webp[0] * webp[1]
    png = png_size(data)
    if png is not None:  # the common upload: its size without Pillow (the decode checks the rest)
        check_size("PNG", png, max_pixels)
        return png[0] * png[1]
    return decode_cost(read_header(data, max_pixels))


def png_size(data: bytes) -> tuple[int, int] | None:
    """The size in a PNG's header chunk (IHDR), or None if ``data`` does not start like a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def open_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode ``data`` into a loaded Pillow image of at most about ``WORKING_SIDE`` pixels a side.

    The pixel limit is checked from the header, before decompression (:func:`read_header`). GIF and
    TIFF give their first frame; JPEG/WebP/TIFF/PNG orientation tags are applied.
    """
    return load_pixels(read_header(data, max_pixels))


def load_pixels(im: Image.Image) -> Image.Image:
    """Decode the pixels of a :func:`read_header` image (a large JPEG at a reduced DCT scale), apply
    EXIF orientation, and box-reduce anything still larger than ``WORKING_SIDE``."""
    try:
        draft = _jpeg_scale(im.size) if im.format == "JPEG" else None
        if draft is not None:
            im.draft(im.mode, draft)
        im.load()
        if "exif" in im.info or im.format == "TIFF":
            check_exif(im.info.get("exif"))  # read after the header for a PNG's eXIf after its data
            ImageOps.exif_transpose(im, in_place=True)
    except ImageError:
        raise
    except Exception as exc:  # truncated data, broken streams, bad EXIF... all from untrusted bytes
        raise CorruptImageError(f"truncated or corrupt {im.format} image: {exc}") from exc
    factor = max(im.size) // WORKING_SIDE
    if factor > 1:
        im = plain_mode(im)
        if im.mode.startswith("I;16"):  # Pillow cannot reduce 16-bit modes; 32-bit keeps every value
            im = im.convert("I")
        im = im.reduce(factor)
    return im


def plain_mode(im: Image.Image) -> Image.Image:
    """``im`` in one of L, LA, RGB, RGBA, or a 16/32-bit grey mode (I;16*, I, F)."""
    mode = im.mode
    if mode in ("L", "RGB") and "transparency" in im.info:
        return im.convert("LA" if mode == "L" else "RGBA")
    if mode in ("L", "LA", "RGB", "RGBA", "F", "I") or mode.startswith("I;16"):
        return im
    if mode in ("P", "PA"):
        transparent = mode == "PA" or "transparency" in im.info
        return im.convert("RGBA" if transparent else "RGB")
    if mode == "1":
        return im.convert("L")
    if mode == "La":
        return im.convert("LA")
    if mode == "RGBa":
        return im.convert("RGBA")
    return im.convert("RGB")  # CMYK, YCbCr, LAB, HSV

