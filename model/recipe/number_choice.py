"""Choosing a number's digits from its spans' readings: the best split, then the rules that keep a
drawing whole (one digit, or one shape to refuse) when its parts read worse than it does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..calibration import split_refusal
from .digit_reader import Reading
from .number_parts import Parts, box, too_many
from .number_split import best_split
from .number_tuning import TUNING
from .segmentation import Atom


@dataclass(frozen=True)
class DigitReading(Reading):
    """One digit of the number: what the network read (:class:`~.digit_reader.Reading`) and where."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the uploaded image's pixels, end-exclusive
    strokes: frozenset[int] = frozenset()  # the drawing's strokes it is made of (``segmentation.atoms``)


def best_spans(parts: Parts, scores: np.ndarray, threshold: float | None) -> list[int]:
    """The indices of ``parts.spans`` making the best split, given the ``(S, K)`` scores of
    ``parts.digits``; :class:`TooManyPartsError` past ``TUNING.max_digits``."""
    n = parts.splittable
    best = best_split(parts.pieces, parts.spans[:n], scores[:n])
    if parts.joined and best == [n - 1] and threshold is not None and scores[n - 1, 10:].sum() >= threshold:
        # Joined across strokes only to be refused: a digit beside a shape is a digit and a shape.
        best = best_split(parts.pieces, parts.spans[: n - 1], scores[: n - 1])
    best = refuse_cut_strokes(parts, scores, best, threshold)
    best = one_digit(parts, scores, best, threshold)
    if len(best) > TUNING.max_digits:
        raise too_many(len(best))
    return best


def digit_readings(
    parts: Parts, scores: np.ndarray, best: list[int], threshold: float | None
) -> list[DigitReading]:
    """The :class:`DigitReading` of each span index in ``best``, from the ``(S, K)`` scores."""
    probs, is_digit = split_refusal(scores[best], threshold)
    return [
        DigitReading(
            probs[k],
            bool(is_digit[k]),
            parts.digits[s],
            box(parts.pieces, *parts.spans[s], parts.factor, parts.to_upload),
            frozenset(a.stroke for a in parts.pieces[slice(*parts.spans[s])]),
        )
        for k, s in enumerate(best)
    ]


def one_digit(parts: Parts, scores: np.ndarray, best: list[int], threshold: float | None) -> list[int]:
    """The whole drawing as one digit instead of the parts ``best`` when ``/predict`` reads it as a digit
    and the parts read less than ``TUNING.unsure_parts`` surely (their geometric mean), or when it reads
    it at least ``TUNING.one_digit`` surely, and at least as surely as the parts read or with a part
    inside its neighbour's columns. A 5 drawn in four pen strokes is a 5, not "515"; a 3 whose tail end
    came apart is a 3, not "31". The network refuses written numbers read as one digit, and the parts of
    a real number read surely side by side, so "16" is not read as its 6."""
    whole = (0, len(parts.pieces))
    if len(best) < 2 or whole not in parts.spans:
        return best
    w = parts.spans.index(whole)
    probs, is_digit = split_refusal(scores[w : w + 1], threshold)
    confidence = float(probs[0].max())
    mean = _geometric_mean(scores[best, :10].max(axis=1))
    if not is_digit[0] or (confidence < TUNING.one_digit and mean >= TUNING.unsure_parts):
        return best
    cols = [_columns(parts.pieces[slice(*parts.spans[s])]) for s in best]
    nested = any(_nested(a, b) for a, b in zip(cols[:-1], cols[1:], strict=True))
    return [w] if mean < TUNING.unsure_parts or confidence >= mean or nested else best


def _geometric_mean(confidence: np.ndarray) -> float:
    """The geometric mean of ``(n,)`` probabilities (floored at 1e-12)."""
    return float(np.exp(np.log(np.maximum(confidence.astype(np.float64), 1e-12)).mean()))


def _columns(pieces: list[Atom]) -> tuple[int, int]:
    """``(x0, x1)``: the analysis columns the atoms span, end-exclusive."""
    return min(a.x0 for a in pieces), max(a.x1 for a in pieces)


def _nested(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Do columns ``a`` and ``b`` overlap by ``TUNING.nested`` of the narrower one's width?"""
    return min(a[1], b[1]) - max(a[0], b[0]) >= TUNING.nested * min(a[1] - a[0], b[1] - b[0])


def refuse_cut_strokes(parts: Parts, scores: np.ndarray, best: list[int], threshold: float | None) -> list[int]:
    """For a drawing of one stroke that ``best`` cuts into digits: the stroke put back whole when the
    network refuses it more surely than it reads the parts, and reads the parts with less than
    ``TUNING.sure`` confidence (both as geometric means over the parts: a part read a little less
    surely beside sure ones is still a digit). A star cut in two reads as "88" unsurely and is refused
    whole surely; two touching digits read surely are kept. Nor is a stroke cut only into ones: slices
    of a zigzag (a W, an M, a wave) each read as a sure 1, but ones are written as strokes of their
    own. Only lone strokes: inside a number of several strokes the same rule lost more touching digits
    than it caught shapes."""
    if threshold is None or scores.shape[1] <= 10 or len({a.stroke for a in parts.pieces}) > 1:
        return best
    out = list(best)
    for stroke in {parts.pieces[i].stroke for s in best for i in range(*parts.spans[s])}:
        found = _cut_stroke(parts, out, stroke)
        if found is not None and _refused_whole(scores, found[1], found[0], threshold):
            out = sorted([s for s in out if s not in found[1]] + [found[0]], key=lambda s: parts.spans[s][0])
    return out


def _cut_stroke(parts: Parts, chosen: list[int], stroke: int) -> tuple[int, list[int]] | None:
    """The span of the whole ``stroke`` and the ``chosen`` spans that cut it, when it is cut in two or
    more and its atoms are contiguous; None otherwise."""
    atoms = [i for i, a in enumerate(parts.pieces) if a.stroke == stroke]
    whole = (atoms[0], atoms[-1] + 1)
    inside = [s for s in chosen if parts.spans[s][0] >= whole[0] and parts.spans[s][1] <= whole[1]]
    if len(inside) < 2 or whole not in parts.spans or atoms != list(range(*whole)):
        return None
    return parts.spans.index(whole), inside


def _refused_whole(scores: np.ndarray, inside: list[int], w: int, threshold: float) -> bool:
    """Is span ``w`` (a whole stroke) refused, and read better refused than as its parts ``inside``
    (unsure parts, or only ones)?"""
    mean = math.log(_geometric_mean(scores[inside, :10].max(axis=1)))
    unsure = mean < math.log(TUNING.sure) and math.log(scores[w, 10]) >= mean
    zigzag = bool((scores[inside, :10].argmax(axis=1) == 1).all())
    return bool(scores[w, 10] >= threshold) and (unsure or zigzag)


def to_recut(readings: list[DigitReading]) -> frozenset[int]:
    """The strokes to cut finer for a second reading: those of the parts refused beside digits that were
    read (perhaps two digits the first cuts did not separate); none when all parts or none are digits."""
    if all(r.is_digit for r in readings) or not any(r.is_digit for r in readings):
        return frozenset()
    return frozenset().union(*(r.strokes for r in readings if not r.is_digit))


def better_reading(first: list[DigitReading], second: list[DigitReading]) -> list[DigitReading]:
    """The second reading when all its parts are digits read with ``TUNING.sure`` confidence (geometric mean),
    else the first. Only numbers with a part refused beside digits get a second reading: a lone letter
    cut finely reads as a sure "17" too, so the first reading must already have found digits."""
    confidence = np.array([r.probabilities.max() for r in second], np.float64)
    sure = float(np.log(np.maximum(confidence, 1e-12)).mean()) >= math.log(TUNING.sure)
    return second if sure and all(r.is_digit for r in second) else first
