"""Reading a whole number written left to right on one canvas: the one driver the service and the
scripts share.

:func:`read_number` is a program (:mod:`model.steps`): it asks for the upload to be decoded and split
into parts (:func:`~.number_parts.find_parts`, a :class:`~model.steps.Decode` step a driver may run
in another process), then for the network's readings of the runs of atoms that may be digits, in
rounds (:func:`reading`), and dynamic programming picks the split whose digits read best
(:mod:`.number_split`, :mod:`.number_choice`). So two touching digits are cut where a cut gives two
clear digits, and the flag of a 5 stays with its body because alone it reads as a dash. A number
with a part refused beside digits that were read is read a second time with that part's strokes cut
finer (``segmentation.RECUTS``): a 1 pressed against its neighbour is narrower than the first cuts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from .. import second_look
from ..steps import Classify, Decode, Program
from .decode import DEFAULT_MAX_PIXELS
from .errors import TooManyPartsError
from .number_choice import DigitReading, best_spans, better_reading, digit_readings, to_recut
from .number_parts import Parts, find_parts, span_images, subset
from .number_split import uncut_spans, unsettled
from .number_tuning import TUNING

SPANS_PER_STEP: Final = 16  # candidates drawn between two of the scheduler's turns


@dataclass(frozen=True)
class NumberReading:
    """The digits of a number, left to right, and whether a second reading was made (``None``: not
    needed; ``True``: its finer cuts were kept; ``False``: the first reading stood)."""

    digits: list[DigitReading]
    recut: bool | None = None

    @property
    def number(self) -> str | None:
        """The number as a string of digits; None when any part is not a digit."""
        if not all(d.is_digit for d in self.digits):
            return None
        return "".join(str(int(d.probabilities.argmax())) for d in self.digits)


def read_number(
    data: bytes, threshold: float | None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Program[NumberReading]:
    """Encoded image bytes -> the number's digits. ``threshold``: the network's "not a digit"
    probability from which a part is refused (None: never). Raises :class:`~.errors.ImageError`
    subclasses for what cannot be read (a blank image, too many marks, a bad upload)."""
    first = yield from _read(data, threshold, max_pixels, frozenset())
    recut = to_recut(first)
    if not recut:
        return NumberReading(first)
    try:
        second = yield from _read(data, threshold, max_pixels, recut)
    except TooManyPartsError:  # finer cuts, too many parts: the first reading stands
        return NumberReading(first, recut=False)
    chosen = better_reading(first, second)
    return NumberReading(chosen, recut=chosen is second)


def _read(data: bytes, threshold: float | None, max_pixels: int, recut: frozenset[int]) -> Program[list[DigitReading]]:
    """One reading: the upload split into parts (the strokes numbered in ``recut`` cut finer), read."""
    parts: Parts = yield Decode(find_parts, data, (max_pixels, recut))
    return (yield from reading(parts, threshold))


def reading(parts: Parts, threshold: float | None) -> Program[list[DigitReading]]:
    """The digits of ``parts``, read in rounds of :class:`~model.steps.Classify` steps.

    The first round reads the spans that cut through no stroke (:func:`uncut_spans`: whole strokes,
    and strokes together); the next ones only others that could still be a part of a better split,
    even were each of them read with certainty (:func:`unsettled`), up to ``TUNING.max_rounds``. The best
    split of what was read is then the best of all the spans, the same as from reading every one of
    them: slices of strokes are read only for digits that touch or a stroke read unsurely. A spaced
    4-digit canvas then reads 4 candidates instead of 13."""
    read = uncut_spans(parts) or list(range(len(parts.spans)))
    images, scores = yield from _read_spans(parts, read)
    for round_ in range(1, TUNING.max_rounds):
        more = unsettled(parts, read, scores, threshold, everything=round_ == TUNING.max_rounds - 1)
        if not more:
            break
        more_images, more_scores = yield from _read_spans(parts, more)
        order = np.argsort(read + more, kind="stable")
        read = sorted(read + more)
        images = np.concatenate([images, more_images])[order]
        scores = np.concatenate([scores, more_scores])[order]
    return (yield from choosing(subset(parts, read, images), threshold, scores))


def _read_spans(parts: Parts, spans: list[int]) -> Program[tuple[np.ndarray, np.ndarray]]:
    """The spans numbered in ``spans`` drawn and read, ``SPANS_PER_STEP`` at a time: each step's work
    is bounded, so a drawing of many candidates never holds the scheduler for long. Returns their
    ``(len(spans), 28, 28)`` images and ``(len(spans), K)`` scores."""
    images: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    for k in range(0, len(spans), SPANS_PER_STEP):
        chunk = span_images(parts, spans[k : k + SPANS_PER_STEP])
        images.append(chunk)
        scores.append((yield Classify(chunk)))
    return np.concatenate(images), np.concatenate(scores)


def choosing(parts: Parts, threshold: float | None, scores: np.ndarray) -> Program[list[DigitReading]]:
    """The digits of the best split of ``parts`` (drawn; ``scores`` the network's of them), the chosen
    digits read unsurely given the second look ``/predict`` gives (:func:`model.second_look.refine`)."""
    best = best_spans(parts, scores, threshold)
    scores = np.array(scores, copy=True)
    scores[best] = yield from second_look.refine(parts.digits[best], scores[best])
    return digit_readings(parts, scores, best, threshold)
