"""Canvas-like drawings made from the MNIST sample must read as well as the plain 28x28 digits.

Each variant turns every sample digit into an image such as people send: a browser canvas (transparent
background, dark strokes), off-centre, small or large on a big canvas, thick marker strokes, inverted
colours, coloured ink on paper through JPEG. The shipped model's accuracy on the preprocessed variant
must stay within one point of its accuracy on the plain digits. A sweep over the 1000 digits per variant:
marked ``slow``, run by CI (``python -m pytest -m ""``), not by the default ``python -m pytest``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageFilter

from model import InferenceNetwork, load
from model.recipe import preprocess
from tests.helpers import encode, png

Variant = Callable[[np.ndarray, np.random.Generator], bytes]
TOLERANCE = 0.01  # one point of accuracy


def drawn(digit: np.ndarray, side: int) -> np.ndarray:
    """The 28x28 digit redrawn smoothly (bicubic) at ``side x side``: uint8 ink, 255 = full stroke."""
    return np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC))


def on_canvas(ink: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """``ink`` pasted at a random place of a blank canvas of ``shape``."""
    canvas = np.zeros(shape, np.uint8)
    y = int(rng.integers(0, shape[0] - ink.shape[0] + 1))
    x = int(rng.integers(0, shape[1] - ink.shape[1] + 1))
    canvas[y : y + ink.shape[0], x : x + ink.shape[1]] = ink
    return canvas


def dark_on_white(ink: np.ndarray) -> Image.Image:
    return Image.fromarray(255 - ink)


def browser_canvas(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """What canvas.toDataURL() sends: 280x280 RGBA, transparent background, near-black strokes."""
    ink = drawn(digit, 280)
    pixels = np.zeros((280, 280, 4), np.uint8)
    pixels[..., :3] = (17, 24, 39)
    pixels[..., 3] = ink
    return png(Image.fromarray(pixels))


def off_centre(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    return png(dark_on_white(on_canvas(drawn(digit, 168), (300, 400), rng)))


def small(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    return png(dark_on_white(on_canvas(drawn(digit, 42), (280, 280), rng)))


def large(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    return png(dark_on_white(drawn(digit, 616)[28:-28, 28:-28]))  # the digit nearly fills 560x560


def thick(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    return png(dark_on_white(widened(drawn(digit, 280), 9)))  # ~1 MNIST pixel wider


def widened(ink: np.ndarray, k: int) -> np.ndarray:
    """The maximum of ``ink`` over each ``k x k`` square (odd ``k``): Pillow's ``MaxFilter(k)``, as a
    maximum along the rows then the columns."""
    r = k // 2
    padded = np.pad(ink, r)
    rows = padded[:, : padded.shape[1] - 2 * r].copy()
    for s in range(1, k):
        np.maximum(rows, padded[:, s : s + rows.shape[1]], out=rows)
    out = rows[: rows.shape[0] - 2 * r].copy()
    for s in range(1, k):
        np.maximum(out, rows[s : s + out.shape[0]], out=out)
    return out


def inverted(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    return png(Image.fromarray(255 - digit))  # black on white, 28x28


def jpeg_on_paper(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    t = drawn(digit, 280)[..., None].astype(np.float32) / 255
    paper, pen = np.array([250, 245, 225], np.float32), np.array([30, 40, 140], np.float32)
    return encode(Image.fromarray(np.round(paper * (1 - t) + pen * t).astype(np.uint8)), "JPEG", quality=35)


VARIANTS: dict[str, Variant] = {
    "browser-canvas": browser_canvas,
    "off-centre": off_centre,
    "small": small,
    "large": large,
    "thick-strokes": thick,
    "inverted": inverted,
    "jpeg-blue-on-paper": jpeg_on_paper,
}


@pytest.fixture(scope="module")
def net() -> InferenceNetwork:
    return load()


@pytest.fixture(scope="module")
def plain_accuracy(net: InferenceNetwork, sample: tuple[np.ndarray, np.ndarray]) -> float:
    x, y = sample
    return float((net.classify(x)[0].argmax(axis=1) == y).mean())


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANTS)
def test_variant_reads_within_a_point_of_plain_digits(
    name: str, net: InferenceNetwork, plain_accuracy: float, sample: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = sample
    rng = np.random.default_rng(0)
    seen = np.stack([preprocess(VARIANTS[name](digit, rng)) for digit in x])
    accuracy = float((net.classify(seen)[0].argmax(axis=1) == y).mean())
    print(f"{name}: {accuracy:.3f} (plain {plain_accuracy:.3f})")
    assert accuracy >= plain_accuracy - TOLERANCE, f"{name}: {accuracy:.3f} vs plain {plain_accuracy:.3f}"


def test_widened_is_pillows_max_filter(sample: tuple[np.ndarray, np.ndarray]) -> None:
    ink = drawn(sample[0][0], 120)
    assert np.array_equal(widened(ink, 9), np.asarray(Image.fromarray(ink).filter(ImageFilter.MaxFilter(9))))
