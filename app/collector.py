"""Saving labelled drawings for fine-tuning: ``<folder>/<label>/<UTC time>-<random>.png``, the layout
``scripts/finetune.py`` reads.

The client chooses the label only (validated against :data:`LABELS`); the name is made here. Each
image is decoded through the recipe (its pixel limit checked from the header, large images reduced)
and saved re-encoded as PNG: whatever was uploaded, only pixels reach the disk. A write goes to a
hidden temporary file in the label's folder, then ``os.replace`` gives it its name: a reader never
sees half a file, and several workers never write the same name (a random part of 64 bits, and
``O_EXCL``). The folder's size is summed before each write, against a cap; several workers writing at
once may each pass it, so the folder may end over the cap by at most one image per concurrent write.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import secrets
from pathlib import Path
from typing import Final

from model.recipe import open_image, preprocess_image
from model.recipe.decode import plain_mode
from model.recipe.folders import CLASS_FOLDERS

LABELS: Final = CLASS_FOLDERS  # "0" ... "9" and "not_digit"
PNG_MODES: Final = ("1", "L", "LA", "RGB", "RGBA", "I;16")  # modes PNG stores as they are


class FolderFullError(RuntimeError):
    """The collect folder holds ``used`` bytes; one more image of ``size`` would pass ``cap``."""

    def __init__(self, used: int, size: int, cap: int) -> None:
        super().__init__(f"{used} + {size} bytes > {cap}")
        self.used, self.size, self.cap = used, size, cap


def to_png(data: bytes, max_pixels: int) -> bytes:
    """An upload -> PNG bytes of its pixels; raises ``ImageError`` (the recipe's, with its message)
    when it is not an image the service reads, is over ``max_pixels``, or holds no ink."""
    im = open_image(data, max_pixels)
    preprocess_image(im)  # NoDigitError for a blank drawing: nothing to learn from it
    im = plain_mode(im)
    if im.mode not in PNG_MODES:
        im = im.convert("RGBA")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def folder_bytes(folder: Path) -> int:
    """Bytes held by the files in the label folders of ``folder`` (0 when it does not exist yet)."""
    total = 0
    for label in LABELS:
        try:
            with os.scandir(folder / label) as entries:
                total += sum(e.stat().st_size for e in entries if e.is_file(follow_symlinks=False))
        except FileNotFoundError:
            continue
    return total


def file_name(now: dt.datetime | None = None) -> str:
    """``20261207T014502.123456Z-<16 hex digits>.png``: sorts by time, unique across workers."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}-{secrets.token_hex(8)}.png"


def save(folder: Path, label: str, png: bytes, cap: int) -> Path:
    """Write ``png`` as a new file of ``folder/label/`` atomically; returns its path relative to
    ``folder``. Raises :class:`FolderFullError` past ``cap`` bytes, ``ValueError`` for a label not
    in :data:`LABELS`."""
    if label not in LABELS:
        raise ValueError(f"label {label!r} is not one of {', '.join(LABELS)}")
    used = folder_bytes(folder)
    if used + len(png) > cap:
        raise FolderFullError(used, len(png), cap)
    target_dir = folder / label
    target_dir.mkdir(parents=True, exist_ok=True)
    name = file_name()
    tmp = target_dir / f".{name}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(png)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target_dir / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Path(label) / name

