"""The number reader's tuning, in one typed place: every threshold and penalty, with its unit.

Lengths are in line heights (the median height of the tall strokes), probabilities calibrated, and
penalties in log-probability. The values were chosen on generated numbers (``scripts/number_sets.py``)
and the drawn evaluation sets; docs/journal holds how.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NumberTuning:
    """How the reader splits a number's atoms into digits (:mod:`model.recipe.number_reader`)."""

    max_digits: int = 24  # more parts than this in one image is a 422
    # atoms one digit may be made of: a digit a line height and a half wide, cut 6 times a line height
    # (``segmentation.CUTS``), is 10 slices, with a flag or bar of another stroke among them
    max_span: int = 12
    max_atoms: int = 168  # atoms in one image: more is a 422 (it bounds the candidates read)
    max_width: float = 1.6  # line heights a multi-atom digit may span
    join_gap: float = 0.12  # line heights: a separate stroke further right joins only if near (below)
    # line heights: a separate stroke whose box is this close to the others' box, across and up or down,
    # may join them whatever its overlap: a digit drawn in pieces (a 4's two strokes side by side, a 9's
    # tail lifted off its loop); whether the pieces read better together is the reader's choice
    near_gap: float = 0.25
    part_penalty: float = 0.1  # log-probability cost of each part (ties go to fewer digits)
    cut_penalty: float = 0.6  # and of each cut through a stroke: touching digits are rarer than separate ones
    sure: float = 0.98  # parts of a cut stroke read this surely (geometric mean) are digits, whatever the whole
    overlap: float = 0.3  # separate strokes are one digit only if they overlap this much horizontally...
    small: float = 0.6  # ...or one of them is shorter than this many line heights (a 5's flag, a 7's bar)
    part_side: int = 112  # pixels: a part is box-reduced to about this side before the MNIST recipe
    # line heights: a whole drawing this narrow may be one digit, however drawn (wider than max_width: a
    # digit drawn in pieces has a line height, from its pieces, of half its own)
    whole_width: float = 2.2
    noise: float = 0.12  # line heights: a lone piece smaller than this beside a number is dropped as noise
    one_digit: float = 0.9  # a whole drawing /predict reads this surely may be one digit
    one_digit_aspect: float = 2.5  # widths per height: a drawing this narrow is read whole too
    max_rounds: int = 4  # network calls for one reading: the last reads every span that could still matter
    unsure_parts: float = 0.9  # parts read less surely than this (geometric mean) do not outvote a whole digit
    nested: float = 0.8  # share of the narrower part's columns inside its neighbour's: not side by side


TUNING = NumberTuning()
