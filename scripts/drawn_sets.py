"""Drawn digits and non-digits, reproducibly generated: evaluation sets and the training pool.

Every sample is a canvas as a draw-pad, a paint program or a phone sends it (:mod:`model.generators.canvas`),
made from an MNIST digit or a non-digit shape (:mod:`model.generators.negatives`):

- ``canvas``: the digit's own pixels re-rendered on a 128-512 px canvas at 35-85 % of its height,
  off-centre, in every style and format of :mod:`model.generators.canvas`;
- ``pen``: the digit's skeleton traced with a round pen of uniform width, as a mouse or finger draws;
- ``not-digit``: letters (filled glyphs or pen-traced), shapes, arrows, scribbles, dots, dashes and
  two digits written over each other.

Evaluation sets come from the MNIST *test* digits; the training pool from the training split only, and
its letters from other fonts than the evaluation's. Samples become 28x28 digits through the service's
own preprocessing (``model.recipe.preprocess``), so the network trains on what it will be served.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from model.generators import canvas as cv
from model.generators import negatives as neg
from model.generators import scribbles as scr
from model.generators.hand import hand_redraw
from model.generators.pen import pen_redraw
from model.normalize import DIGIT_BOX, INPUT_SIZE
from model.recipe import ImageError, preprocess
from model.recipe.number_parts import find_parts, prepare
from model.recipe.segmentation import INK_LEVEL, max_pool

NOT_DIGIT = 10  # the label of the 11th class
MARGIN = (INPUT_SIZE - DIGIT_BOX) // 2  # pixels between MNIST's digit box and the edge of its field
KINDS = ("canvas", "pen", "not-digit")
# Drawn as people draw with a pen (model.generators.hand, .scribbles): digits with pen lifts, open loops,
# overshoots and retracing; scribbles. Kept apart from KINDS so that the sets and pools made before
# them stay the same; a pool has them only when asked (train.py --hand, --scribbles).
HAND_KINDS = ("hand", "scribble")
# A coarse scan (a thumbnail, an 8x8 form reader's bitmap): the digit reduced to a few pixels a side
# and enlarged again. Appended after HAND_KINDS for the same reason; a pool has it with train.py --coarse.
COARSE = "coarse"
COARSE_SIDES = (7, 17)  # the reduced ink box's side, pixels (numpy's high end excluded)
NUMBER_PART = "number-part"  # training only: the candidate parts of generated numbers (number_parts)
# Letters for training come from the DejaVu families (Debian's fonts-dejavu-core, on most Linux
# machines), so that a machine with more fonts generates the same pool; the evaluation takes every
# other font the machine has (DejaVu Sans Mono and Math, Liberation...): letter shapes never trained on.
TRAINING_FONTS = "DejaVu"
HELD_OUT_FONTS = ("Mono", "Math")


@dataclass(frozen=True)
class Sample:
    """One request: encoded image ``data``, its ``label`` (0-9, or 10 for not a digit), and how it was made."""

    data: bytes
    label: int
    kind: str
    style: str  # e.g. "black-on-white/JPEG", or the shape's name for a non-digit
    number: str = ""  # for a number canvas: its digits


def font_split() -> tuple[list[Path], list[Path]]:
    """``(training fonts, evaluation fonts)`` among the machine's fonts (see ``TRAINING_FONTS``); either
    falls back to all the fonts there are."""
    fonts = neg.find_fonts()
    train = [f for f in fonts if f.name.startswith(TRAINING_FONTS) and not any(h in f.name for h in HELD_OUT_FONTS)]
    held = [f for f in fonts if f not in train]
    return train or fonts, held or fonts


def _style(rng: np.random.Generator) -> tuple[cv.Style, str]:
    style = cv.STYLES[rng.integers(len(cv.STYLES))]
    formats = cv.TRANSPARENT_FORMATS if style.background is None else cv.FORMATS
    return style, formats[rng.integers(len(formats))]


def _finish(ink: Image.Image, rng: np.random.Generator, label: int, kind: str, tag: str) -> Sample:
    """Blur a little sometimes (soft brushes, anti-aliasing), colour and encode the ink."""
    if rng.random() < 0.3:
        ink = ink.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    style, fmt = _style(rng)
    data = cv.encode(cv.compose(ink, style), fmt, quality=int(rng.integers(60, 96)))
    return Sample(data, label, kind, f"{style.name}/{fmt}" if label != NOT_DIGIT else tag)


def _canvas_size(rng: np.random.Generator, sizes: tuple[int, int]) -> tuple[int, int]:
    side = int(rng.integers(*sizes))
    aspect = rng.uniform(0.8, 1.25) if rng.random() < 0.3 else 1.0
    return side, max(int(side * aspect), 32)


def canvas_digit(
    digit: np.ndarray, label: int, rng: np.random.Generator, sizes: tuple[int, int] = (128, 513)
) -> Sample:
    """The digit's own pixels, enlarged onto a canvas at 35-85 % of its height."""
    size = _canvas_size(rng, sizes)
    ink = cv.paste_pixels(size, digit, cv.random_box(rng, size, (0.35, 0.85)))
    return _finish(ink, rng, label, "canvas", "")


def pen_digit(digit: np.ndarray, label: int, rng: np.random.Generator, sizes: tuple[int, int] = (128, 513)) -> Sample:
    """The digit's skeleton traced with a round pen 4-18 % of the digit's height wide."""
    size = _canvas_size(rng, sizes)
    box = cv.random_box(rng, size, (0.35, 0.85))
    width = rng.uniform(0.04, 0.18) * box[2] * DIGIT_BOX / INPUT_SIZE
    return _finish(pen_redraw(digit, size, box, width), rng, label, "pen", "")


def hand_digit(digit: np.ndarray, label: int, rng: np.random.Generator, sizes: tuple[int, int] = (128, 513)) -> Sample:
    """The digit drawn as a person draws it with a pen (:func:`model.generators.hand.hand_redraw`),
    a pen 4-16 % of the digit's height wide."""
    size = _canvas_size(rng, sizes)
    box = cv.random_box(rng, size, (0.35, 0.85))
    width = rng.uniform(0.04, 0.16) * box[2] * DIGIT_BOX / INPUT_SIZE
    return _finish(hand_redraw(digit, size, box, width, rng, label=label), rng, label, "hand", "")


def coarse_digit(
    digit: np.ndarray, label: int, rng: np.random.Generator, sizes: tuple[int, int] = (128, 513)
) -> Sample:
    """The digit as a coarse scan shows it: its 28x28 field area-averaged so that its ink box is
    ``COARSE_SIDES`` pixels a side, its levels cut to 16 half the time (a 4-bit bitmap), then enlarged
    onto a canvas bicubic or nearest (blurred or blocky strokes)."""
    side = int(rng.integers(*COARSE_SIDES)) * INPUT_SIZE // DIGIT_BOX
    small = Image.fromarray(digit).resize((side, side), Image.Resampling.BOX)
    if rng.random() < 0.5:
        small = small.point(lambda v: v // 16 * 17)
    size = _canvas_size(rng, sizes)
    left, top, field = cv.random_box(rng, size, (0.35, 0.85))
    method = Image.Resampling.BICUBIC if rng.random() < 0.7 else Image.Resampling.NEAREST
    big = small.resize((max(int(round(field)), 1),) * 2, method)
    ink = Image.new("L", size, 0)
    ink.paste(big, (int(round(left)), int(round(top))))
    return _finish(ink, rng, label, COARSE, "")


def scribble(rng: np.random.Generator, sizes: tuple[int, int] = (128, 513)) -> Sample:
    """A scribble (:mod:`model.generators.scribbles`), small or large on its canvas, a pen 2-15 % of
    its height wide; ``Sample.style`` is ``scribble-<kind>``."""
    size = _canvas_size(rng, sizes)
    left, top, field = cv.random_box(rng, size, (0.2, 0.9))
    aspect = rng.uniform(0.5, 1.8)
    box = (left, top, field * min(aspect, 1.0), field * min(1 / aspect, 1.0))
    name, strokes = scr.scribble_strokes(rng)
    ink = scr.draw_scribble(strokes, size, box, rng.uniform(0.02, 0.15) * max(box[2], box[3]), rng)
    return _finish(ink, rng, NOT_DIGIT, "scribble", f"scribble-{name}")


def non_digit(
    rng: np.random.Generator, fonts: list[Path], digits: np.ndarray, sizes: tuple[int, int] = (128, 513)
) -> Sample:
    """One non-digit: a letter (40 %), a shape (50 %) or two overlapping ``digits`` (10 %)."""
    size = _canvas_size(rng, sizes)
    left, top, field = cv.random_box(rng, size, (0.35, 0.85))
    ink_h = field * DIGIT_BOX / INPUT_SIZE
    x0, y0 = left + field * MARGIN / INPUT_SIZE, top + field * MARGIN / INPUT_SIZE  # the ink box's corner
    width = rng.uniform(0.04, 0.18) * ink_h
    u = rng.random()
    if u < 0.4 and fonts:
        char = neg.LETTERS[rng.integers(len(neg.LETTERS))]
        box = (x0, y0, ink_h * rng.uniform(0.6, 1.3), ink_h)
        traced = rng.random() < 0.6
        ink = neg.draw_letter(char, fonts[rng.integers(len(fonts))], size, box, width, traced)
        tag = f"letter-{'pen' if traced else 'font'}"
    elif u < 0.9:
        name = list(neg.SHAPES)[rng.integers(len(neg.SHAPES))]
        aspect = rng.uniform(0.6, 1.5)
        box = (x0, y0, ink_h * aspect, ink_h)
        if name == "dash":
            box = (box[0], box[1], ink_h * rng.uniform(0.3, 1.2), ink_h * rng.uniform(0.1, 0.5))
        elif name == "dot":
            width = rng.uniform(0.05, 0.25) * ink_h
        ink = neg.draw_shape(neg.SHAPES[name](rng), size, box, width, rng)
        tag = name
    else:
        a, b = digits[rng.integers(len(digits), size=2)]
        ink = neg.two_digits(a, b, size, (left, top, field * 0.8), rng.uniform(-0.15, 0.5))
        tag = "two-digits"
    return _finish(ink, rng, NOT_DIGIT, "not-digit", tag)


def generate(
    kind: str, x: np.ndarray, y: np.ndarray, n: int, seed: int, fonts: list[Path],
    sizes: tuple[int, int] = (128, 513),
) -> Iterator[Sample]:
    """``n`` samples of ``kind``; digit ``i`` of a digit kind is ``x[i % len(x)]``. Reproducible by ``seed``."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        if kind == "canvas":
            yield canvas_digit(x[i % len(x)], int(y[i % len(x)]), rng, sizes)
        elif kind == "pen":
            yield pen_digit(x[i % len(x)], int(y[i % len(x)]), rng, sizes)
        elif kind == "hand":
            yield hand_digit(x[i % len(x)], int(y[i % len(x)]), rng, sizes)
        elif kind == "scribble":
            yield scribble(rng, sizes)
        elif kind == COARSE:
            yield coarse_digit(x[i % len(x)], int(y[i % len(x)]), rng, sizes)
        else:
            yield non_digit(rng, fonts, x, sizes)


def number_ink(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, hand: bool = False
) -> tuple[np.ndarray, list[np.ndarray], str, str]:
    """2-5 of the digits ``x`` written left to right on one wide canvas: their own pixels or pen-traced
    (half each), spaced (gaps of 0.1-0.4 digit heights) or tight (from touching slightly, -0.06, to
    0.05), with a slight baseline drift. Returns the ``(H, W)`` uint8 ink, each digit's own ink (same
    shape), ``"pen|pixels/tight|spaced"`` and the digits. With ``hand``, every number is spaced and
    drawn with the hand pen (:func:`model.generators.hand.hand_redraw`), kind ``"hand/spaced"``."""
    k = int(rng.integers(2, 6))
    idx = rng.integers(len(x), size=k)
    pen, tight = rng.random() < 0.5, rng.random() < 0.5
    if hand:
        pen, tight = True, False
    gaps = rng.uniform(-0.06, 0.05, k) if tight else rng.uniform(0.1, 0.4, k)
    cols = [np.flatnonzero((x[i] >= 96).any(axis=0)) for i in idx]
    widths = np.array([(c[-1] - c[0] + 1) / DIGIT_BOX if c.size else 0.5 for c in cols])  # in digit heights
    width, height = int(rng.integers(500, 1001)), int(rng.integers(200, 361))
    span = widths.sum() + gaps[:-1].sum()  # the number's width, in digit heights
    ink_h = min(rng.uniform(0.4, 0.75) * height, 0.92 * width / span)
    field = ink_h * INPUT_SIZE / DIGIT_BOX
    left = rng.uniform(0.02 * width, max(width - ink_h * span - 0.02 * width, 0.03 * width))
    top = rng.uniform(0.04 * height, max(height - ink_h * 1.2, 0.05 * height))
    drift = rng.uniform(-0.12, 0.12) * ink_h
    pen_w = rng.uniform(0.06, 0.16) * ink_h
    parts = []
    for n, i in enumerate(idx):
        first = cols[n][0] if cols[n].size else 4
        box = (left - first / INPUT_SIZE * field, top - field * MARGIN / INPUT_SIZE + drift * n / max(k - 1, 1), field)
        if hand:
            part = hand_redraw(x[i], (width, height), box, pen_w, rng)  # unflagged: spaced by MNIST's ink
        elif pen:
            part = pen_redraw(x[i], (width, height), box, pen_w)
        else:
            part = cv.paste_pixels((width, height), x[i], box)
        parts.append(np.asarray(part))
        left += (widths[n] + gaps[n]) * ink_h
    kind = f"{'hand' if hand else 'pen' if pen else 'pixels'}/{'tight' if tight else 'spaced'}"
    return np.maximum.reduce(parts), parts, kind, "".join(str(int(y[i])) for i in idx)


def number_sample(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, hand: bool = False) -> Sample:
    """A number canvas (:func:`number_ink`) as a draw-pad sends it. ``Sample.style`` says its kind and
    style; the digits are ``Sample.number``."""
    ink, _, kind, number = number_ink(x, y, rng, hand)
    sample = _finish(Image.fromarray(ink), rng, -1, "number", "")
    return Sample(sample.data, -1, "number", f"{kind}/{sample.style}", number)


# A candidate part of a number is labelled with a digit when it holds this share of the digit's ink
# and that ink is this share of its own; "not a digit" when it holds half of each of two digits.
PART_COVER, PART_PURE, PART_JOIN = 0.85, 0.85, 0.5


def number_parts(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """What the number reader shows the network for one generated number (:func:`number_ink`): its
    candidate parts as ``(M, 28, 28)`` uint8 images (``model.recipe.number_parts.prepare``), labelled by
    the ink they hold (``PART_COVER``, ``PART_PURE``, ``PART_JOIN``): the digit of a slice that is
    mostly one digit with a sliver of its neighbour, "not a digit" for two digits read as one.
    Fragments of a digit are left out; at most as many joins as digits are kept. ``(M,)`` labels."""
    ink, parts, _, number = number_ink(x, y, rng)
    sample = _finish(Image.fromarray(ink), rng, -1, "number", "")
    try:
        found = prepare(find_parts(sample.data))
    except ImageError:
        return np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.uint8), np.zeros(0, np.int64)
    f = found.factor
    size = (round(ink.shape[1] / found.to_upload[0]), round(ink.shape[0] / found.to_upload[1]))
    grid = [max_pool(np.asarray(Image.fromarray(p).resize(size)) / 255.0, f) >= INK_LEVEL for p in parts]
    own = np.array([g.sum() for g in grid], np.float64)
    digits, joins = [], []
    for s, (i, j) in enumerate(found.spans):
        cells = np.zeros_like(grid[0])
        for a in found.pieces[i:j]:
            cells[a.y0 : a.y1, a.x0 : a.x1] |= a.mask
        held = np.array([(cells & g).sum() for g in grid], np.float64)
        cover, share = held / np.maximum(own, 1), held / max(cells.sum(), 1)
        best = int(cover.argmax())
        if cover[best] >= PART_COVER and share[best] >= PART_PURE:
            digits.append((s, int(number[best])))
        elif (cover >= PART_JOIN).sum() >= 2:
            joins.append((s, NOT_DIGIT))
    if len(joins) > len(digits):
        joins = [joins[k] for k in rng.choice(len(joins), len(digits), replace=False)]
    chosen = digits + joins
    return found.digits[[s for s, _ in chosen]].reshape(-1, INPUT_SIZE, INPUT_SIZE), np.array(
        [label for _, label in chosen], np.int64
    )


def evaluation_sets(x_test: np.ndarray, y_test: np.ndarray, n: int = 2000, seed: int = 2026) -> dict[str, list[Sample]]:
    """The drawn evaluation sets: ``n`` canvases and ``n`` pen redraws of ``n`` MNIST test digits drawn
    at random (seeded) from the whole test set (its first and second halves come from different writers),
    and ``n`` non-digits from the held-out fonts and shapes."""
    _, eval_fonts = font_split()
    idx = np.random.default_rng(seed).choice(len(x_test), min(n, len(x_test)), replace=False)
    return {
        kind: list(generate(kind, x_test[idx], y_test[idx], n, seed + k, eval_fonts))
        for k, kind in enumerate(KINDS)
    }


def _pool_chunk(args: tuple[str, np.ndarray, np.ndarray, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kind, x, y, n, seed = args
    if kind == NUMBER_PART:
        return _number_part_chunk(x, y, n, seed)
    fonts, _ = font_split()
    images, labels = [], []
    for s in generate(kind, x, y, n, seed, fonts, sizes=(96, 321)):
        try:
            images.append(preprocess(s.data))
        except ImageError:  # a shape or digit drawn too faint to read: the service would refuse it too
            continue
        labels.append(s.label)
    shape = (-1, INPUT_SIZE, INPUT_SIZE)
    return np.asarray(images, np.uint8).reshape(shape), np.asarray(labels, np.int64), np.full(len(labels), kind)


def _number_part_chunk(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images, labels, have = [], [], 0
    while have < n:
        xs, ys = number_parts(x, y, rng)
        images.append(xs[: n - have])
        labels.append(ys[: n - have])
        have += len(labels[-1])
    return np.concatenate(images), np.concatenate(labels), np.full(n, NUMBER_PART)


# Each kind of the training pool is made in this many seeded chunks, whatever the number of cores, so
# that the pool (and the weights trained on it) is the same on every machine.
POOL_CHUNKS = 2
# The code a pool depends on: a cached pool is reused only while these files are unchanged.
_ROOT = Path(__file__).resolve().parents[1]
POOL_SOURCES = (
    *sorted((_ROOT / "model" / "recipe").glob("*.py")),
    *sorted((_ROOT / "model" / "generators").glob("*.py")),
    _ROOT / "scripts" / "drawn_sets.py",
)


def pool_version(sources: tuple[Path, ...] = POOL_SOURCES) -> str:
    """10 hex digits of the SHA-256 of the code that makes the pool, for its cache's name: a change to
    the preprocessing (or to how samples are drawn) makes a new pool instead of reusing a stale one."""
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


# Pool workers are forked from a forkserver: a fresh process that imports this module once (its only
# threads are BLAS's, idle), never from the caller, whose threads a fork would copy mid-work (Python
# 3.12 warns; 3.14's default). The result is the same as with a plain fork.
_FORKSERVER = multiprocessing.get_context("forkserver")
_FORKSERVER.set_forkserver_preload([__name__])


def training_pool(
    x: np.ndarray, y: np.ndarray, counts: dict[str, int], seed: int, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drawn training digits and non-digits as the service sees them: ``(M, 28, 28)`` uint8, labels
    ``(M,)`` (10 = not a digit) and each sample's kind ``(M,)`` str, ``counts[kind]`` of each kind,
    from the training digits ``x, y`` only (a sample too faint to read is dropped). ``NUMBER_PART``
    counts the candidate parts of generated numbers (:func:`number_parts`). ``workers`` processes
    (default: one a core, at most ``POOL_CHUNKS``) make the chunks; the result does not depend on it."""
    workers = workers or min(os.cpu_count() or 1, POOL_CHUNKS)
    jobs = []
    for k, kind in enumerate((*KINDS, NUMBER_PART, *HAND_KINDS, COARSE)):
        n = counts.get(kind, 0)
        per = -(-n // POOL_CHUNKS) if n else 0
        for w in range(POOL_CHUNKS if n else 0):
            take = min(per, n - w * per)
            if take <= 0:
                continue
            idx = np.random.default_rng(seed * 100 + k * 10 + w).permutation(len(x))[:take]
            jobs.append((kind, x[idx], y[idx], take, seed * 1000 + k * 100 + w))
    with ProcessPoolExecutor(workers, mp_context=_FORKSERVER) as pool:
        parts = list(pool.map(_pool_chunk, jobs))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]
