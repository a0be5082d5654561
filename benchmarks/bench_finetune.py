#!/usr/bin/env python
"""What a fine-tune kept: MNIST and the drawn evaluation sets read by several weights side by side.

    python benchmarks/bench_finetune.py weights/default.npz runs/ft/seven.npz --drawn 2000

The sets of ``scripts/evaluate.py`` (the 10,000 MNIST test digits, refusals counted wrong; canvases, pen
redraws and non-digits drawn from the test digits with ``--drawn-seed``), generated once and read in
process by each weights as the service reads them. Prints one row per weights; ``scripts/evaluate.py
--images`` reports a folder of the user's style.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from model import data, load  # noqa: E402
from scripts import drawn_report, drawn_sets  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", type=Path, nargs="+")
    p.add_argument("--drawn", type=int, default=2000, help="samples per drawn set")
    p.add_argument("--drawn-seed", type=int, default=2026)
    p.add_argument("--data", type=Path, default=None)
    args = p.parse_args(argv)
    mnist = data.load_mnist(args.data)
    started = time.time()
    sets = drawn_sets.evaluation_sets(mnist.x_test, mnist.y_test, args.drawn, args.drawn_seed)
    print(f"{args.drawn} samples a drawn set, seed {args.drawn_seed}, made in {time.time() - started:.0f}s")
    print("| weights | MNIST (refusals wrong) | canvases | pen strokes | non-digits refused |")
    print("|---|---|---|---|---|")
    for path in args.weights:
        net = load(path)
        probs, is_digit = net.classify(mnist.x_test)
        mnist_acc = float(np.mean(is_digit & (probs.argmax(axis=1) == mnist.y_test)))
        read = drawn_report.local_reader(net)
        figures = {}
        for name in ("canvas", "pen"):
            _, fig = drawn_report.digit_set_lines(name, sets[name], read(sets[name]))
            figures[name] = fig["accuracy"]
        _, neg = drawn_report.negative_lines(sets["not-digit"], read(sets["not-digit"]))
        print(f"| `{path}` | {mnist_acc:.2%} | {figures['canvas']:.2%} | {figures['pen']:.2%} | {neg['refused']:.2%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
