#!/usr/bin/env python
"""The look-inside checks of tests/test_explain.py on a larger set: is the heatmap faithful and specific?

    python scripts/explain_checks.py                      # 1,000 pen + 1,000 canvas digits from MNIST's test set
    python scripts/explain_checks.py --per-kind 300 --data tests/data/mnist_test_sample.npz

Drawn digits (``scripts/drawn_sets.py``: pen strokes and canvases in every style and format, made from
MNIST test digits and read through the service's preprocessing) are explained with the shipped
network. Prints, per kind and in all: the share of digits on which the heatmap wins the deletion test
(``model.faithfulness``) beside a random map's and an ink map's, and the mean correlation between the
heatmap of the runner-up digit and that of the digit read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from model import data, load
from model.faithfulness import correlation, deletion_wins
from model.normalize import to_network_input
from model.recipe import ImageError, preprocess
from scripts import drawn_sets

SEED = 2029


def drawn(kind: str, x: np.ndarray, y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``(<= n, 28, 28)`` uint8: ``n`` drawn digits of ``kind`` (those the recipe reads)."""
    digits = []
    for sample in drawn_sets.generate(kind, x, y, n, seed, []):
        try:
            digits.append(preprocess(sample.data))
        except ImageError:
            continue
    return np.stack(digits)


def checks(net: object, digits: np.ndarray) -> dict[str, float]:
    """The deletion test's win rates (heatmap, random map, ink map) and the runner-up correlation."""
    read = net.explain(digits)  # type: ignore[attr-defined]
    runner_up = np.argsort(-read.digit_probabilities, axis=1)[:, 1]
    other = net.explain(digits, target=runner_up)  # type: ignore[attr-defined]

    def logits(images: np.ndarray) -> np.ndarray:
        out: np.ndarray = net.logits(to_network_input(images))  # type: ignore[attr-defined]
        return out

    rng = np.random.default_rng(SEED)
    return {
        "heatmap": float(deletion_wins(logits, digits, read.heatmaps, read.targets).mean()),
        "random": float(deletion_wins(logits, digits, rng.random(digits.shape), read.targets).mean()),
        "ink": float(deletion_wins(logits, digits, digits.astype(np.float32), read.targets).mean()),
        "runner-up correlation": float(correlation(read.heatmaps, other.heatmaps).mean()),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=None, help="MNIST .npz (default: as scripts/evaluate.py finds it)")
    p.add_argument("--per-kind", type=int, default=1000, help="drawn digits of each kind")
    args = p.parse_args(argv)
    try:
        mnist = data.load_mnist(args.data, verify=False)
    except data.DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    net = load()
    idx = np.random.default_rng(SEED).choice(len(mnist.x_test), min(args.per_kind, len(mnist.x_test)), replace=False)
    x, y = mnist.x_test[idx], mnist.y_test[idx]
    results = {}
    for k, kind in enumerate(("pen", "canvas")):
        digits = drawn(kind, x, y, args.per_kind, SEED + k)
        results[kind] = (len(digits), checks(net, digits))
    total = sum(n for n, _ in results.values())
    results["all"] = (total, {key: sum(n * r[key] for n, r in results.values()) / total for key in results["pen"][1]})
    for kind, (n, found) in results.items():
        wins = ", ".join(f"{name} {value:.1%}" for name, value in found.items() if name != "runner-up correlation")
        print(f"{kind:6s} {n:5d} digits: deletion test won by {wins}; "
              f"runner-up correlation {found['runner-up correlation']:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
