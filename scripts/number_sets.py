#!/usr/bin/env python
"""Whole numbers on several generated sets, by kind, for the reader and the yardstick splitter; and the
reader's accuracy with the kinds weighted so the set is as hard as issue 11's acceptance set.

    python scripts/number_sets.py                        # the sets used to tune the reader, then fresh ones
    python scripts/number_sets.py --sets 31:400 32:400   # seed:count

Each set is ``count`` numbers of 2-5 MNIST test digits (``drawn_sets.number_sample`` from
``default_rng(seed)``: pen or pixels, spaced or tight, in every style and format). The yardstick, a plain
connected-components splitter in front of ``/predict`` (:mod:`scripts.components_splitter`), reads
92 % of the acceptance canvases and 88 % of their pen strokes (issue 11). The weighted figure mixes
each group's kinds so that the yardstick reads 88 % of the pen numbers and 92 % of all: the tight share
of the pen numbers follows from the first; that of the pixel numbers from the second (none when even
the spaced pixel numbers read below it).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from model import data, load
from model.inference import InferenceNetwork
from scripts import drawn_sets
from scripts.components_splitter import read_by_components
from scripts.drawn_report import numbers_by_kind, read_as_number

TUNING = ((2027, 500), (99, 400), (5, 400), (11, 400), (12, 400))  # evaluate.py's 500, and the reader's tuning sets
FRESH = ((31, 400), (32, 400), (33, 400))  # used to choose nothing
YARDSTICK, YARDSTICK_PEN = 0.92, 0.88  # what the splitter reads of the acceptance canvases (issue 11)


def read_group(sets: list[tuple[int, int]], x: np.ndarray, y: np.ndarray, net: InferenceNetwork) -> tuple[dict, dict]:
    """Per kind (``pen/spaced``, ...): lists of whether the reader, and the splitter, read each number."""
    samples = []
    for seed, count in sets:
        rng = np.random.default_rng(seed)
        samples += [drawn_sets.number_sample(x, y, rng) for _ in range(count)]
    reader = numbers_by_kind(samples, lambda data: read_as_number(data, net, None))
    return reader, numbers_by_kind(samples, lambda data: read_by_components(data, net))


def tight_share(spaced: float, tight: float, target: float) -> float:
    """The share of tight numbers that brings the splitter's accuracy from ``spaced`` down to ``target``."""
    return float(np.clip((spaced - target) / max(spaced - tight, 1e-9), 0.0, 1.0))


def weighted(reader: dict[str, list[bool]], splitter: dict[str, list[bool]]) -> tuple[float, float]:
    """``(splitter, reader)`` accuracy with the kinds mixed as hard as the acceptance set."""
    r = {k: float(np.mean(v)) for k, v in reader.items()}
    c = {k: float(np.mean(v)) for k, v in splitter.items()}
    shares = {
        "pen": tight_share(c["pen/spaced"], c["pen/tight"], YARDSTICK_PEN),
        "pixels": tight_share(c["pixels/spaced"], c["pixels/tight"], 2 * YARDSTICK - YARDSTICK_PEN),
    }

    def mix(acc: dict[str, float]) -> float:
        return float(np.mean([(1 - t) * acc[f"{m}/spaced"] + t * acc[f"{m}/tight"] for m, t in shares.items()]))

    return mix(c), mix(r)


def parse_set(text: str) -> tuple[int, int]:
    """``"seed:count"`` -> ``(seed, count)``."""
    seed, count = text.split(":")
    return int(seed), int(count)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None, help="weights .npz (default: the shipped model)")
    p.add_argument("--data", default=None, help=f"MNIST .npz or IDX folder (else ${data.ENV_VAR})")
    p.add_argument("--sets", nargs="*", default=None, help="seed:count ... (default: the tuning sets, then fresh ones)")
    args = p.parse_args(argv)
    mnist = data.load_mnist(args.data)
    net = load(args.weights)
    groups: dict[str, tuple[tuple[int, int], ...]] = {"tuning": TUNING, "fresh": FRESH}
    if args.sets:
        groups = {"given": tuple(parse_set(s) for s in args.sets)}
    for name, sets in groups.items():
        reader, splitter = read_group(list(sets), mnist.x_test, mnist.y_test, net)
        total = sum(len(v) for v in reader.values())
        print(f"{name} ({total} numbers): reader {np.mean(sum(reader.values(), [])):.2%}, "
              f"splitter {np.mean(sum(splitter.values(), [])):.2%}")
        for kind in sorted(reader):
            r, c = np.mean(reader[kind]), np.mean(splitter[kind])
            print(f"  {kind:14s} {len(reader[kind]):4d}  reader {r:.2%}  splitter {c:.2%}")
        cc, rd = weighted(reader, splitter)
        print(f"  as hard as the acceptance set (splitter {cc:.2%}): reader {rd:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
