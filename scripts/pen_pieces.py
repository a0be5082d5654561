#!/usr/bin/env python
"""Would the number reader keep a digit drawn in pieces whole under a looser join rule? (issue 33)

    python scripts/pen_pieces.py                      # the shipped reader and weights, then the rule
    python scripts/pen_pieces.py --gaps 0.08 0.12 0.2 --sets hand:3302:400 mixed:2027:500

The reader (``model.recipe.number_reader``) only reads two separate strokes as one digit when they
overlap horizontally by ``OVERLAP`` of the narrower, or one is shorter than ``SMALL`` line heights. A 4
whose two strokes stop short of each other side by side, a 9 whose tail came off below its loop, a 4
whose upright was lifted above its bar fail both tests. The rule measured here (patched in for the
measurement only, the reader's code is left as it is) also lets a stroke join when the gap between its
box and the others' is at most ``gap`` line heights in both directions; the reader's dynamic programming
still decides whether the pieces read better together than apart. Sets: ``hand`` numbers are spaced
and drawn with the hand pen (:func:`scripts.drawn_sets.number_sample` with ``hand=True``), ``mixed``
ones are the usual pen and pixel numbers, tight and spaced (``scripts/number_sets.py``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from model import data, load
from model.recipe import number_parts as nr
from model.recipe.number_tuning import TUNING
from model.recipe.segmentation import Atom
from scripts import drawn_sets
from scripts.drawn_report import numbers_by_kind, read_as_number


def near(left: list[Atom], new: Atom, line: float, gap: float) -> bool:
    """Is ``new``'s box within ``gap`` line heights of the box of ``left``, across and up or down?"""
    x0, x1 = min(a.x0 for a in left), max(a.x1 for a in left)
    y0, y1 = min(a.y0 for a in left), max(a.y1 for a in left)
    across = max(new.x0 - x1, x0 - new.x1, 0)
    down = max(new.y0 - y1, y0 - new.y1, 0)
    return max(across, down) <= gap * line


@contextmanager
def join_near_pieces(gap: float) -> Iterator[None]:
    """While inside: ``number_parts._may_join`` also joins a stroke near the others (:func:`near`),
    within the reader's width limit (``MAX_WIDTH`` line heights)."""
    original = nr._may_join

    def may_join(left: list[Atom], new: Atom, line: float) -> bool:
        if original(left, new, line):
            return True
        width = max(max(a.x1 for a in left), new.x1) - min(min(a.x0 for a in left), new.x0)
        return width <= TUNING.max_width * line and near(left, new, line, gap)

    nr._may_join = may_join  # type: ignore[assignment]
    try:
        yield
    finally:
        nr._may_join = original  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None, help="weights .npz (default: the shipped model)")
    p.add_argument("--gaps", type=float, nargs="*", default=[0.12, 0.25], help="line heights (none: the reader alone)")
    p.add_argument("--sets", nargs="*", default=["hand:3302:400", "mixed:2027:500", "mixed:99:400"],
                   help="kind:seed:count (kind hand or mixed)")
    args = p.parse_args(argv)
    mnist = data.load_mnist(None)
    net = load(args.weights)
    samples = []
    for text in args.sets:
        kind, seed, count = text.split(":")
        rng = np.random.default_rng(int(seed))
        x, y = mnist.x_test, mnist.y_test
        samples += [drawn_sets.number_sample(x, y, rng, kind == "hand") for _ in range(int(count))]
    for gap in [None, *args.gaps]:
        if gap is None:
            by_kind = numbers_by_kind(samples, lambda d: read_as_number(d, net, None))
        else:
            with join_near_pieces(gap):
                by_kind = numbers_by_kind(samples, lambda d: read_as_number(d, net, None))
        line = ", ".join(f"{k} {np.mean(v):.2%} ({len(v)})" for k, v in sorted(by_kind.items()))
        print(f"gap {gap}: all {np.mean(sum(by_kind.values(), [])):.2%}; {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
