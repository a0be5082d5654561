"""Reading a whole number written left to right on one canvas.

The ink is split into atoms (:mod:`model.recipe.segmentation`); every run of up to ``MAX_SPAN`` neighbouring
atoms that could be one digit goes through the same MNIST recipe as ``/predict`` and the network;
dynamic programming then picks the split of the atoms whose digits the network reads best (the
largest sum of log-probabilities of each part's best digit, a small penalty per part). The runs that
cut through no stroke are read first, the slices of strokes only when they could change the answer
(:func:`reading`). So two touching
digits are cut where a cut gives two clear digits, and the flag of a 5 stays with its body because
alone it reads as a dash, not a digit. A number with a part refused beside digits that were read is
read a second time with that part's strokes cut finer (``segmentation.RECUTS``): a 1 pressed against
its neighbour is narrower than the first cuts.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image

from .. import second_look
from ..calibration import split_refusal
from .decode import DEFAULT_MAX_PIXELS, open_image
from .errors import NoDigitError, TooManyPartsError
from .fit import fit_digit, to_uint8
from .ink import ink_map, normalize_ink
from .network import Network
from .segmentation import Atom, atoms

MAX_DIGITS: Final = 24  # more parts than this in one image is a 422
MAX_SPAN: Final = 12  # atoms one digit may be made of: a digit a line height and a half wide, cut 6 times a
# line height (``segmentation.CUTS``), is 10 slices, with a flag or bar of another stroke among them
MAX_ATOMS: Final = 168  # atoms in one image: more is a 422 (it bounds the candidates read, about 12 each)
MAX_WIDTH: Final = 1.6  # line heights a multi-atom digit may span
JOIN_GAP: Final = 0.12  # line heights: atoms of different groups further apart are never one digit
PART_PENALTY: Final = 0.1  # log-probability cost of each part (ties go to fewer digits)
CUT_PENALTY: Final = 0.6  # and of each cut through a stroke: touching digits are rarer than separate ones
SURE: Final = 0.98  # parts of a cut stroke read this confidently (geometric mean) are digits, whatever the whole is
OVERLAP: Final = 0.3  # separate strokes are one digit only if they overlap this much horizontally...
SMALL: Final = 0.6  # ...or one of them is shorter than this many line heights (a 5's flag, a 7's bar)
PART_SIDE: Final = 112  # a part is box-reduced to about this many pixels a side before the MNIST recipe
WHOLE_WIDTH: Final = 2.2  # line heights: a whole drawing this narrow may be one digit, however drawn
# (2.2, not MAX_WIDTH: a digit drawn in pieces has a line height, from its pieces, of half its own)
SPECK: Final = 0.12  # line heights: a lone piece smaller than this beside a number is noise
ONE_DIGIT: Final = 0.9  # a whole drawing /predict reads as a digit this surely may be one digit (``one_digit``)
ONE_DIGIT_ASPECT: Final = 2.5  # widths per height: a drawing this narrow is read whole too, as /predict would
MAX_ROUNDS: Final = 4  # network calls for one reading: the last reads every span that could still matter
UNSURE_PARTS: Final = 0.9  # parts read less surely than this (geometric mean) do not outvote a whole digit
NESTED: Final = 0.8  # share of the narrower part's columns inside its neighbour's: the two are not side by side


@dataclass(frozen=True)
class DigitReading:
    """One digit of the number: what the network read and where it is."""

    probabilities: np.ndarray  # (10,) float32, the closest digit's distribution
    is_digit: bool
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the uploaded image's pixels, end-exclusive
    image: np.ndarray  # (28, 28) uint8: what the network saw
    strokes: frozenset[int] = frozenset()  # the drawing's strokes it is made of (``segmentation.atoms``)


@dataclass(frozen=True)
class Candidates:
    """A number split into atoms, and every run of atoms that may be one digit, ready for the network."""

    pieces: list[Atom]
    spans: list[tuple[int, int]]  # (i, j): atoms i..j-1
    images: np.ndarray  # (len(spans), 28, 28) uint8: each span through the MNIST recipe
    factor: int  # ink pixels per analysis cell
    to_upload: tuple[float, float]  # uploaded pixels per decoded pixel, (x, y)
    splittable: int  # spans[:splittable] may be digits of a split; a last one may be the whole drawing
    joined: bool = False  # spans[splittable - 1] is the whole drawing, joined across its strokes


def read_number(
    data: bytes, net: Network, threshold: float | None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> list[DigitReading]:
    """Encoded image bytes -> its digits, left to right, in this thread (the service runs the network
    part in its predictor instead: :func:`find_parts`, then :func:`reading`'s rounds, and again for
    the strokes :func:`to_recut` names)."""
    first = run_reading(reading(find_parts(data, max_pixels), threshold), net.predict)
    recut = to_recut(first)
    if not recut:
        return first
    try:
        again = run_reading(reading(find_parts(data, max_pixels, recut), threshold), net.predict)
        return better_reading(first, again)
    except TooManyPartsError:
        return first


Reading = Generator[np.ndarray, np.ndarray, list[DigitReading]]


def reading(parts: Parts, threshold: float | None) -> Reading:
    """The digits of ``parts``, read in one or two rounds: a generator that yields ``(k, 28, 28)`` uint8
    candidate digits, is sent the network's ``(k, K)`` scores of them, and returns the digits (drive it
    with :func:`run_reading`, or step by step with :func:`advance`).

    The first round reads the spans that cut through no stroke (:func:`uncut_spans`: whole strokes,
    and strokes together); the next ones only others that could still be a part of a better split,
    even were each of them read with certainty (:func:`unsettled`), up to ``MAX_ROUNDS``. The best
    split of what was read is then the best of all the spans, the same as from reading every one of
    them: slices of strokes are read only for digits that touch or a stroke read unsurely. A spaced
    4-digit canvas is then 4 candidates instead of 13, four touching digits (`bench_number --step 110`) 8."""
    read = uncut_spans(parts) or list(range(len(parts.spans)))
    images = span_images(parts, read)
    scores = yield images
    for round_ in range(1, MAX_ROUNDS):
        more = unsettled(parts, read, scores, threshold, everything=round_ == MAX_ROUNDS - 1)
        if not more:
            break
        more_images = span_images(parts, more)
        more_scores = yield more_images
        order = np.argsort(read + more, kind="stable")
        read = sorted(read + more)
        images = np.concatenate([images, more_images])[order]
        scores = np.concatenate([scores, more_scores])[order]
    return (yield from choosing(subset(parts, read, images), threshold, scores))


def choosing(found: Candidates, threshold: float | None, scores: np.ndarray | None = None) -> Reading:
    """The digits of the best split of ``found`` (:func:`best_spans`), as a :func:`reading`: it yields
    ``found.images`` unless their ``scores`` are given, then the chosen digits read unsurely, shifted
    a pixel each way (the second look ``/predict`` gives them: ``model.second_look``), if any."""
    if scores is None:
        scores = yield found.images
    best = best_spans(found, scores, threshold)
    unsure = [best[k] for k in second_look.unsure_rows(scores[best])]
    if unsure:
        scores = np.array(scores, copy=True)
        view_scores = yield second_look.views(found.images[unsure])
        scores[unsure] = second_look.average(scores[unsure], view_scores)
    return digit_readings(found, scores, best, threshold)


def advance(steps: Reading, scores: np.ndarray | None = None) -> np.ndarray | list[DigitReading]:
    """One step of a :func:`reading`: the next candidate digits to score (an array), or the digits read
    (a list). ``scores``: the network's for the digits of the last step (None to start)."""
    try:
        return next(steps) if scores is None else steps.send(scores)
    except StopIteration as done:
        result: list[DigitReading] = done.value
        return result


def run_reading(steps: Reading, predict: Callable[[np.ndarray], np.ndarray]) -> list[DigitReading]:
    """A :func:`reading` to its end, with ``predict`` (``(k, 28, 28)`` uint8 -> ``(k, K)`` scores)."""
    step = advance(steps)
    while isinstance(step, np.ndarray):
        step = advance(steps, predict(step))
    return step


def to_recut(readings: list[DigitReading]) -> frozenset[int]:
    """The strokes to cut finer for a second reading: those of the parts refused beside digits that were
    read (perhaps two digits the first cuts did not separate); none when all parts or none are digits."""
    if all(r.is_digit for r in readings) or not any(r.is_digit for r in readings):
        return frozenset()
    return frozenset().union(*(r.strokes for r in readings if not r.is_digit))


def better_reading(first: list[DigitReading], second: list[DigitReading]) -> list[DigitReading]:
    """The second reading when all its parts are digits read with ``SURE`` confidence (geometric mean),
    else the first. Only numbers with a part refused beside digits get a second reading: a lone letter
    cut finely reads as a sure "17" too, so the first reading must already have found digits."""
    confidence = np.array([r.probabilities.max() for r in second], np.float64)
    sure = float(np.log(np.maximum(confidence, 1e-12)).mean()) >= math.log(SURE)
    return second if sure and all(r.is_digit for r in second) else first


@dataclass(frozen=True)
class Parts:
    """A number split into atoms and the runs of atoms that may be one digit, before any is drawn
    for the network (:func:`prepare` does that)."""

    ink: np.ndarray  # (H, W) float32: the decoded image's normalized ink
    pieces: list[Atom]
    spans: list[tuple[int, int]]  # (i, j): atoms i..j-1
    factor: int  # ink pixels per analysis cell
    to_upload: tuple[float, float]  # uploaded pixels per decoded pixel, (x, y)
    splittable: int  # as in Candidates
    joined: bool = False


def candidates(
    data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, recut: frozenset[int] = frozenset()
) -> Candidates:
    """Decode, find the ink, split it into atoms (the strokes numbered in ``recut`` cut finer: see
    ``segmentation.atoms``) and prepare every candidate digit: :func:`find_parts`, then :func:`prepare`."""
    return prepare(find_parts(data, max_pixels, recut))


def find_parts(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, recut: frozenset[int] = frozenset()) -> Parts:
    """Decode, find the ink, split it into atoms and list the runs of atoms that may be digits. Raises
    :class:`ImageError` subclasses: ``NoDigitError`` for a blank image, ``TooManyPartsError`` past
    ``MAX_ATOMS`` atoms."""
    im = open_image(data, max_pixels)
    ink = normalize_ink(ink_map(im))
    pieces, factor, line = atoms(ink, recut)
    if len(pieces) > 1:
        pieces = [a for a in pieces if max(a.x1 - a.x0, a.y1 - a.y0) >= SPECK * line] or pieces
    if not pieces:
        raise NoDigitError("no digit found: the image has no stroke thick enough to read")
    if len(pieces) > MAX_ATOMS:
        raise TooManyPartsError(_too_many(len(pieces)))
    spans = candidate_spans(pieces, line)
    whole = (0, len(pieces))
    joined = whole not in spans and max(a.x1 for a in pieces) - min(a.x0 for a in pieces) <= WHOLE_WIDTH * line
    if joined:
        spans.append(whole)  # a drawing no wider than a digit may be one, however many strokes it has
    splittable = len(spans)
    width = max(a.x1 for a in pieces) - min(a.x0 for a in pieces)
    height = max(a.y1 for a in pieces) - min(a.y0 for a in pieces)
    one_stroke = len({a.stroke for a in pieces}) == 1
    if whole not in spans and (one_stroke or width <= ONE_DIGIT_ASPECT * height):
        spans.append(whole)  # the whole drawing as /predict reads it: one digit, or a stroke to refuse
    return Parts(ink, pieces, spans, factor, _upload_scale(data, im), splittable, joined)


def prepare(parts: Parts) -> Candidates:
    """Every span of ``parts`` through the MNIST recipe, ready for the network."""
    every = list(range(len(parts.spans)))
    return subset(parts, every, span_images(parts, every))


def span_images(parts: Parts, spans: list[int]) -> np.ndarray:
    """The spans of ``parts`` numbered in ``spans`` through the MNIST recipe: ``(len(spans), 28, 28)``
    uint8 (about 0.15 ms a span)."""
    return np.stack([_digit_image(parts.ink, parts.pieces, *parts.spans[s], parts.factor) for s in spans])


def subset(parts: Parts, spans: list[int], images: np.ndarray) -> Candidates:
    """The candidates of ``parts`` numbered in ``spans`` (ascending), with their ``images``."""
    splittable = sum(1 for s in spans if s < parts.splittable)
    joined = parts.joined and parts.splittable - 1 in spans
    chosen = [parts.spans[s] for s in spans]
    return Candidates(parts.pieces, chosen, images, parts.factor, parts.to_upload, splittable, joined)


def uncut_spans(parts: Parts) -> list[int]:
    """The spans of ``parts`` that begin and end between strokes, not at a cut through one."""
    cut = [*_cuts(parts.pieces), False]
    return [s for s, (i, j) in enumerate(parts.spans) if not cut[i] and not cut[j]]


def unsettled(
    parts: Parts, read: list[int], scores: np.ndarray, threshold: float | None, everything: bool = False
) -> list[int]:
    """Unread spans of ``parts`` that could still be a part of a better split than the best of the
    ``read`` ones (ascending; ``scores`` theirs), ascending; none when it is the best of all.

    Each unread span is counted as read with certainty (log-probability 0, less its penalties: an
    upper bound of what it can bring). The unread spans of the best split so counted, if it beats the
    best read one; with ``everything``, every unread span through which the best split so counted
    beats it. Every unread span when the read ones cannot cover the atoms, or when :func:`choose`
    would set aside a joined whole drawing refused as not a digit (it then splits again without it)."""
    n = parts.splittable
    known = set(read)
    unread = [s for s in range(len(parts.spans)) if s not in known]
    inner = [k for k, s in enumerate(read) if s < n]
    spans = [parts.spans[read[k]] for k in inner]
    gain = _gains(parts.pieces, spans, scores[inner])
    best, value = _best(parts.pieces, spans, gain)
    joined = bool(best) and parts.joined and best == [len(spans) - 1] and read[inner[-1]] == n - 1
    if not best or (joined and threshold is not None and scores[inner[-1], 10:].sum() >= threshold):
        return unread
    cut = _cuts(parts.pieces)
    bound = -PART_PENALTY - CUT_PENALTY * np.array([cut[i] for i, _ in parts.spans[:n]], np.float64)
    bound[[read[k] for k in inner]] = gain
    if not everything:
        path, top = _best(parts.pieces, parts.spans[:n], bound)
        return sorted(s for s in path if s not in known) if top > value else []
    before = _prefix_values(len(parts.pieces), parts.spans[:n], bound)
    after = _suffix_values(len(parts.pieces), parts.spans[:n], bound)
    return [s for s in unread if s < n and before[parts.spans[s][0]] + bound[s] + after[parts.spans[s][1]] > value]


def choose(found: Candidates, scores: np.ndarray, threshold: float | None) -> list[DigitReading]:
    """The digits of the best split, given the network's ``(S, K)`` scores of ``found.images`` (read
    once: :func:`choosing` gives the unsure ones a second look)."""
    return digit_readings(found, scores, best_spans(found, scores, threshold), threshold)


def best_spans(found: Candidates, scores: np.ndarray, threshold: float | None) -> list[int]:
    """The indices of ``found.spans`` making the best split, given the ``(S, K)`` scores of
    ``found.images``; :class:`TooManyPartsError` past ``MAX_DIGITS``."""
    n = found.splittable
    best = best_split(found.pieces, found.spans[:n], scores[:n])
    if found.joined and best == [n - 1] and threshold is not None and scores[n - 1, 10:].sum() >= threshold:
        # Joined across strokes only to be refused: a digit beside a shape is a digit and a shape.
        best = best_split(found.pieces, found.spans[: n - 1], scores[: n - 1])
    best = refuse_cut_strokes(found, scores, best, threshold)
    best = one_digit(found, scores, best, threshold)
    if len(best) > MAX_DIGITS:
        raise TooManyPartsError(_too_many(len(best)))
    return best


def digit_readings(
    found: Candidates, scores: np.ndarray, best: list[int], threshold: float | None
) -> list[DigitReading]:
    """The :class:`DigitReading` of each span index in ``best``, from the ``(S, K)`` scores."""
    probs, is_digit = split_refusal(scores[best], threshold)
    return [
        DigitReading(
            probs[k],
            bool(is_digit[k]),
            _box(found.pieces, *found.spans[s], found.factor, found.to_upload),
            found.images[s],
            frozenset(a.stroke for a in found.pieces[slice(*found.spans[s])]),
        )
        for k, s in enumerate(best)
    ]


def one_digit(found: Candidates, scores: np.ndarray, best: list[int], threshold: float | None) -> list[int]:
    """The whole drawing as one digit instead of the parts ``best`` when ``/predict`` reads it as a digit
    and the parts read less than ``UNSURE_PARTS`` surely (their geometric mean), or when it reads it
    at least ``ONE_DIGIT`` surely, and at least as surely as the parts read or with a part inside its
    neighbour's columns. A 5 drawn in four pen strokes is a 5, not "515"; a 3 whose tail end came apart
    is a 3, not "31"; a 2 whose halves read as "63" at 0.87 is the 2 /predict reads at 0.74. The
    network refuses written numbers as one digit (of 2,100 generated numbers, 3 read whole at 0.9 or
    more), and the parts of a real number read surely side by side: "16" is not read as its 6 at 0.98
    when its parts read at 0.997 (none of the 2,100 had parts below ``UNSURE_PARTS`` and a whole read as
    a digit)."""
    whole = (0, len(found.pieces))
    if len(best) < 2 or whole not in found.spans:
        return best
    w = found.spans.index(whole)
    probs, is_digit = split_refusal(scores[w : w + 1], threshold)
    confidence = float(probs[0].max())
    parts = float(np.exp(np.log(np.maximum(scores[best, :10].max(axis=1), 1e-12)).mean()))
    if not is_digit[0] or (confidence < ONE_DIGIT and parts >= UNSURE_PARTS):
        return best
    cols = [_columns(found.pieces[slice(*found.spans[s])]) for s in best]
    nested = any(_nested(a, b) for a, b in zip(cols[:-1], cols[1:], strict=True))
    return [w] if parts < UNSURE_PARTS or confidence >= parts or nested else best


def _columns(pieces: list[Atom]) -> tuple[int, int]:
    """``(x0, x1)``: the analysis columns the atoms span, end-exclusive."""
    return min(a.x0 for a in pieces), max(a.x1 for a in pieces)


def _nested(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Do columns ``a`` and ``b`` overlap by ``NESTED`` of the narrower one's width?"""
    return min(a[1], b[1]) - max(a[0], b[0]) >= NESTED * min(a[1] - a[0], b[1] - b[0])


def _too_many(n: int) -> str:
    return f"the image holds {n} separate marks; a number may have at most {MAX_DIGITS} digits"


def candidate_spans(pieces: list[Atom], line: float) -> list[tuple[int, int]]:
    """``(i, j)``: atoms ``i..j-1`` may be one digit (always for ``j = i + 1``). Slices of one stroke
    may always join; a separate stroke joins only if it is near, and overlaps the others horizontally
    or is small (the two strokes of a 4, a 5's flag, a 7's crossbar, a pen gap)."""
    spans = []
    for i in range(len(pieces)):
        for j in range(i + 1, min(i + MAX_SPAN, len(pieces)) + 1):
            if j > i + 1 and not _may_join(pieces[i : j - 1], pieces[j - 1], line):
                break
            spans.append((i, j))
    return spans


def _may_join(left: list[Atom], new: Atom, line: float) -> bool:
    x0, x1 = min(a.x0 for a in left), max(a.x1 for a in left)
    if max(x1, new.x1) - min(x0, new.x0) > MAX_WIDTH * line:
        return False
    if new.stroke == left[-1].stroke:
        return True
    if new.x0 - x1 > JOIN_GAP * line:
        return False
    overlap = min(x1, new.x1) - max(x0, new.x0)
    small = min(max(a.y1 for a in left) - min(a.y0 for a in left), new.y1 - new.y0) < SMALL * line
    return small or overlap >= OVERLAP * min(x1 - x0, new.x1 - new.x0)


def best_split(pieces: list[Atom], spans: list[tuple[int, int]], scores: np.ndarray) -> list[int]:
    """Indices into ``spans`` covering all the atoms exactly once, left to right, maximising the sum
    over parts of ``log(best digit probability)`` minus ``PART_PENALTY`` per part and ``CUT_PENALTY``
    per part that starts at a cut through a stroke (``scores``: ``(S, K)`` probabilities)."""
    return _best(pieces, spans, _gains(pieces, spans, scores))[0]


def _gains(pieces: list[Atom], spans: list[tuple[int, int]], scores: np.ndarray) -> np.ndarray:
    """``(S,)`` float64: what each span adds to a split's value (see :func:`best_split`)."""
    cut = _cuts(pieces)
    gain: np.ndarray = np.log(np.maximum(scores[:, :10].max(axis=1).astype(np.float64), 1e-12)) - PART_PENALTY
    gain -= CUT_PENALTY * np.array([cut[i] for i, _ in spans], np.float64)
    return gain


def _best(pieces: list[Atom], spans: list[tuple[int, int]], gain: np.ndarray) -> tuple[list[int], float]:
    """The split of the atoms into ``spans`` with the largest sum of ``gain`` (dynamic programming over
    the atoms, left to right), and that sum; ``([], -inf)`` when the spans cannot cover the atoms."""
    n = len(pieces)
    value = [0.0] + [-math.inf] * n
    choice = [-1] * (n + 1)
    for s in sorted(range(len(spans)), key=lambda s: spans[s][1]):
        i, j = spans[s]
        if value[i] + gain[s] > value[j]:
            value[j], choice[j] = value[i] + gain[s], s
    if value[n] == -math.inf:
        return [], -math.inf
    out, j = [], n
    while j > 0:
        out.append(choice[j])
        j = spans[choice[j]][0]
    return out[::-1], value[n]


def _prefix_values(n: int, spans: list[tuple[int, int]], gain: np.ndarray) -> list[float]:
    """For each ``i`` of ``0..n``: the largest sum of ``gain`` over splits of atoms ``0..i-1``."""
    value = [0.0] + [-math.inf] * n
    for s in sorted(range(len(spans)), key=lambda s: spans[s][1]):
        i, j = spans[s]
        value[j] = max(value[j], value[i] + gain[s])
    return value


def _suffix_values(n: int, spans: list[tuple[int, int]], gain: np.ndarray) -> list[float]:
    """For each ``j`` of ``0..n``: the largest sum of ``gain`` over splits of atoms ``j..n-1``."""
    value = [-math.inf] * n + [0.0]
    for s in sorted(range(len(spans)), key=lambda s: -spans[s][0]):
        i, j = spans[s]
        value[i] = max(value[i], gain[s] + value[j])
    return value


def _cuts(pieces: list[Atom]) -> list[bool]:
    """For each atom: does it start at a cut through a stroke (its left neighbour is of the same stroke)?"""
    return [i > 0 and pieces[i].stroke == pieces[i - 1].stroke for i in range(len(pieces))]


def refuse_cut_strokes(found: Candidates, scores: np.ndarray, best: list[int], threshold: float | None) -> list[int]:
    """For a drawing of one stroke that ``best`` cuts into digits: the stroke put back whole when the
    network refuses it more surely than it reads the parts, and reads the parts with less than ``SURE``
    confidence (both as geometric means over the parts: a part read at 0.975 beside sure ones is still
    a digit). A star cut in two reads as "88" at 0.9 a half and is refused whole at 0.99; two touching
    digits read at 0.99 each are kept (and are refused whole too: two digits are not one). Nor is a
    stroke cut only into ones: slices of a zigzag (a W, an M, a wave) each read as a sure 1, but ones
    are written as strokes of their own. Only lone strokes: inside a number of several strokes, the
    same rule measured 3 points fewer numbers read right (touching digits lost) for few shapes caught.
    """
    if threshold is None or scores.shape[1] <= 10 or len({a.stroke for a in found.pieces}) > 1:
        return best
    out = list(best)
    for stroke in {found.pieces[i].stroke for s in best for i in range(*found.spans[s])}:
        atoms = [i for i, a in enumerate(found.pieces) if a.stroke == stroke]
        whole = (atoms[0], atoms[-1] + 1)
        parts = [s for s in out if found.spans[s][0] >= whole[0] and found.spans[s][1] <= whole[1]]
        if len(parts) < 2 or whole not in found.spans or atoms != list(range(*whole)):
            continue
        w = found.spans.index(whole)
        confidence = scores[parts, :10].max(axis=1)
        mean = float(np.log(np.maximum(confidence, 1e-12)).mean())
        unsure = mean < math.log(SURE) and math.log(scores[w, 10]) >= mean
        zigzag = bool((scores[parts, :10].argmax(axis=1) == 1).all())
        if scores[w, 10] >= threshold and (unsure or zigzag):
            out = sorted([s for s in out if s not in parts] + [w], key=lambda s: found.spans[s][0])
    return out


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
    reduce = math.ceil(max(part.shape) / PART_SIDE)
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


def _box(pieces: list[Atom], i: int, j: int, factor: int, scale: tuple[float, float]) -> tuple[int, int, int, int]:
    x0, y0 = min(a.x0 for a in pieces[i:j]), min(a.y0 for a in pieces[i:j])
    x1, y1 = max(a.x1 for a in pieces[i:j]), max(a.y1 for a in pieces[i:j])
    sx, sy = factor * scale[0], factor * scale[1]
    return int(x0 * sx), int(y0 * sy), int(math.ceil(x1 * sx)), int(math.ceil(y1 * sy))
