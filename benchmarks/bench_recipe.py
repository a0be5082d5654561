#!/usr/bin/env python
"""What each step of the image recipe costs per upload, in CPU microseconds: decode, ink, rulings, fit.

    taskset -c 0 python benchmarks/bench_recipe.py                # the 200 sample digits, two kinds
    PYTHONPATH=OTHER_TREE taskset -c 0 python benchmarks/bench_recipe.py   # the recipe of another tree

The sample digits go through :func:`model.recipe.preprocess`'s steps one by one, as a 28x28 PNG each
(what ``bench_peers`` sends as "28x28"), as the draw-pad's 280x280 transparent canvas (the sample digit
traced with a round pen) and as a 560x560 scan (the digit enlarged smoothly, dark on white). Each step
is timed over all images in a pass, and the passes alternate; the median pass is printed. Trees from the
recipe's move to ``model/recipe`` on can be measured; one without the rulings step prints a dash for it.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import model.recipe.ink as ink_module
from model.generators.pen import pen_redraw
from model.recipe.decode import open_image
from model.recipe.fit import fit_digit, to_uint8

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "mnist_test_sample.npz"
PEN = 0.07  # the draw-pad's pen, a share of the canvas height (benchmarks.peers.payloads.PEN_WIDTH)


def uploads(kind: str, digits: np.ndarray) -> list[bytes]:
    """The sample digits as encoded PNG uploads of ``kind``: "28x28", "canvas" or "scan"."""
    out = []
    for digit in digits:
        if kind == "28x28":
            im = Image.fromarray(digit, "L")
        elif kind == "scan":
            im = Image.fromarray(255 - digit, "L").resize((560, 560), Image.Resampling.BICUBIC)
        else:
            alpha = pen_redraw(digit, (1120, 1120), (280, 200, 640), PEN * 1120).resize(
                (280, 280), Image.Resampling.BOX
            )
            im = Image.merge("RGBA", (Image.new("L", alpha.size, 30),) * 3 + (alpha,))
        buf = io.BytesIO()
        im.save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def steps() -> dict[str, Callable[[Any], Any] | None]:
    """The recipe's steps in order, each taking the previous one's output."""
    rulings = getattr(ink_module, "remove_rulings", None)
    return {
        "decode": lambda data: open_image(data),
        "ink": lambda im: ink_module.normalize_ink(ink_module.ink_map(im)),
        "rulings": rulings,
        "fit": lambda ink: to_uint8(fit_digit(ink)),
    }


def one_pass(images: list[bytes]) -> dict[str, float]:
    """CPU microseconds per image of each step, over ``images``."""
    values: list[Any] = list(images)
    spent = {}
    for name, step in steps().items():
        if step is None:
            continue
        began = time.process_time()
        values = [step(v) for v in values]
        spent[name] = (time.process_time() - began) / len(images) * 1e6
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=7, help="alternating passes over each kind")
    args = parser.parse_args()
    with np.load(SAMPLE) as f:
        digits = f["x"][:200]
    kinds = {kind: uploads(kind, digits) for kind in ("28x28", "canvas", "scan")}
    passes: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    for _ in range(args.passes):
        for kind, images in kinds.items():
            passes[kind].append(one_pass(images))
    print(f"recipe steps, CPU us per image, median of {args.passes} passes over {len(digits)} sample digits")
    for kind, runs in passes.items():
        cells = []
        for name in steps():
            values = [run[name] for run in runs if name in run]
            cells.append(f"{name} {statistics.median(values):6.0f}" if values else f"{name}      -")
        total = statistics.median(sum(run.values()) for run in runs)
        print(f"{kind:>7}: " + "  ".join(cells) + f"  total {total:6.0f}")


if __name__ == "__main__":
    main()
