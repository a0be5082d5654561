#!/usr/bin/env python
"""How far apart may the pieces of one digit be? The number reader's ``near_gap``, measured (issue 33).

    python scripts/pen_pieces.py                      # without the rule, then near_gap 0.12 and 0.25
    python scripts/pen_pieces.py --gaps 0.08 0.12 0.2 --sets hand:3302:400 mixed:2027:500

Without the rule, the reader (``model.recipe.number_parts``) reads two separate strokes as one digit
only when they overlap horizontally by ``overlap`` of the narrower, or one is shorter than ``small``
line heights. A 4 whose two strokes stop short of each other side by side, a 9 whose tail came off
below its loop, a 4 whose upright was lifted above its bar fail both tests. ``near_gap`` also lets a
stroke join when the gap between its box and the others' is at most that many line heights in both
directions; the reader's dynamic programming still decides whether the pieces read better together
than apart. Sets: ``hand`` numbers are spaced and drawn with the hand pen
(:func:`scripts.drawn_sets.number_sample` with ``hand=True``), ``mixed`` ones are the usual pen and
pixel numbers, tight and spaced (``scripts/number_sets.py``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from model import data, load
from model.recipe import number_parts as nr
from scripts import drawn_sets
from scripts.drawn_report import numbers_by_kind, read_as_number


@contextmanager
def near_gap(gap: float | None) -> Iterator[None]:
    """While inside: the reader's ``near_gap`` is ``gap`` line heights (None: no stroke joins for being
    near, the reader before the rule)."""
    original = nr.TUNING  # type: ignore[attr-defined]
    nr.TUNING = replace(original, near_gap=-1.0 if gap is None else gap)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        nr.TUNING = original  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None, help="weights .npz (default: the shipped model)")
    p.add_argument("--gaps", type=float, nargs="*", default=[0.12, 0.25],
                   help="near_gap values to try, in line heights, after the reader without the rule")
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
        with near_gap(gap):
            by_kind = numbers_by_kind(samples, lambda d: read_as_number(d, net, None))
        line = ", ".join(f"{k} {np.mean(v):.2%} ({len(v)})" for k, v in sorted(by_kind.items()))
        print(f"gap {gap}: all {np.mean(sum(by_kind.values(), [])):.2%}; {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
