"""Does a heatmap show where the network looked? The deletion test, and how alike two heatmaps are.

The deletion test (after Petsiuk et al. 2018, "RISE"): zero the ``DELETED`` fraction of a digit's ink
pixels that the heatmap ranks highest, and see the network's logit margin for the digit read (its logit
minus the largest other logit) drop; the heatmap wins on that digit when the drop is larger than the
mean drop from zeroing as many ink pixels chosen at random (``RANDOM_DRAWS`` draws). A heatmap that
shows where the evidence is wins on most digits; a random map on about half.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DELETED = 0.15  # the fraction of a digit's ink pixels zeroed
RANDOM_DRAWS = 5  # random deletions averaged for the comparison

Logits = Callable[[np.ndarray], np.ndarray]  # (M, 28, 28) uint8 pixels -> (M, K) logits


def margins(logits: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """``(N, K)`` logits -> ``(N,)`` float64 margins: ``logits[digit]`` minus the largest other logit."""
    z = logits.astype(np.float64)
    rows = np.arange(len(z))
    own = z[rows, digits]
    z[rows, digits] = -np.inf
    out: np.ndarray = own - z.max(axis=1)
    return out


def deletion_wins(
    logits: Logits, images: np.ndarray, heatmaps: np.ndarray, digits: np.ndarray, seed: int = 0
) -> np.ndarray:
    """``(N,)`` bool: for each ``(28, 28)`` uint8 digit, whether zeroing the ink its ``(28, 28)`` heatmap
    ranks highest lowers the margin of ``digits[i]`` more than zeroing random ink does (see the module).

    Ink pixels are the non-zero ones; ties in the heatmap go to the earlier pixel. One ``logits`` call
    per digit, on ``1 + RANDOM_DRAWS`` images.
    """
    rng = np.random.default_rng(seed)
    wins = np.zeros(len(images), bool)
    for i, (image, heat) in enumerate(zip(images, heatmaps, strict=True)):
        flat = image.ravel()
        ink = np.flatnonzero(flat)
        if len(ink) == 0:
            continue
        k = max(1, int(round(DELETED * len(ink))))
        ranked = ink[np.argsort(-heat.ravel()[ink], kind="stable")]
        chosen = [ranked[:k]] + [rng.choice(ink, k, replace=False) for _ in range(RANDOM_DRAWS)]
        batch = np.repeat(flat[None], 2 + RANDOM_DRAWS, axis=0)
        for row, pixels in enumerate(chosen, start=1):
            batch[row, pixels] = 0
        m = margins(logits(batch.reshape(-1, *image.shape)), np.full(len(batch), digits[i]))
        drops = m[0] - m[1:]
        wins[i] = drops[0] > drops[1:].mean()
    return wins


def correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each pair of ``(N, H, W)`` maps: ``(N,)``; 0 where a map is constant."""
    x = a.reshape(len(a), -1).astype(np.float64)
    y = b.reshape(len(b), -1).astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    y -= y.mean(axis=1, keepdims=True)
    scale = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    out: np.ndarray = np.divide((x * y).sum(axis=1), scale, out=np.zeros(len(x)), where=scale > 0)
    return out
