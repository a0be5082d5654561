#!/usr/bin/env python
"""Write a folder of digits in a style MNIST never showed, in the layout ``scripts/finetune.py`` reads.

    python scripts/style_sets.py seven-segment runs/styles/seven-train --per-digit 30 --seed 1
    python scripts/style_sets.py seven-segment runs/styles/seven-test --per-digit 100 --seed 1001
    python scripts/style_sets.py seven-segment runs/styles/seven-nd --per-digit 30 --seed 1 --not-digits 60
    python scripts/style_sets.py boxed runs/styles/boxed-train --per-digit 30 --seed 3
    python scripts/style_sets.py own-pen runs/styles/pen-train --per-digit 30 --seed 4

Styles (seven-segment, dot-matrix, boxed, own-pen): ``model/generators/styles.py``. Training sets use
seeds below 1000, evaluation sets 1000 and up, so that no evaluation image is ever trained on.
``--not-digits N`` adds N of the style's own non-digits (a seven-segment display's letters) in
``not_digit/``, the shapes a user of that style shows the fine-tune to refuse.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.generators.styles import NOT_DIGITS, STYLES, not_digit_set, style_set  # noqa: E402

EVALUATION_SEEDS = 1000  # seeds from here on are for evaluation sets only


def write(style: str, folder: Path, per_digit: int, seed: int, not_digits: int = 0) -> int:
    """``per_digit`` images of each digit in ``folder/<digit>/<n>.png|jpg``, and ``not_digits`` of the
    style's own non-digits in ``folder/not_digit/``; returns how many."""
    items = [(str(d), data) for d, data in style_set(style, per_digit, seed)]
    items += [("not_digit", data) for data in not_digit_set(style, not_digits, seed)] if not_digits else []
    for n, (label, data) in enumerate(items):
        ext = "jpg" if data[:2] == b"\xff\xd8" else "png"
        path = folder / label / f"{style}-{seed}-{n:05d}.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return len(items)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("style", choices=sorted(STYLES))
    p.add_argument("folder", type=Path)
    p.add_argument("--per-digit", type=int, default=30)
    p.add_argument("--seed", type=int, default=0, help=f"below {EVALUATION_SEEDS} for training sets")
    p.add_argument("--not-digits", type=int, default=0,
                   help=f"also this many of the style's own non-digits in not_digit/ ({', '.join(sorted(NOT_DIGITS))})")
    args = p.parse_args(argv)
    if args.not_digits and args.style not in NOT_DIGITS:
        p.error(f"--not-digits: the {args.style} style has no non-digits of its own; styles with: {sorted(NOT_DIGITS)}")
    n = write(args.style, args.folder, args.per_digit, args.seed, args.not_digits)
    print(f"wrote {n} {args.style} images to {args.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
