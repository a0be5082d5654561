"""A number's parts: its ink split into atoms (:mod:`.segmentation`), the runs of atoms that may be
one digit, and those runs drawn through the MNIST recipe for the network.

Which strokes may join into one digit is geometry only (near, overlapping or small: the two strokes
of a 4, a 5's flag, a 7's bar); which of them do is the network's call (:mod:`.number_split`).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from .decode import DEFAULT_MAX_PIXELS, open_image
from .errors import NoDigitError, TooManyPartsError
from .fit import fit_digit, to_uint8
from .ink import digit_ink
from .number_tuning import TUNING
from .segmentation import Atom, atoms


@dataclass(frozen=True)
class Parts:
    """A number split into atoms and the runs of atoms (spans) that may be one digit; with ``images``
    once spans are drawn for the network (:func:`subset`, :func:`prepare`)."""

    ink: np.ndarray  # (H, W) float32: the decoded image's normalized ink
    pieces: list[Atom]
    spans: list[tuple[int, int]]  # (i, j): atoms i..j-1
    factor: int  # ink pixels per analysis cell
    to_upload: tuple[float, float]  # uploaded pixels per decoded pixel, (x, y)
    splittable: int  # spans[:splittable] may be digits of a split; a last one may be the whole drawing
    joined: bool = False  # spans[splittable - 1] is the whole drawing, joined across its strokes
    images: np.ndarray | None = None  # (len(spans), 28, 28) uint8: each span through the MNIST recipe

    @property
    def digits(self) -> np.ndarray:
        """``images``, which :func:`subset` has drawn: ``(len(spans), 28, 28)`` uint8."""
        if self.images is None:
            raise ValueError("the spans are not drawn yet: subset() draws them")
        return self.images


def find_parts(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, recut: frozenset[int] = frozenset()) -> Parts:
    """Decode, find the ink, split it into atoms (the strokes numbered in ``recut`` cut finer) and list
    the runs of atoms that may be digits. Raises :class:`ImageError` subclasses: ``NoDigitError`` for a
    blank image, ``TooManyPartsError`` past ``TUNING.max_atoms`` atoms."""
    im = open_image(data, max_pixels)
    ink = digit_ink(im)
    pieces, factor, line = atoms(ink, recut)
    if len(pieces) > 1:
        pieces = [a for a in pieces if max(a.x1 - a.x0, a.y1 - a.y0) >= TUNING.noise * line] or pieces
    if not pieces:
        raise NoDigitError("no digit found: the image has no stroke thick enough to read")
    if len(pieces) > TUNING.max_atoms:
        raise too_many(len(pieces))
    spans = candidate_spans(pieces, line)
    whole = (0, len(pieces))
    x0, y0, x1, y1 = _bounds(pieces)
    joined = whole not in spans and x1 - x0 <= TUNING.whole_width * line
    if joined:
        spans.append(whole)  # a drawing no wider than a digit may be one, however many strokes it has
    splittable = len(spans)
    one_stroke = len({a.stroke for a in pieces}) == 1
    if whole not in spans and (one_stroke or x1 - x0 <= TUNING.one_digit_aspect * (y1 - y0)):
        spans.append(whole)  # the whole drawing as /predict reads it: one digit, or a stroke to refuse
    return Parts(ink, pieces, spans, factor, _upload_scale(data, im), splittable, joined)


def _bounds(pieces: list[Atom]) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)``: the analysis cells the atoms cover, end-exclusive."""
    return min(a.x0 for a in pieces), min(a.y0 for a in pieces), max(a.x1 for a in pieces), max(a.y1 for a in pieces)


def candidate_spans(pieces: list[Atom], line: float) -> list[tuple[int, int]]:
    """``(i, j)``: atoms ``i..j-1`` may be one digit (always for ``j = i + 1``). Slices of one stroke
    may always join; a separate stroke joins if its box is within ``near_gap`` of the others' (a digit
    drawn in pieces), or if it is within ``join_gap`` to the right and overlaps the others horizontally
    or is small (the two strokes of a 4, a 5's flag, a 7's crossbar, a pen gap)."""
    spans = []
    for i in range(len(pieces)):
        for j in range(i + 1, min(i + TUNING.max_span, len(pieces)) + 1):
            if j > i + 1 and not _may_join(pieces[i : j - 1], pieces[j - 1], line):
                break
            spans.append((i, j))
    return spans


def _may_join(left: list[Atom], new: Atom, line: float) -> bool:
    x0, x1 = min(a.x0 for a in left), max(a.x1 for a in left)
    if max(x1, new.x1) - min(x0, new.x0) > TUNING.max_width * line:
        return False
    if new.stroke == left[-1].stroke or _near(left, new, line):
        return True
    if new.x0 - x1 > TUNING.join_gap * line:
        return False
    overlap = min(x1, new.x1) - max(x0, new.x0)
    small = min(max(a.y1 for a in left) - min(a.y0 for a in left), new.y1 - new.y0) < TUNING.small * line
    return small or overlap >= TUNING.overlap * min(x1 - x0, new.x1 - new.x0)


def _near(left: list[Atom], new: Atom, line: float) -> bool:
    """Is ``new``'s box within ``near_gap`` line heights of the box of ``left``, across and up or down?"""
    x0, y0, x1, y1 = _bounds(left)
    across = max(new.x0 - x1, x0 - new.x1, 0)
    down = max(new.y0 - y1, y0 - new.y1, 0)
    return max(across, down) <= TUNING.near_gap * line


def prepare(parts: Parts) -> Parts:
    """Every span of ``parts`` drawn through the MNIST recipe, ready for the network."""
    every = list(range(len(parts.spans)))
    return subset(parts, every, span_images(parts, every))


def span_images(parts: Parts, spans: list[int]) -> np.ndarray:
    """The spans of ``parts`` numbered in ``spans`` through the MNIST recipe: ``(len(spans), 28, 28)``
    uint8."""
    return np.stack([_digit_image(parts.ink, parts.pieces, *parts.spans[s], parts.factor) for s in spans])


def subset(parts: Parts, spans: list[int], images: np.ndarray) -> Parts:
    """The spans of ``parts`` numbered in ``spans`` (ascending), with their ``images`` drawn."""
    splittable = sum(1 for s in spans if s < parts.splittable)
    joined = parts.joined and parts.splittable - 1 in spans
    chosen = [parts.spans[s] for s in spans]
    return replace(parts, spans=chosen, splittable=splittable, joined=joined, images=images)


def _digit_image(ink: np.ndarray, pieces: list[Atom], i: int, j: int, factor: int) -> np.ndarray:
    """The MNIST recipe on atoms ``i..j-1`` alone: ``(28, 28)`` uint8. All the atoms: the whole ink, as
    ``/predict`` sees it."""
    if i == 0 and j == len(pieces):
        return to_uint8(fit_digit(ink))
    x0, y0 = min(a.x0 for a in pieces[i:j]), min(a.y0 for a in pieces[i:j])
    x1, y1 = max(a.x1 for a in pieces[i:j]), max(a.y1 for a in pieces[i:j])
    cells = np.zeros((y1 - y0 + 2, x1 - x0 + 2), bool)  # one cell of margin for soft edges
    for a in pieces[i:j]:
        cells[a.y0 - y0 + 1 : a.y1 - y0 + 1, a.x0 - x0 + 1 : a.x1 - x0 + 1] |= a.mask
    grown = cells.copy()  # a one-cell dilation keeps the anti-aliased rim of the strokes
    grown[1:] |= cells[:-1]
    grown[:-1] |= cells[1:]
    grown[:, 1:] |= grown[:, :-1].copy()
    grown[:, :-1] |= grown[:, 1:].copy()
    top, left = (y0 - 1) * factor, (x0 - 1) * factor
    mask = np.repeat(np.repeat(grown, factor, axis=0), factor, axis=1)
    r0, c0 = max(top, 0), max(left, 0)
    part = ink[r0 : top + mask.shape[0], c0 : left + mask.shape[1]]
    part = part * mask[r0 - top : r0 - top + part.shape[0], c0 - left : c0 - left + part.shape[1]]
    if float(part.max(initial=0)) <= 0:
        part = np.pad(np.ones((1, 1), np.float32), 1)  # unreachable for real atoms; keeps shapes valid
    reduce = math.ceil(max(part.shape) / TUNING.part_side)
    if reduce > 1:  # box-average first: the anti-aliased resize to 20 px then costs a fraction
        part = np.asarray(Image.fromarray(np.ascontiguousarray(part, np.float32)).reduce(reduce))
    return to_uint8(fit_digit(part))


def _upload_scale(data: bytes, im: Image.Image) -> tuple[float, float]:
    """Uploaded pixels per decoded pixel, ``(x, y)`` (large images are decoded reduced)."""
    try:
        w, h = Image.open(io.BytesIO(data)).size
    except Exception:  # the header was read once already; keep the decoded scale
        return 1.0, 1.0
    if (w > h) != (im.width > im.height):  # EXIF rotated the decoded image
        w, h = h, w
    return w / im.width, h / im.height


def box(pieces: list[Atom], i: int, j: int, factor: int, scale: tuple[float, float]) -> tuple[int, int, int, int]:
    """The box of atoms ``i..j-1`` in the uploaded image's pixels, ``(x0, y0, x1, y1)`` end-exclusive."""
    x0, y0, x1, y1 = _bounds(pieces[i:j])
    sx, sy = factor * scale[0], factor * scale[1]
    return int(x0 * sx), int(y0 * sy), int(math.ceil(x1 * sx)), int(math.ceil(y1 * sy))


def too_many(n: int) -> TooManyPartsError:
    """The 422 for ``n`` marks, more than a number's digits."""
    most = TUNING.max_digits
    return TooManyPartsError(f"the image holds {n} separate marks; a number may have at most {most} digits")
