#!/usr/bin/env python
"""Pen input as people draw it (issue 33): single digits, spaced numbers and scribbles drawn with the
hand pen (:mod:`model.generators.hand`, :mod:`model.generators.scribbles`), read as the service reads.

    python scripts/pen_sets.py                                # the shipped weights, tuning and held-out sets
    python scripts/pen_sets.py --weights runs/pen/default.npz --failures runs/pen/failures

Two groups of sets, made from the MNIST *test* digits with seeds no training run uses: ``tuning``
(looked at while building the pen model and choosing the training run) and ``held-out`` (never used to
choose anything). Single digits go through ``model.recipe.preprocess`` then ``net.classify`` (the second
look and the refusal threshold included), numbers through ``model.recipe.number_reader.read_number``;
a refused or rejected digit or number counts as wrong, a refused scribble as right.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from model import data, load
from model.inference import InferenceNetwork
from model.recipe import ImageError, preprocess
from scripts import drawn_sets
from scripts.drawn_report import read_as_number
from scripts.drawn_sets import Sample

# seed of (single digits, numbers, scribbles) per group; training pools use seeds 0-999 and 7000-7999
GROUPS = {"tuning": 3301, "held-out": 3401}
SIZES = {"digits": 2000, "numbers": 400, "scribbles": 1000}


def digit_set(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> list[Sample]:
    """``n`` hand-pen digits of ``n`` test digits drawn at random (seeded)."""
    idx = np.random.default_rng(seed).choice(len(x), min(n, len(x)), replace=False)
    return list(drawn_sets.generate("hand", x[idx], y[idx], n, seed, []))


def number_set(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> list[Sample]:
    """``n`` spaced numbers of 2-5 test digits drawn with the hand pen."""
    rng = np.random.default_rng(seed)
    return [drawn_sets.number_sample(x, y, rng, hand=True) for _ in range(n)]


def scribble_set(n: int, seed: int) -> list[Sample]:
    return list(drawn_sets.generate("scribble", np.zeros((1, 28, 28), np.uint8), np.zeros(1), n, seed, []))


def read_digits(net: InferenceNetwork, samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
    """``(N,)`` closest digits (-1 when the image is rejected) and ``(N,)`` whether each is a digit."""
    images, ok = [], []
    for s in samples:
        try:
            images.append(preprocess(s.data))
            ok.append(True)
        except ImageError:
            ok.append(False)
    probs, is_digit = net.classify(np.stack(images))
    digit, accepted = np.full(len(samples), -1), np.zeros(len(samples), bool)
    where = np.flatnonzero(ok)
    digit[where], accepted[where] = probs.argmax(axis=1), is_digit
    return digit, accepted


def measure(net: InferenceNetwork, x: np.ndarray, y: np.ndarray, seed: int, sizes: dict[str, int],
            failures: Path | None) -> dict[str, object]:
    """Every figure of one group of sets; with ``failures``, the misread numbers' images and readings."""
    out: dict[str, object] = {}
    digits = digit_set(x, y, sizes["digits"], seed)
    read, accepted = read_digits(net, digits)
    labels = np.array([s.label for s in digits])
    right = accepted & (read == labels)
    out["digits"] = float(right.mean())
    out["digits_refused"] = float(1 - accepted.mean())
    out["digit_confusions"] = Counter(f"{t}->{p}" for t, p, r in zip(labels, read, right, strict=True) if not r
                                      ).most_common(8)
    numbers = number_set(x, y, sizes["numbers"], seed + 1)
    got = [read_as_number(s.data, net, None) for s in numbers]
    ok = [g == s.number for g, s in zip(got, numbers, strict=True)]
    out["numbers"] = float(np.mean(ok))
    misses = [(s, g) for s, g, k in zip(numbers, got, ok, strict=True) if not k]
    out["number_misses"] = Counter(_miss_kind(s.number, g) for s, g in misses).most_common()
    if failures:
        failures.mkdir(parents=True, exist_ok=True)
        for k, (s, g) in enumerate(misses):
            (failures / f"{seed}-{k:03d}-{s.number}-as-{g}.{_ext(s.data)}").write_bytes(s.data)
    scribbles = scribble_set(sizes["scribbles"], seed + 2)
    _, is_digit = read_digits(net, scribbles)
    out["scribbles_refused"] = float(1 - is_digit.mean())
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for s, d in zip(scribbles, is_digit, strict=True):
        by_kind[s.style].append(not d)
    out["scribbles_by_kind"] = {k: round(float(np.mean(v)), 4) for k, v in sorted(by_kind.items())}
    return out


def _miss_kind(truth: str, got: str | None) -> str:
    """How a number was misread: refused, too many digits (a digit read in pieces), too few, or a digit wrong."""
    if got is None:
        return "refused"
    if len(got) > len(truth):
        return "split"
    return "merged" if len(got) < len(truth) else "digit wrong"


def _ext(data: bytes) -> str:
    return {b"\x89P": "png", b"\xff\xd8": "jpg", b"GI": "gif", b"BM": "bmp", b"RI": "webp"}.get(data[:2], "bin")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None, help="weights .npz (default: the shipped model)")
    p.add_argument("--data", default=None, help=f"MNIST .npz or IDX folder (else ${data.ENV_VAR})")
    p.add_argument("--groups", nargs="*", default=list(GROUPS), choices=list(GROUPS))
    p.add_argument("--scale", type=float, default=1.0, help="multiply every set's size (e.g. 0.25 for a quick look)")
    p.add_argument("--failures", type=Path, default=None, help="write the misread numbers' images here")
    args = p.parse_args(argv)
    mnist = data.load_mnist(args.data)
    net = load(args.weights)
    sizes = {k: max(int(v * args.scale), 1) for k, v in SIZES.items()}
    for name in args.groups:
        result = measure(net, mnist.x_test, mnist.y_test, GROUPS[name], sizes, args.failures)
        print(json.dumps({"group": name, "sizes": sizes, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
