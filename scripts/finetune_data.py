"""What a fine-tune keeps reading: the images mixed with the user's own so the network does not forget.

- ``mnist`` (when MNIST is found, see ``model/data.py``): MNIST training digits and a drawn pool made
  from them (``scripts/drawn_sets.py``: canvases, pen redraws, non-digits, and more pen redraws: what
  a fine-tune forgets first), all from the training split the shipped network trained on; validation
  from the digits it held out.
- ``replay`` (no MNIST): digits typed in the machine's training fonts, filled or traced with a pen, on
  canvases in every style and format, and the generators' non-digits (letters, shapes, scribbles, two
  digits at once). The base network's own answers on them are the targets (distillation), so it keeps
  its function where it was right and its doubts where it was not.
- ``none``: the user's images alone (what forgetting costs, for comparison).

Every image goes through the service's preprocessing; pools are cached in ``cache_dir`` by their
settings and the code that makes them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model import data
from model.generators import canvas as cv
from model.generators import negatives as neg
from model.normalize import DIGIT_BOX, INPUT_SIZE
from model.recipe import ImageError, preprocess
from scripts import drawn_sets

KEEPS = ("auto", "mnist", "replay", "none")
EMPTY = (np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.uint8), np.zeros(0, np.int64))
# held-out drawn canvases and pen redraws, each: their refusal budgets' data. At 0.3 % of 300 no canvas
# may be refused, so the most doubtful one bounds the threshold from below; 1,000 allow a few.
VAL_DIGITS = 1000
VAL_NON_DIGITS = 1500  # held-out non-digits: enough that the refusal floor moves by a few tenths of a point


@dataclass(frozen=True)
class KeepSet:
    """Training images ``x`` with labels ``y`` (10 = not a digit), and validation sets by kind
    (``"mnist"``, ``"canvas"``, ``"pen"``, ``"font"``, ``"not-digit"``) for calibration and the report."""

    name: str
    x: np.ndarray
    y: np.ndarray
    val: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    test: tuple[np.ndarray, np.ndarray] | None = None  # MNIST's test digits, when MNIST was found


def font_digit(d: int, rng: np.random.Generator, fonts: list[Path]) -> drawn_sets.Sample:
    """The digit ``d`` in one of ``fonts``, filled (40 %) or its skeleton traced with a round pen, on
    a 96-320 px canvas in a random style and format (as :mod:`scripts.drawn_sets` draws letters)."""
    size = (int(rng.integers(96, 321)),) * 2
    left, top, height = cv.random_box(rng, size, (0.35, 0.85))
    ink_h = height * DIGIT_BOX / INPUT_SIZE
    margin = height * drawn_sets.MARGIN / INPUT_SIZE
    box = (left + margin, top + margin, ink_h * rng.uniform(0.5, 0.8), ink_h)
    traced = rng.random() < 0.6
    ink = neg.draw_letter(str(d), fonts[rng.integers(len(fonts))], size, box, rng.uniform(0.06, 0.16) * ink_h, traced)
    return drawn_sets._finish(ink, rng, d, "font", "")


def _replay_samples(n: int, seed: int) -> Iterator[drawn_sets.Sample]:
    """``n`` font digits then ``n // 3`` non-digits, from the training fonts (see ``font_split``)."""
    fonts, _ = drawn_sets.font_split()
    if not fonts:
        return
    rng = np.random.default_rng(seed)
    digits: list[np.ndarray] = []
    for i in range(n):
        sample = font_digit(i % 10, rng, fonts)
        yield sample
        if len(digits) < 200:
            with contextlib.suppress(ImageError):
                digits.append(preprocess(sample.data))
    for _ in range(n // 3):
        yield drawn_sets.non_digit(rng, fonts, np.stack(digits), sizes=(96, 321))


def _read(samples: Iterator[drawn_sets.Sample]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    images, labels, kinds = [], [], []
    for s in samples:
        try:
            images.append(preprocess(s.data))
        except ImageError:  # drawn too faint: the service would refuse it too
            continue
        labels.append(s.label)
        kinds.append(s.kind)
    x = np.asarray(images, np.uint8).reshape(-1, INPUT_SIZE, INPUT_SIZE)
    return x, np.asarray(labels, np.int64), np.asarray(kinds)


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def _cached(cache: Path, make: Callable[[], Arrays]) -> Arrays:
    """``make()`` once: ``(images, labels, kinds)`` saved to ``cache`` and read back from it after."""
    if cache.exists():
        with np.load(cache) as f:
            return f["x"], f["y"], f["kind"]
    started = time.time()
    x, y, kind = make()
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, x=x, y=y, kind=kind)
    print(f"made {len(x)} images in {time.time() - started:.0f}s -> {cache}")
    return x, y, kind


def replay_keep(count: int, seed: int, cache_dir: Path) -> KeepSet:
    """The ``replay`` keep set: ``count`` font digits and a third as many non-digits, and a validation
    set a tenth that size from another seed."""
    version = drawn_sets.pool_version()
    x, y, _ = _cached(cache_dir / f"replay-{count}-seed{seed}-{version}.npz",
                      lambda: _read(_replay_samples(count, seed)))
    n_val = max(count // 10, 30)
    vx, vy, vk = _cached(cache_dir / f"replay-val-{n_val}-seed{seed + 7}-{version}.npz",
                         lambda: _read(_replay_samples(n_val, seed + 7)))
    val = {k: (vx[vk == k], vy[vk == k]) for k in ("font", "not-digit") if (vk == k).any()}
    return KeepSet("replay", x, y, val)


def mnist_keep(mnist: data.MNIST, digits: int, drawn: int, seed: int, cache_dir: Path, pen: int = 0) -> KeepSet:
    """The ``mnist`` keep set: ``digits`` MNIST training digits and ``drawn`` each of drawn canvases,
    pen redraws and non-digits from them, and ``pen`` more pen redraws; validation from the 5,000 digits
    ``scripts/train.py`` holds out (1,000 of them, ``VAL_DIGITS`` drawn canvases and pen redraws, and
    ``VAL_NON_DIGITS`` non-digits)."""
    x_tr, y_tr, x_val, y_val = data.train_val_split(mnist.x_train, mnist.y_train, 5000, 0)
    pick = np.random.default_rng(seed).choice(len(x_tr), min(digits, len(x_tr)), replace=False)
    xs, ys = x_tr[pick], y_tr[pick].astype(np.int64)
    version = drawn_sets.pool_version()

    def pool(x: np.ndarray, y: np.ndarray, counts: dict[str, int], s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        name = "-".join(str(counts[k]) for k in drawn_sets.KINDS)
        return _cached(cache_dir / f"drawn-{name}-seed{s}-n{len(x)}-{version}.npz",
                       lambda: drawn_sets.training_pool(x, y, counts, s))

    px, py, _ = pool(xs, ys, dict.fromkeys(drawn_sets.KINDS, drawn), seed) if drawn else (*EMPTY, None)
    if pen:  # a pool of its own (another seed), so that the first is reused from the cache
        ex, ey, _ = _cached(cache_dir / f"pen-{pen}-seed{seed + 3}-n{len(xs)}-{version}.npz",
                            lambda: drawn_sets.training_pool(xs, ys, {"pen": pen}, seed + 3))
        px, py = np.concatenate([px, ex]), np.concatenate([py, ey])
    val_counts = {"canvas": VAL_DIGITS, "pen": VAL_DIGITS, "not-digit": VAL_NON_DIGITS}
    vx, vy, vk = pool(x_val, y_val.astype(np.int64), val_counts, seed + 7)
    val = {"mnist": (x_val[:1000], y_val[:1000].astype(np.int64))}
    val.update({k: (vx[vk == k], vy[vk == k]) for k in drawn_sets.KINDS})
    test = (mnist.x_test, mnist.y_test.astype(np.int64))
    return KeepSet("mnist", np.concatenate([xs, px]), np.concatenate([ys, py]), val, test)


def choose(keep: str, data_path: Path | None, sizes: dict[str, int], seed: int, cache_dir: Path) -> KeepSet:
    """The keep set asked for; ``auto`` is ``mnist`` when MNIST is found, else ``replay``."""
    if keep == "none":
        return KeepSet("none", *EMPTY)
    if keep in ("auto", "mnist"):
        try:
            mnist = data.load_mnist(data_path)
        except data.DatasetError as exc:
            if keep == "mnist":
                raise
            print(f"MNIST not found ({str(exc).split(':')[0]}): keeping what the network knows with font "
                  "digits, generated non-digits and its own answers on them (--keep replay)")
        else:
            return mnist_keep(mnist, sizes["mnist"], sizes["drawn"], seed, cache_dir, sizes.get("pen", 0))
    return replay_keep(sizes["replay"], seed, cache_dir)
