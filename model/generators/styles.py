"""Digit styles MNIST never showed, rendered procedurally: seven-segment displays, dot-matrix prints,
digits written in a form's boxes, and one writer's own pen.

Each style draws one digit as a photo or scan of it would reach the service: a 60-240 px image, the
digit at 50-90 % of its height somewhere on it, in a "look" (colours, glow, noise, blur) and encoded as
PNG or JPEG. Used to measure what fine-tuning on a user's own folder of images brings
(``scripts/finetune.py``, ``scripts/style_sets.py``); never by the service. Everything is drawn from the
``rng`` passed in, so a seed gives the same images; seeds of evaluation sets are never used for
training sets.

- ``seven-segment``: the seven bars of a meter or clock display, upright or slanted, with gaps between
  the bars, as an LCD (dark bars on a grey-green glass, the off bars faintly visible), an LED panel
  (bright bars glowing on black) or an ink drawing (bars drawn with a pen on paper). The 6, 7 and 9 come
  in both forms displays use (with and without their tail).
- ``dot-matrix``: a 5x7 grid of round dots (a receipt printer, a ticket), dark on paper or lit on black.
- ``boxed``: a digit handwritten (:mod:`.written`, any writer) in one box of a form's row of boxes,
  cut out around that box: the printed lines (black, grey, or a light "dropout" red, blue or green) of
  boxes side by side, of boxes apart or of a comb (a base line with ticks) around it, the neighbours'
  edges in view, the box itself sometimes cut by the crop, the digit sometimes touching or crossing it.
- ``own-pen``: one writer (:data:`OWN_PEN`) in blue ballpoint on paper: narrow pen, wide digits leaning
  far right, a slashed 0, a 1 with a long flag, a 2 looped at its foot, a flat-topped 3, an open 4, a
  barred 7, a curled 9, and always the same habits (pen lifts at junctions, loops left open, strokes
  run on past their ends).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .hand import Habits
from .written import Writer, strokes, width_of, write

SIZES = (60, 241)  # image heights, pixels (upper bound excluded)
SUPER = 4  # supersampling of the drawings: anti-aliased edges

# The bars of each digit (a top, b top right, c bottom right, d bottom, e bottom left, f top left,
# g middle); the second form, when there is one, leaves out the 6's top, the 9's bottom or adds the 7's
# top-left bar, as some displays do.
SEGMENTS: dict[int, tuple[str, ...]] = {
    0: ("abcdef",), 1: ("bc",), 2: ("abdeg",), 3: ("abcdg",), 4: ("bcfg",), 5: ("acdfg",),
    6: ("acdefg", "cdefg"), 7: ("abc", "abcf"), 8: ("abcdefg",), 9: ("abcdfg", "abcfg"),
}

# What else such displays show: the letters A C c d E F H h J L n o P r U u y and a dash, each lit as
# no digit's form is (a "b" would be the 6 without its top, an "S" a 5).
LETTERS: tuple[str, ...] = (
    "abcefg", "adef", "deg", "bcdeg", "adefg", "aefg", "bcefg", "cefg", "bcde", "def", "ceg", "cdeg", "abefg",
    "eg", "bcdef", "cde", "bcdfg", "g",
)

# 5x7 dot-matrix glyphs, rows top to bottom, as the HD44780 character ROM draws them.
DOTS: dict[int, tuple[str, ...]] = {
    0: ("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    1: ("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    2: ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    3: ("11111", "00010", "00100", "00010", "00001", "10001", "01110"),
    4: ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    5: ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    6: ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    7: ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    8: ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    9: ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
}

Colour = tuple[int, int, int]


def _jitter(rng: np.random.Generator, colour: Colour, spread: int) -> Colour:
    r, g, b = (int(np.clip(c + rng.integers(-spread, spread + 1), 0, 255)) for c in colour)
    return r, g, b


def _bar(name: str, w: float, t: float, gap: float) -> list[tuple[float, float]]:
    """The hexagon of bar ``name`` in a digit ``w`` wide and 1 tall, bars ``t`` thick, ``gap`` apart."""
    h = t / 2
    horizontal = {"a": h, "g": 0.5, "d": 1 - h}
    vertical = {"f": (h, 0.5, h), "e": (0.5, 1 - h, h), "b": (h, 0.5, w - h), "c": (0.5, 1 - h, w - h)}
    if name in horizontal:
        y, x0, x1 = horizontal[name], h + gap, w - h - gap
        return [(x0 - h, y), (x0, y - h), (x1, y - h), (x1 + h, y), (x1, y + h), (x0, y + h)]
    y0, y1, x = vertical[name]
    y0, y1 = y0 + gap, y1 - gap
    return [(x, y0 - h), (x + h, y0), (x + h, y1), (x, y1 + h), (x - h, y1), (x - h, y0)]


def _place(rng: np.random.Generator, aspect: float) -> tuple[tuple[int, int], tuple[float, float, float, float]]:
    """A canvas ``(width, height)`` and where the digit goes on it: ``(left, top, width, height)``."""
    height = int(rng.integers(*SIZES))
    width = int(height * rng.uniform(0.7, 1.4))
    dh = rng.uniform(0.5, 0.9) * height
    dw = dh * aspect
    if dw > 0.9 * width:
        width = int(dw / 0.9) + 1
    left = rng.uniform(0.04 * width, width - dw - 0.04 * width)
    top = rng.uniform(0.04 * height, max(height - dh - 0.04 * height, 0.05 * height))
    return (width, height), (left, top, dw, dh)


def _render(size: tuple[int, int], draw: Callable[[ImageDraw.ImageDraw, float], None]) -> Image.Image:
    """An ``"L"`` mask of ``size``, drawn at ``SUPER`` times the size and reduced (anti-aliased)."""
    big = Image.new("L", (size[0] * SUPER, size[1] * SUPER), 0)
    draw(ImageDraw.Draw(big), float(SUPER))
    return big.resize(size, Image.Resampling.BOX)


def _light(on: Image.Image, off: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """Colour the lit and unlit masks in an LCD, LED or ink look; returns the RGB image and the look."""
    look = ("lcd", "led", "ink")[int(rng.integers(3))]
    if look == "lcd":
        glass = _jitter(rng, (178, 192, 165), 20)
        ink: Colour = _jitter(rng, (40, 45, 40), 20)
        ghost = rng.uniform(0.0, 0.12)
    elif look == "led":
        glass = _jitter(rng, (14, 12, 12), 12)
        ink = [(255, 45, 35), (60, 255, 90), (255, 170, 30), (90, 170, 255)][int(rng.integers(4))]
        ghost = rng.uniform(0.0, 0.15)
        glow = on.filter(ImageFilter.GaussianBlur(on.height * rng.uniform(0.01, 0.04)))
        on = Image.fromarray(np.maximum(np.asarray(on), (np.asarray(glow) * 0.8).astype(np.uint8)))
    else:
        glass, ink, ghost = _jitter(rng, (245, 243, 236), 10), _jitter(rng, (25, 25, 60), 25), 0.0
    alpha = np.maximum(np.asarray(on, np.float32), np.asarray(off, np.float32) * ghost)[..., None] / 255
    rgb = np.asarray(glass, np.float32) * (1 - alpha) + np.asarray(ink, np.float32) * alpha
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)), look


def _finish(im: Image.Image, rng: np.random.Generator) -> bytes:
    """Camera or scanner: a little blur and noise, then PNG or JPEG."""
    if rng.random() < 0.4:
        im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    pixels = np.asarray(im, np.float32) + rng.normal(0, rng.uniform(0, 8), (im.height, im.width, 1))
    im = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    if rng.random() < 0.5:
        im.save(buf, "JPEG", quality=int(rng.integers(60, 95)))
    else:
        im.save(buf, "PNG", compress_level=1)  # the same pixels at every level: the fastest
    return buf.getvalue()


def seven_segment(digit: int, rng: np.random.Generator) -> bytes:
    """One seven-segment ``digit`` (0-9) as an encoded image (see the module doc)."""
    forms = SEGMENTS[digit]
    lit = forms[int(rng.integers(len(forms)))] if len(forms) > 1 and rng.random() < 0.3 else forms[0]
    return _segments(lit, rng)


def seven_segment_letter(rng: np.random.Generator) -> bytes:
    """One of the :data:`LETTERS` a seven-segment display shows, drawn as its digits are: not a digit."""
    return _segments(LETTERS[int(rng.integers(len(LETTERS)))], rng)


def _segments(lit: str, rng: np.random.Generator) -> bytes:
    """The bars ``lit`` (of "abcdefg") of a seven-segment display, the others off, as an encoded image."""
    aspect = rng.uniform(0.45, 0.62)
    thick, gap = rng.uniform(0.08, 0.15), rng.uniform(0.0, 0.035)
    slant = rng.uniform(0.0, 0.2) if rng.random() < 0.5 else 0.0
    size, (left, top, dw, dh) = _place(rng, aspect + slant)

    def bars(names: str) -> Callable[[ImageDraw.ImageDraw, float], None]:
        def draw(d: ImageDraw.ImageDraw, s: float) -> None:
            for name in names:
                pts = _bar(name, aspect, thick, gap)
                d.polygon([((left + (x + slant * (1 - y)) * dh) * s, (top + y * dh) * s) for x, y in pts], fill=255)

        return draw

    unlit = "".join(n for n in "abcdefg" if n not in lit)
    im, _ = _light(_render(size, bars(lit)), _render(size, bars(unlit)), rng)
    return _finish(im, rng)


def dot_matrix(digit: int, rng: np.random.Generator) -> bytes:
    """One 5x7 dot-matrix ``digit`` (0-9) as an encoded image (see the module doc)."""
    rows = DOTS[digit]
    radius = rng.uniform(0.3, 0.5)  # of the dot pitch
    slant = rng.uniform(0.0, 0.15) if rng.random() < 0.3 else 0.0
    size, (left, top, _, dh) = _place(rng, 5 / 7 + slant)
    pitch = dh / 7

    def dots(lit: bool) -> Callable[[ImageDraw.ImageDraw, float], None]:
        def draw(d: ImageDraw.ImageDraw, s: float) -> None:
            for r, row in enumerate(rows):
                for c, bit in enumerate(row):
                    if (bit == "1") == lit:
                        x = left + (c + 0.5 + slant * (6 - r)) * pitch
                        y = top + (r + 0.5) * pitch
                        d.ellipse([(x - radius * pitch) * s, (y - radius * pitch) * s,
                                   (x + radius * pitch) * s, (y + radius * pitch) * s], fill=255)

        return draw

    im, _ = _light(_render(size, dots(True)), _render(size, dots(False)), rng)
    return _finish(im, rng)


def _paint(paper: Colour, layers: list[tuple[Image.Image, Colour]]) -> Image.Image:
    """``"L"`` masks painted in their colours over ``paper``, in order (the last on top)."""
    rgb: np.ndarray = np.broadcast_to(np.asarray(paper, np.float32), (layers[0][0].height, layers[0][0].width, 3))
    for mask, colour in layers:
        alpha = np.asarray(mask, np.float32)[..., None] / 255
        rgb = rgb * (1 - alpha) + np.asarray(colour, np.float32) * alpha
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


ANY_WRITER = Writer()
OWN_PEN = Writer(
    forms={0: 1, 1: 2, 2: 1, 3: 1, 4: 1, 7: 1, 9: 1}, slant=(0.32, 0.42), aspect=(1.2, 1.35), pen=(0.035, 0.045),
    habits=Habits(lift=0.9, mid_lift=0.0, open_loop=0.9, gap=(0.05, 0.08), overshoot_p=0.7, overshoot=(0.06, 0.1),
                  retrace=0.0, width_var=(0.1, 0.2), jitter=(0.004, 0.008), tremor=0.002),
)
PRINTED = ((40, 40, 40), (110, 110, 110), (235, 130, 130), (130, 165, 235), (140, 205, 160))  # box lines
INKS = ((25, 35, 120), (30, 30, 30), (80, 80, 85))  # ballpoint, felt pen, pencil


def own_pen(digit: int, rng: np.random.Generator) -> bytes:
    """One ``digit`` (0-9) by the writer of :data:`OWN_PEN`, photographed on paper (see the module doc)."""
    paths = strokes(digit, OWN_PEN, rng)
    size, (left, top, _, dh) = _place(rng, width_of(paths)[1])
    ink = write(paths, OWN_PEN, size, (left, top, dh), rng)
    return _finish(_paint(_jitter(rng, (244, 242, 234), 10), [(ink, _jitter(rng, (25, 35, 120), 15))]), rng)


def _form_lines(size: tuple[int, int], box: tuple[float, float, float, float], rng: np.random.Generator) -> Image.Image:
    """The printed lines around ``box = (left, top, width, height)`` and its neighbours' on either side:
    boxes side by side, boxes apart, or a comb."""
    left, top, bw, bh = box
    kind = int(rng.integers(3))
    apart = rng.uniform(0.1, 0.35) * bw if kind == 1 else 0.0
    width = max(rng.uniform(0.01, 0.03) * bh, 1.0)
    tick = rng.uniform(0.25, 0.45) * bh

    def draw(d: ImageDraw.ImageDraw, s: float) -> None:
        w = max(int(round(width * s)), 1)
        for k in range(-4, 5):
            x0, x1, y1 = (left + k * (bw + apart)) * s, (left + k * (bw + apart) + bw) * s, (top + bh) * s
            if kind == 2:
                d.line([(x0, y1), (x1, y1)], fill=255, width=w)
                d.line([(x0, y1 - tick * s), (x0, y1)], fill=255, width=w)
            else:
                d.rectangle([x0, top * s, x1, y1], outline=255, width=w)

    return _render(size, draw)


def boxed(digit: int, rng: np.random.Generator) -> bytes:
    """One handwritten ``digit`` (0-9) in a form's box, cut out around the box (see the module doc)."""
    height = int(rng.integers(*SIZES))
    bh = height * rng.uniform(0.7, 1.02)
    bw = bh * rng.uniform(0.7, 1.1)
    size = (int(bw * rng.uniform(0.95, 1.6)), height)
    box = ((size[0] - bw) / 2 + rng.normal(0, 0.06 * bw), (height - bh) / 2 + rng.normal(0, 0.04 * bh), bw, bh)
    paths = strokes(digit, ANY_WRITER, rng)
    dh = bh * rng.uniform(0.55, 0.95)
    dw = width_of(paths)[1] * dh
    top = box[1] + rng.uniform(0.03 * bh, max(0.97 * bh - dh, 0.04 * bh))
    if rng.random() < 0.3:  # written over the top or the bottom line
        top = box[1] - rng.uniform(0, 0.1) * bh if rng.random() < 0.5 else box[1] + bh - dh + rng.uniform(0, 0.1) * bh
    ink = write(paths, ANY_WRITER, size, (box[0] + (bw - dw) / 2 + rng.normal(0, 0.06 * bw), top, dh), rng)
    lines = _form_lines(size, box, rng)
    paper = _jitter(rng, (246, 245, 240), 8)
    printed = _jitter(rng, PRINTED[int(rng.integers(len(PRINTED)))], 12)
    written = _jitter(rng, INKS[int(rng.integers(len(INKS)))], 12)
    return _finish(_paint(paper, [(lines, printed), (ink, written)]), rng)


STYLES: dict[str, Callable[[int, np.random.Generator], bytes]] = {
    "seven-segment": seven_segment,
    "dot-matrix": dot_matrix,
    "boxed": boxed,
    "own-pen": own_pen,
}


# A style's own non-digits, where it has some: what a user of that style would want refused.
NOT_DIGITS: dict[str, Callable[[np.random.Generator], bytes]] = {"seven-segment": seven_segment_letter}


def style_set(style: str, per_digit: int, seed: int) -> list[tuple[int, bytes]]:
    """``per_digit`` images of each digit 0-9 in ``style``, as ``(digit, encoded image)`` in digit order."""
    rng = np.random.default_rng(seed)
    draw = STYLES[style]
    return [(d, draw(d, rng)) for d in range(10) for _ in range(per_digit)]


def not_digit_set(style: str, n: int, seed: int) -> list[bytes]:
    """``n`` of ``style``'s own non-digits (:data:`NOT_DIGITS`), from their own stream of ``seed`` (a
    digit set of the same seed is the same with or without them)."""
    rng = np.random.default_rng([seed, 1])
    return [NOT_DIGITS[style](rng) for _ in range(n)]
