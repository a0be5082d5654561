"""What can go wrong turning an upload into digits: each message says why and what is accepted."""

from __future__ import annotations


class ImageError(ValueError):
    """The upload cannot become a digit; the message says why and what is accepted."""


class UnsupportedImageError(ImageError):
    """Not an image in one of the accepted :data:`FORMATS`."""


class CorruptImageError(ImageError):
    """A recognised format whose data is truncated or corrupt."""


class ImageTooLargeError(ImageError):
    """More pixels than the configured limit (a decompression bomb or just a huge photo)."""


class NoDigitError(ImageError):
    """The image has no ink: blank, uniform, or too faint to read."""


class TooManyPartsError(ImageError):
    """More separate marks than a number can have digits, or than the reader will look at."""
