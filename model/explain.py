"""Look inside: what each layer of the network makes of a digit, and where it looked for a digit.

The explainer runs the trained :class:`~model.sequential.Sequential` in eval mode (BatchNorm with its
running statistics, Dropout off) through the layers' own forward/backward functions, on a tape of its
own (:mod:`model.tape`): no state on the layers, so one explainer is safe to call from many threads,
like the inference network.

**Where it looked** (the heatmap) for a target digit ``t`` is the evidence for ``t`` against the other
outputs: the score is ``log p_t``, the calibrated log-probability of ``t``, whose gradient with respect
to the logits is ``onehot(t) - p``: each other output weighted by how much it competes, so the map for
the runner-up is not the map of the digit read. Two views of that gradient make the map:

- *gradient x input* at the pixels: ``d score / d pixel * pixel``, the first-order change of the score
  when that pixel's ink is taken away, kept where positive (ink that speaks for ``t``). It ranks the
  ink by what removing it costs, which is what the deletion test of ``tests/test_explain.py`` checks;
- *Grad-CAM* (Selvaraju et al. 2017) at the last convolution block: its channels weighted by their mean
  gradient, summed, kept where positive and upsampled bilinearly to 28x28: the region the top of the
  network used. It scales gradient x input between ``CAM_FLOOR`` (outside the region) and
  ``1 + CAM_FLOOR`` (at its peak): Grad-CAM alone ranks faint ink at a region's edge as high as the
  stroke, and fails the deletion test.

Each map is then scaled so that its largest value is 1 (an all-zero map when nothing speaks for ``t``).
``docs/journal/2026-12-07-look-inside.md`` compares the variants measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .calibration import split_refusal
from .layers.loss import softmax
from .normalize import INPUT_SIZE, MNIST_MEAN, MNIST_STD, to_network_input, to_unit
from .second_look import look_again
from .sequential import Sequential
from .tape import Step, layer_names, step_of

CAM_FLOOR = 0.5  # gradient x input is scaled by CAM_FLOOR + Grad-CAM (in [0, 1])


@dataclass(frozen=True)
class LayerOutput:
    """One shown layer's output: ``(N, C, H, W)`` feature maps of a convolution block, ``(N, F)`` units
    of a dense layer (float32, after the ReLU, so non-negative)."""

    name: str
    values: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        """The output shape of one digit: ``(C, H, W)`` or ``(F,)``."""
        return tuple(self.values.shape[1:])


@dataclass(frozen=True)
class Explanation:
    """What the network made of ``N`` digits, and where it looked for each one's target.

    ``heatmaps``: ``(N, 28, 28)`` float32 in ``[0, 1]``, each 1 at its largest (all 0: nothing spoke for
    the target); ``targets``: ``(N,)`` the digit each heatmap is for; ``layers``: the shown layers in
    order; ``probabilities``: ``(N, K)`` calibrated, as ``InferenceNetwork.predict`` gives them;
    ``digit_probabilities`` ``(N, 10)`` and ``is_digit`` ``(N,)``: the reading as
    ``InferenceNetwork.classify`` gives it (the second look included); ``inputs``: the ``(N, 28, 28)``
    pixels in ``[0, 1]`` the network saw.
    """

    heatmaps: np.ndarray
    targets: np.ndarray
    layers: tuple[LayerOutput, ...]
    probabilities: np.ndarray
    digit_probabilities: np.ndarray
    is_digit: np.ndarray
    inputs: np.ndarray


@dataclass(frozen=True)
class Explainer:
    """The eval-mode network on a tape, with the calibration of its weights metadata."""

    steps: tuple[Step, ...]
    names: dict[int, str]
    mean: float = MNIST_MEAN
    std: float = MNIST_STD
    temperature: float = 1.0
    reject_threshold: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_sequential(cls, net: Sequential, metadata: dict[str, Any] | None = None) -> Explainer:
        meta = metadata or {}
        norm, calib = meta.get("normalization", {}), meta.get("calibration", {})
        threshold = calib.get("reject_threshold")
        steps = tuple(s for s in (step_of(layer) for layer in net.layers) if s is not None)
        return cls(
            steps,
            layer_names(net),
            float(norm.get("mean", MNIST_MEAN)),
            float(norm.get("std", MNIST_STD)),
            float(calib.get("temperature", 1.0)),
            None if threshold is None else float(threshold),
            meta,
        )

    # -- the tape -------------------------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], list[Any]]:
        """Normalized ``(N, 1, 28, 28)`` input -> ``(N, K)`` logits, every step's output and what each
        step's backward pass needs."""
        outputs, saved = [], []
        for step in self.steps:
            x, keep = step.forward(x)
            outputs.append(x)
            saved.append(keep)
        return x, outputs, saved

    def backward(self, saved: list[Any], dlogits: np.ndarray) -> list[np.ndarray]:
        """The gradient of ``sum(logits * dlogits)`` with respect to the input and each step's output:
        ``grads[0]`` is the input's, ``grads[i + 1]`` step ``i``'s output's."""
        grads = [dlogits]
        for step, keep in zip(reversed(self.steps), reversed(saved), strict=True):
            grads.append(step.backward(grads[-1], keep))
        return grads[::-1]

    def score_gradient(self, logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``d log p_t / d logits`` = ``(onehot(t) - p) / T``, ``(N, K)``, computed in float64 (a sure
        digit's ``1 - p_t`` is below float32's resolution)."""
        p = softmax(logits.astype(np.float64) / self.temperature)
        grad = -p
        grad[np.arange(len(targets)), targets] += 1.0
        return (grad / self.temperature).astype(logits.dtype)

    def input_gradient(self, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``d log p_t / d x`` for normalized ``(N, 1, 28, 28)`` input ``x``: ``(N, 1, 28, 28)``."""
        logits, _, saved = self.forward(x)
        return self.backward(saved, self.score_gradient(logits, targets))[0]

    # -- what it read ---------------------------------------------------------------------------------
    def predict(self, images: np.ndarray) -> np.ndarray:
        """Pixels as ``InferenceNetwork.predict`` takes them -> ``(N, K)`` calibrated probabilities."""
        logits, _, _ = self.forward(to_network_input(images, self.mean, self.std))
        return softmax(logits * np.float32(1 / self.temperature)).astype(np.float32, copy=False)

    # -- the explanation ------------------------------------------------------------------------------
    def explain(self, images: np.ndarray, target: int | np.ndarray | None = None) -> Explanation:
        """``(N, 28, 28)`` pixels (uint8, or float in ``[0, 1]``) -> their :class:`Explanation`.

        ``target``: the digit to look for, one for all or ``(N,)``; default: each digit read (the
        closest guess of a refused one). Raises ValueError for a target outside 0-9.
        """
        x = to_network_input(images, self.mean, self.std)
        if x.shape[2:] != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"expected {INPUT_SIZE}x{INPUT_SIZE} digits, got images of shape {np.shape(images)}")
        logits, outputs, saved = self.forward(x)
        probs = softmax(logits * np.float32(1 / self.temperature)).astype(np.float32, copy=False)
        second = look_again(self.predict, np.asarray(images), probs)
        digit_probs, is_digit = split_refusal(second, self.reject_threshold)
        targets = _targets(target, digit_probs)
        grads = self.backward(saved, self.score_gradient(logits, targets))
        pixels = to_unit(np.asarray(images)).reshape(x.shape)  # exact zeros off the ink
        cam_at = max(i for i, name in self.names.items() if name.startswith("conv"))
        heat = combine(grads[0] / np.float32(self.std) * pixels, grad_cam(outputs[cam_at], grads[cam_at + 1]))
        layers = tuple(LayerOutput(name, outputs[i]) for i, name in sorted(self.names.items()))
        return Explanation(heat, targets, layers, probs, digit_probs, is_digit, pixels[:, 0])


def _targets(target: int | np.ndarray | None, digit_probs: np.ndarray) -> np.ndarray:
    """``(N,)`` intp: ``target`` for each of the ``(N, 10)`` readings, or each one's digit when None."""
    n = len(digit_probs)
    if target is None:
        read: np.ndarray = digit_probs.argmax(axis=1).astype(np.intp)
        return read
    given = np.broadcast_to(np.asarray(target), (n,))
    if given.dtype.kind not in "iu" or np.any((given < 0) | (given > 9)):
        raise ValueError(f"target must be a digit 0-9, got {target!r}")
    return given.astype(np.intp)


def grad_cam(maps: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Grad-CAM of ``(N, C, H, W)`` activations and their gradients: ``(N, 28, 28)``, non-negative
    (``relu(sum_c mean(grad_c) * map_c)``, upsampled bilinearly)."""
    weights = grads.mean(axis=(2, 3), keepdims=True)
    cam = np.maximum((weights * maps).sum(axis=1), 0)
    return upsample(cam, INPUT_SIZE)


def upsample(maps: np.ndarray, size: int) -> np.ndarray:
    """``(N, H, W)`` -> ``(N, size, size)``, bilinear with pixel centres aligned (as image resizing)."""
    n, h, w = maps.shape
    ys = np.clip((np.arange(size) + 0.5) * h / size - 0.5, 0, h - 1)
    xs = np.clip((np.arange(size) + 0.5) * w / size - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[None, :, None], (xs - x0)[None, None, :]
    top = maps[:, y0][:, :, x0] * (1 - fx) + maps[:, y0][:, :, x1] * fx
    bottom = maps[:, y1][:, :, x0] * (1 - fx) + maps[:, y1][:, :, x1] * fx
    out: np.ndarray = (top * (1 - fy) + bottom * fy).astype(np.float32)
    return out


def combine(grad_x_input: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """``(N, 1, 28, 28)`` gradient x input and ``(N, 28, 28)`` Grad-CAM -> ``(N, 28, 28)`` heatmaps in
    ``[0, 1]``: the positive part of gradient x input, times ``CAM_FLOOR + cam`` (Grad-CAM scaled to a
    largest value of 1), each map scaled to a largest value of 1."""
    return normalise(np.maximum(grad_x_input[:, 0], 0) * (np.float32(CAM_FLOOR) + normalise(cam)))


def normalise(maps: np.ndarray) -> np.ndarray:
    """``(N, H, W)`` non-negative maps divided by their own largest value (all-zero maps stay 0)."""
    top = maps.reshape(len(maps), -1).max(axis=1, initial=0.0)[:, None, None]
    out: np.ndarray = np.divide(maps, top, out=np.zeros_like(maps, dtype=np.float32), where=top > 0)
    return out
