"""The best split of a number's atoms into digits: dynamic programming over the spans' readings.

A split's value is the sum over its parts of ``log(best digit probability)``, less
``TUNING.part_penalty`` per part and ``TUNING.cut_penalty`` per part that starts at a cut through a
stroke. :func:`unsettled` bounds what unread spans could still bring, so that the reader reads the
slices of strokes only when they could change the answer.
"""

from __future__ import annotations

import math

import numpy as np

from .number_parts import Parts
from .number_tuning import TUNING
from .segmentation import Atom


def best_split(pieces: list[Atom], spans: list[tuple[int, int]], scores: np.ndarray) -> list[int]:
    """Indices into ``spans`` covering all the atoms exactly once, left to right, maximising the sum
    over parts of ``log(best digit probability)`` minus ``TUNING.part_penalty`` per part and ``TUNING.cut_penalty``
    per part that starts at a cut through a stroke (``scores``: ``(S, K)`` probabilities)."""
    return _best(pieces, spans, _gains(pieces, spans, scores))[0]


def _gains(pieces: list[Atom], spans: list[tuple[int, int]], scores: np.ndarray) -> np.ndarray:
    """``(S,)`` float64: what each span adds to a split's value (see :func:`best_split`)."""
    cut = cuts(pieces)
    gain: np.ndarray = np.log(np.maximum(scores[:, :10].max(axis=1).astype(np.float64), 1e-12)) - TUNING.part_penalty
    gain -= TUNING.cut_penalty * np.array([cut[i] for i, _ in spans], np.float64)
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


def cuts(pieces: list[Atom]) -> list[bool]:
    """For each atom: does it start at a cut through a stroke (its left neighbour is of the same stroke)?"""
    return [i > 0 and pieces[i].stroke == pieces[i - 1].stroke for i in range(len(pieces))]


def uncut_spans(parts: Parts) -> list[int]:
    """The spans of ``parts`` that begin and end between strokes, not at a cut through one."""
    cut = [*cuts(parts.pieces), False]
    return [s for s, (i, j) in enumerate(parts.spans) if not cut[i] and not cut[j]]


def unsettled(
    parts: Parts, read: list[int], scores: np.ndarray, threshold: float | None, everything: bool = False
) -> list[int]:
    """Unread spans of ``parts`` that could still be a part of a better split than the best of the
    ``read`` ones (ascending; ``scores`` theirs), ascending; none when it is the best of all.

    Each unread span is counted as read with certainty (log-probability 0, less its penalties: an
    upper bound of what it can bring). The unread spans of the best split so counted, if it beats the
    best read one; with ``everything``, every unread span through which the best split so counted
    beats it. Every unread span when the read ones cannot cover the atoms, or when the choice would
    set aside a joined whole drawing refused as not a digit (it then splits again without it)."""
    n = parts.splittable
    known = set(read)
    unread = [s for s in range(len(parts.spans)) if s not in known]
    inner = [k for k, s in enumerate(read) if s < n]
    gain = _gains(parts.pieces, [parts.spans[read[k]] for k in inner], scores[inner])
    best, value = _best(parts.pieces, [parts.spans[read[k]] for k in inner], gain)
    if not best or _joined_refused(parts, read, inner, best, scores, threshold):
        return unread
    bound = _upper_bounds(parts)
    bound[[read[k] for k in inner]] = gain
    return _through_better(parts, unread, bound, value) if everything else _on_better(parts, known, bound, value)


def _on_better(parts: Parts, known: set[int], bound: np.ndarray, value: float) -> list[int]:
    """The unread spans of the best split counted with ``bound``, if it beats ``value``."""
    path, top = _best(parts.pieces, parts.spans[: parts.splittable], bound)
    return sorted(s for s in path if s not in known) if top > value else []


def _through_better(parts: Parts, unread: list[int], bound: np.ndarray, value: float) -> list[int]:
    """Every unread span through which a split counted with ``bound`` beats ``value``."""
    spans = parts.spans[: parts.splittable]
    before = _prefix_values(len(parts.pieces), spans, bound)
    after = _suffix_values(len(parts.pieces), spans, bound)
    return [s for s in unread if s < len(spans) and before[spans[s][0]] + bound[s] + after[spans[s][1]] > value]


def _joined_refused(
    parts: Parts, read: list[int], inner: list[int], best: list[int], scores: np.ndarray, threshold: float | None
) -> bool:
    """Is the best split of the read spans the joined whole drawing, refused as not a digit?"""
    n = parts.splittable
    joined = parts.joined and best == [len(inner) - 1] and read[inner[-1]] == n - 1
    return joined and threshold is not None and bool(scores[inner[-1], 10:].sum() >= threshold)


def _upper_bounds(parts: Parts) -> np.ndarray:
    """``(splittable,)`` float64: the most each span could add to a split, were it read with certainty."""
    cut = cuts(parts.pieces)
    starts_at_cut = np.array([cut[i] for i, _ in parts.spans[: parts.splittable]], np.float64)
    bound: np.ndarray = -TUNING.part_penalty - TUNING.cut_penalty * starts_at_cut
    return bound
