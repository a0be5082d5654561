"""Batch augmentation that makes an MNIST model robust to digits drawn on a canvas.

Random affine warps (rotation, scale, shear, shift) and elastic distortion (Simard et al. 2003: a
random displacement field smoothed by a Gaussian, the wobble of a hand), both in one bilinear
resampling, stroke thickening or thinning by a 3x3 grey-level dilation or erosion, and hard edges
(a threshold: the bilinear resampling leaves every other training edge soft, and a network that never
saw a 1-bit digit misreads MNIST's test digits thresholded at 128). Never flips (a flipped 2
is not a 2). Everything is vectorized over the batch; the only loops are over kernel taps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Augment:
    """Ranges of the random transforms; defaults suit 28x28 MNIST digits in ``[0, 1]``."""

    max_rotation_deg: float = 12.0
    scale_range: tuple[float, float] = (0.85, 1.15)
    max_shear: float = 0.15
    max_shift_px: float = 2.5
    stroke_prob: float = 0.3  # chance of a dilation or an erosion (half each)
    elastic_prob: float = 0.5  # chance of an elastic distortion
    elastic_alpha: float = 30.0  # displacement scale, pixels (before smoothing)
    elastic_sigma: float = 5.0  # smoothing of the displacement field, pixels
    binarize_prob: float = 0.0  # chance of hard edges: ink thresholded at a level in BINARIZE_LEVELS

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``(N, 1, H, W)`` float32 in [0, 1] -> augmented copy of the same shape."""
        out = random_affine(x[:, 0], rng, self)
        out = random_stroke(out, rng, self.stroke_prob)
        out = random_binarize(out, rng, self.binarize_prob)
        return out[:, None]


# Half the ranges, half the chances: the end of a run (``scripts/train.py --finish-epochs``), closer to
# the centred, upright digits the service reads while still resampling (blurry, upscaled scans of
# other writers read better after it than after a finish without any augmentation).
LIGHT = Augment(max_rotation_deg=6.0, scale_range=(0.93, 1.07), max_shear=0.07, max_shift_px=1.0,
                stroke_prob=0.15, elastic_prob=0.25)

BINARIZE_LEVELS = (0.3, 0.7)  # thresholds of a 1-bit export, as a share of full ink


def random_binarize(images: np.ndarray, rng: np.random.Generator, prob: float) -> np.ndarray:
    """Threshold a random ``prob`` share of ``(N, H, W)`` images in ``[0, 1]`` to 0 or 1, each at its
    own level drawn from :data:`BINARIZE_LEVELS` (pixel-editor drawings, 1-bit GIFs and PNGs). With
    ``prob`` 0 it draws no random numbers: runs without it replay exactly."""
    if prob <= 0:
        return images
    chosen = rng.random(len(images)) < prob
    if not chosen.any():
        return images
    out = images.copy()
    levels = rng.uniform(*BINARIZE_LEVELS, int(chosen.sum())).astype(np.float32)
    out[chosen] = (images[chosen] >= levels[:, None, None]).astype(np.float32)
    return out


def random_affine(images: np.ndarray, rng: np.random.Generator, cfg: Augment) -> np.ndarray:
    """``(N, H, W)`` -> ``(N, H, W)``: each image warped about its centre by its own random matrix."""
    n, h, w = images.shape
    angle = np.deg2rad(rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg, n))
    scale = rng.uniform(*cfg.scale_range, n)
    shear = rng.uniform(-cfg.max_shear, cfg.max_shear, n)
    shift = rng.uniform(-cfg.max_shift_px, cfg.max_shift_px, (n, 2))
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    # Inverse map: output pixel (r, c) samples input at A @ (r - cy, c - cx) + centre - shift.
    a00, a01 = cos, -sin + shear * cos
    a10, a11 = sin, cos + shear * sin
    cy, cx = (h - 1) / 2, (w - 1) / 2
    rr, cc = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
    src_r = a00[:, None, None] * rr + a01[:, None, None] * cc + cy - shift[:, 0, None, None]
    src_c = a10[:, None, None] * rr + a11[:, None, None] * cc + cx - shift[:, 1, None, None]
    if cfg.elastic_prob > 0:
        dr, dc = elastic_field(n, h, w, rng, cfg.elastic_alpha, cfg.elastic_sigma)
        keep = np.less(rng.random(n), cfg.elastic_prob)[:, None, None]
        src_r, src_c = src_r + dr * keep, src_c + dc * keep
    return bilinear_sample(images, src_r, src_c)


def elastic_field(
    n: int, h: int, w: int, rng: np.random.Generator, alpha: float, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Two ``(n, h, w)`` displacement fields, in pixels: uniform noise in ``[-1, 1]`` smoothed by a
    Gaussian of ``sigma`` pixels (separable, zero beyond the edges) and scaled by ``alpha``."""
    radius = int(2 * sigma)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    fields = []
    for _ in range(2):
        noise = rng.uniform(-1, 1, (n, h + 2 * radius, w + 2 * radius)).astype(np.float32)
        rows = sum(taps[k] * noise[:, k : k + h, :] for k in range(len(taps)))
        smooth = sum(taps[k] * rows[:, :, k : k + w] for k in range(len(taps)))
        fields.append(alpha * smooth)
    return fields[0], fields[1]


def bilinear_sample(images: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample ``(N, H, W)`` images at fractional ``(N, H, W)`` coordinates; outside reads as 0."""
    n, h, w = images.shape
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))  # a zero border makes out-of-range reads 0
    r = np.clip(rows + 1, 0, h + 1)
    c = np.clip(cols + 1, 0, w + 1)
    r0, c0 = np.floor(r).astype(np.intp), np.floor(c).astype(np.intp)
    r1, c1 = np.minimum(r0 + 1, h + 1), np.minimum(c0 + 1, w + 1)
    fr, fc = (r - r0).astype(np.float32), (c - c0).astype(np.float32)
    b = np.arange(n)[:, None, None]
    top = padded[b, r0, c0] * (1 - fc) + padded[b, r0, c1] * fc
    bottom = padded[b, r1, c0] * (1 - fc) + padded[b, r1, c1] * fc
    out: np.ndarray = (top * (1 - fr) + bottom * fr).astype(np.float32)
    return out


def random_stroke(images: np.ndarray, rng: np.random.Generator, prob: float) -> np.ndarray:
    """Dilate (thicker strokes) or erode (thinner) a random ``prob`` share of ``(N, H, W)`` images."""
    choice = rng.random(len(images))
    thicken = choice < prob / 2
    thin = (choice >= prob / 2) & (choice < prob)
    out = images.copy()
    if thicken.any():
        out[thicken] = morph3x3(images[thicken], np.maximum)
    if thin.any():
        eroded = morph3x3(images[thin], np.minimum)
        # Pure erosion wipes out thin strokes; blend so the digit survives while getting thinner.
        out[thin] = 0.5 * images[thin] + 0.5 * eroded
    return out


def morph3x3(images: np.ndarray, op: np.ufunc) -> np.ndarray:
    """Grey dilation (``np.maximum``) or erosion (``np.minimum``) with a 3x3 cross-shaped element."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = images.shape[1:]
    out = images.copy()
    for dr, dc in ((0, 1), (2, 1), (1, 0), (1, 2)):
        out = op(out, padded[:, dr : dr + h, dc : dc + w])
    return out
