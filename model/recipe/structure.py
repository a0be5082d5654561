"""A bounded walk over an upload's structure, before Pillow reads its header.

Pillow reads the blocks of a PNG, JPEG, GIF or TIFF header one by one in Python: the chunks of a PNG
(all of them, its image data included, as it decodes), the markers, fill and stray bytes of a JPEG
before its first scan, the blocks and sub-blocks of a GIF before its first frame, the tags of a TIFF's
first directory, and those of any EXIF data (to find the orientation). A file of a few megabytes made
of tiny blocks holds hundreds of thousands of them and costs seconds of work. A real image has a few:
:func:`check_structure` walks the same blocks the same way, in at most a set number of steps, and
refuses a file that has more before Pillow sees it. The walk stops, and leaves the verdict to Pillow,
at anything it does not follow (truncated or malformed data, which Pillow refuses at once).
"""

from __future__ import annotations

from typing import Final, Literal

from PIL.JpegImagePlugin import MARKER as JPEG_MARKERS

from .errors import UnsupportedImageError

MAX_PNG_CHUNKS: Final = 1024  # chunks other than image data, before or after it (a real PNG: a handful)
MAX_PNG_DATA_CHUNKS: Final = 4096  # image data (IDAT) chunks (8 MB in libpng's 8 KB chunks: 1,024)
MAX_JPEG_STEPS: Final = 1024  # markers, fill and stray bytes before the first scan (a real JPEG: ~10-20)
MAX_GIF_STEPS: Final = 4096  # blocks, sub-blocks and stray bytes before the first frame (XMP: ~300)
MAX_TIFF_TAGS: Final = 256  # entries of a TIFF's first directory, or of EXIF data's (a camera's: ~10-60)

_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_TIFF_SIGNATURES: Final = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
_JPEG_SCAN: Final = 0xFFDA
_JPEG_PLAIN: Final = frozenset(m for m, (_, _, handler) in JPEG_MARKERS.items() if handler is None)  # no length
_TOO_MANY: Final = "{kind} has more than {limit} {what} (a real image has far fewer): re-save it without metadata"


def check_structure(data: bytes) -> None:
    """Raise :class:`UnsupportedImageError` when ``data`` is a PNG, JPEG, GIF or TIFF with more blocks than
    Pillow should walk (see the ``MAX_*`` limits); return at once for any other data. The cost is at
    most the limit's number of steps, each a few slice reads."""
    if data.startswith(_PNG_SIGNATURE):
        _png(data)
    elif data.startswith(b"\xff\xd8\xff"):
        _jpeg(data)
    elif data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 13:
        _gif(data)
    elif data[:4] in _TIFF_SIGNATURES:
        _tags(data, "TIFF", "tags in its first directory")


def check_exif(exif: bytes | None) -> None:
    """Raise :class:`UnsupportedImageError` when EXIF data (as Pillow keeps it in ``info["exif"]``, with
    or without its ``Exif\\0\\0`` prefix) has more than ``MAX_TIFF_TAGS`` entries in its first
    directory: Pillow reads them one by one in Python to find the orientation."""
    if exif:
        _tags(exif[6:] if exif.startswith(b"Exif\x00\x00") else exif, "EXIF data", "tags")


def tiff_tags(data: bytes) -> int | None:
    """The number of entries of the first directory of TIFF ``data`` (classic or BigTIFF), None when
    it cannot be read (Pillow then refuses the file, or ignores the EXIF data, at once)."""
    order: Literal["little", "big"] = "little" if data[:2] == b"II" else "big"
    magic = int.from_bytes(data[2:4], order)
    if data[:2] not in (b"II", b"MM") or magic not in (42, 43):
        return None
    offset, size = (int.from_bytes(data[4:8], order), 2) if magic == 42 else (int.from_bytes(data[8:16], order), 8)
    if offset + size > len(data):
        return None
    return int.from_bytes(data[offset : offset + size], order)


def _tags(data: bytes, kind: str, what: str) -> None:
    count = tiff_tags(data)
    if count is not None and count > MAX_TIFF_TAGS:
        raise UnsupportedImageError(_TOO_MANY.format(kind=kind, limit=MAX_TIFF_TAGS, what=what))


def _png(data: bytes) -> None:
    """Chunks: 4-byte big-endian data length, 4-byte type, the data, a 4-byte CRC; IEND ends the file.
    Pillow reads the chunks before the image data as it opens the file, the image data chunks and
    those after them as it decodes."""
    pos, data_chunks, other_chunks = len(_PNG_SIGNATURE), 0, 0
    while pos + 8 <= len(data):
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            data_chunks += 1
        else:
            other_chunks += 1
        if other_chunks > MAX_PNG_CHUNKS:
            raise UnsupportedImageError(_TOO_MANY.format(kind="PNG", limit=MAX_PNG_CHUNKS, what="metadata chunks"))
        if data_chunks > MAX_PNG_DATA_CHUNKS:
            raise UnsupportedImageError(
                _TOO_MANY.format(kind="PNG", limit=MAX_PNG_DATA_CHUNKS, what="image data (IDAT) chunks")
            )
        if kind == b"IEND":
            return
        pos += 12 + int.from_bytes(data[pos : pos + 4], "big")


def _jpeg(data: bytes) -> None:
    """Pillow's walk to the first scan (SOS): after a 0xFF, a marker of its table (with a 2-byte
    big-endian length unless it stands alone), another 0xFF (fill), or 0x00 (escaped); any other byte
    is skipped alone. The scans after it are libjpeg's, in C."""
    pos, steps = 2, 0  # on the 0xFF after SOI
    while pos + 1 < len(data):
        steps += 1
        if steps > MAX_JPEG_STEPS:
            raise UnsupportedImageError(
                _TOO_MANY.format(
                    kind="JPEG", limit=MAX_JPEG_STEPS, what="markers and padding bytes before its image data"
                )
            )
        if data[pos] != 0xFF:
            pos += 1  # stray byte
            continue
        marker = 0xFF00 | data[pos + 1]
        if marker == _JPEG_SCAN or (marker not in JPEG_MARKERS and marker not in (0xFF00, 0xFFFF)):
            return  # the image data, or a byte Pillow refuses
        if marker == 0xFFFF:
            pos += 1  # fill: the second 0xFF starts the next marker
        elif marker == 0xFF00 or marker in _JPEG_PLAIN:
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")


def _gif(data: bytes) -> None:
    """Blocks after the header, screen descriptor and global colour table: ``!`` (an extension: a label,
    then sub-blocks of a length byte and that many bytes, up to an empty one), ``,`` (the first frame:
    its data is decoded in C) or ``;`` (the end); Pillow skips any other byte alone."""
    flags = data[10]
    pos, steps = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0), 0
    while pos < len(data) and data[pos] not in b",;":
        steps += 1
        if data[pos] == 0x21:  # "!"
            pos += 2  # "!" and the label
            while pos < len(data) and steps <= MAX_GIF_STEPS:
                size = data[pos]
                steps += 1
                pos += 1 + size
                if size == 0:
                    break
        else:
            pos += 1
        if steps > MAX_GIF_STEPS:
            raise UnsupportedImageError(
                _TOO_MANY.format(kind="GIF", limit=MAX_GIF_STEPS, what="blocks before its first frame")
            )
