"""A folder of labelled images -> the 28x28 digits the service would read, with what was wrong in it.

The layout every framework uses: ``DIR/0/*.png`` ... ``DIR/9/*.jpg`` (any format the service reads), and
an optional ``DIR/not_digit/`` for things the network should refuse. Every image goes through the
service's own recipe (:func:`model.recipe.preprocess`), so a network trained on the result reads what
the service will show it. Hidden files (``.DS_Store``, a collector's temporary files) and files beside
the class folders are left out; anything else that is not a readable image with ink is a
:class:`Problem` naming its path, which the caller skips or refuses (``scripts/finetune.py --strict``).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np

from ..normalize import INPUT_SIZE
from .decode import DEFAULT_MAX_PIXELS, FORMAT_NAMES
from .errors import ImageError, NoDigitError
from .fit import preprocess

NOT_DIGIT_FOLDER: Final = "not_digit"
CLASS_FOLDERS: Final = (*(str(d) for d in range(10)), NOT_DIGIT_FOLDER)  # index = label (10: not a digit)
LAYOUT: Final = f"DIR/0/ ... DIR/9/ holding {FORMAT_NAMES} images, and optionally DIR/{NOT_DIGIT_FOLDER}/"
MAX_FILE_BYTES: Final = 64 * 1024 * 1024  # larger files are not read (no digit photo comes near)


class FolderError(ValueError):
    """The folder cannot be read as labelled images at all; the message says why and the layout."""


@dataclass(frozen=True)
class Problem:
    """An image that was not read: its path and why (unreadable, not an image, blank...)."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class LabelledImages:
    """What a folder holds: ``images`` ``(N, 28, 28)`` uint8 (white ink on black), ``labels`` ``(N,)``
    int64 (0-9, 10 = not a digit), each image's ``paths``, and the files that could not be read."""

    folder: Path
    images: np.ndarray
    labels: np.ndarray
    paths: list[Path]
    problems: list[Problem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Images read per class folder name (``"0"`` ... ``"9"``, ``"not_digit"``), only classes present."""
        found = Counter(int(v) for v in self.labels)
        return {CLASS_FOLDERS[k]: found[k] for k in sorted(found)}

    def few(self, minimum: int) -> dict[str, int]:
        """Digit classes with fewer than ``minimum`` images (absent digits count 0): name -> count."""
        counts = self.counts()
        return {str(d): counts.get(str(d), 0) for d in range(10) if counts.get(str(d), 0) < minimum}


def class_folders(folder: Path) -> dict[str, Path]:
    """The class folders of ``folder`` by name; raises :class:`FolderError` for a missing folder, a
    subfolder that is not a class, or no class folder at all."""
    if not folder.exists():
        raise FolderError(f"{folder} does not exist: expected {LAYOUT}")
    if not folder.is_dir():
        raise FolderError(f"{folder} is not a folder: expected {LAYOUT}")
    found: dict[str, Path] = {}
    unknown: list[str] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        if entry.name in CLASS_FOLDERS:
            found[entry.name] = entry
        else:
            unknown.append(entry.name)
    if unknown:
        names = ", ".join(repr(n) for n in unknown)
        raise FolderError(
            f"{folder} has folders that are not a class: {names}; class folders are named 0 to 9 and "
            f"{NOT_DIGIT_FOLDER}: expected {LAYOUT}"
        )
    if not found:
        raise FolderError(f"{folder} has no class folder: expected {LAYOUT}")
    return found


def image_files(folder: Path) -> list[Path]:
    """The files of a class folder that may be images, sorted: hidden files left out, subfolders too."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and not p.is_dir())


def read_image(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """One file -> ``(28, 28)`` uint8 through the service's recipe; raises :class:`ImageError` or
    :class:`OSError` saying what was wrong."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImageError(f"{size} bytes is over the {MAX_FILE_BYTES} bytes read per image")
    if size == 0:
        raise ImageError("the file is empty")
    return preprocess(path.read_bytes(), max_pixels)


def read_folder(folder: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> LabelledImages:
    """Every image of ``folder`` (see the module doc), in class then file-name order.

    Raises :class:`FolderError` when the folder is missing, has a folder that is not a class, or holds
    no readable image; unreadable or blank images are listed in ``problems`` and left out.
    """
    root = Path(folder)
    images: list[np.ndarray] = []
    labels: list[int] = []
    paths: list[Path] = []
    problems: list[Problem] = []
    for name, sub in class_folders(root).items():
        for path in image_files(sub):
            try:
                images.append(read_image(path, max_pixels))
            except NoDigitError as exc:
                problems.append(Problem(path, f"blank: {exc}"))
                continue
            except ImageError as exc:
                problems.append(Problem(path, f"unreadable: {exc}"))
                continue
            except OSError as exc:
                problems.append(Problem(path, f"cannot be read: {exc.strerror or exc}"))
                continue
            labels.append(CLASS_FOLDERS.index(name))
            paths.append(path)
    if not images:
        why = f"; {len(problems)} files could not be read, e.g. {problems[0]}" if problems else ""
        raise FolderError(f"{root} holds no readable image{why}: expected {LAYOUT}")
    stack = np.stack(images) if images else np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.uint8)
    return LabelledImages(root, stack, np.asarray(labels, np.int64), paths, problems)
