"""The inference-only forward path, compiled from a trained :class:`Sequential`.

Each eval-mode layer says how it runs at inference (``Module.inference_op()``, in the layer's own file):
a stateless op calling the same forward maths as the layer, holding read-only float32 copies of its
arrays; Dropout and the loss vanish. Compilation then rewrites the list of ops without changing the
results: every BatchNorm is folded into the neighbouring convolution or linear weights where that is
exact, and max-pooling runs before ReLU (equal results, a quarter of the ReLU work). Ops keep no
caches, so one network is safe to call from many threads.

Those ops stay the network's portable description (``InferenceNetwork.ops``: exported, evaluated in
float64 by the benchmarks). What runs is their compiled form (:mod:`model.compiler`): fused
channels-last steps over reused per-thread buffers, used for float32 input whenever every op fits a
fused pattern; the plain ops run otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .calibration import split_refusal
from .compiler import CHUNK, Program, compile_program, pixel_levels
from .explain import Explainer, Explanation
from .layers.activation import ReLUOp
from .layers.batchnorm import AffineOp
from .layers.conv import ConvOp
from .layers.flatten import FlattenOp
from .layers.linear import LinearOp
from .layers.loss import softmax
from .layers.pooling import MaxPoolOp
from .module import Op
from .normalize import INPUT_SIZE, MNIST_MEAN, MNIST_STD, to_network_input
from .second_look import look_again
from .sequential import Sequential


def compile_ops(net: Sequential) -> list[Op]:
    """The layers' inference ops, BatchNorm folded, pooling before ReLU."""
    ops = [op for op in (layer.inference_op() for layer in net.layers) if op is not None]
    return pool_before_relu(fold_batchnorm(ops))


def _fold_into_previous(prev: Op, aff: AffineOp) -> Op | None:
    """``affine(conv(x))`` or ``affine(linear(x))`` as one conv/linear, scaling output channels."""
    s, t = aff.scale.astype(np.float64), aff.shift.astype(np.float64)
    if isinstance(prev, ConvOp):
        w = prev.weight * s[:, None, None, None]
        return ConvOp(w, prev.bias * s + t, prev.stride, prev.padding)
    if isinstance(prev, LinearOp):
        return LinearOp(prev.weight * s[:, None], prev.bias * s + t)
    return None


def _fold_into_next(aff: AffineOp, nxt: Op, flattened: bool) -> Op | None:
    """``linear(flatten(affine(x)))``, or a padding-free conv after the affine, as one op.

    Exact because nothing non-linear sits between; zero padding would break it for convolutions.
    """
    s, t = aff.scale.astype(np.float64), aff.shift.astype(np.float64)
    if isinstance(nxt, LinearOp):
        repeat = nxt.weight.shape[1] // len(s)  # spatial positions per channel after Flatten
        if repeat * len(s) != nxt.weight.shape[1] or (repeat > 1 and not flattened):
            return None
        s_full, t_full = np.repeat(s, repeat), np.repeat(t, repeat)
        return LinearOp(nxt.weight * s_full[None, :], nxt.bias + nxt.weight @ t_full)
    if isinstance(nxt, ConvOp) and nxt.padding == 0 and not flattened:
        w = nxt.weight * s[None, :, None, None]
        return ConvOp(w, nxt.bias + (nxt.weight * t[None, :, None, None]).sum(axis=(1, 2, 3)), nxt.stride, 0)
    return None


def fold_batchnorm(ops: list[Op]) -> list[Op]:
    """Fold every AffineOp into its conv/linear neighbour when exact; keep the rest as they are."""
    ops = list(ops)
    i = 0
    while i < len(ops):
        op = ops[i]
        if not isinstance(op, AffineOp):
            i += 1
            continue
        merged = _fold_into_previous(ops[i - 1], op) if i > 0 else None
        if merged is not None:
            ops[i - 1 : i + 1] = [merged]
            continue
        j = i + 1
        while j < len(ops) and isinstance(ops[j], FlattenOp):
            j += 1
        merged = _fold_into_next(op, ops[j], flattened=j > i + 1) if j < len(ops) else None
        if merged is not None:
            ops[j] = merged
            del ops[i]
            continue
        i += 1
    return ops


def pool_before_relu(ops: list[Op]) -> list[Op]:
    """``MaxPool(ReLU(x)) == ReLU(MaxPool(x))`` (ReLU is monotonic): pooling first leaves ReLU a
    quarter of the values to touch behind a 2x2 pool. Exact, not an approximation."""
    ops = list(ops)
    for i in range(len(ops) - 1):
        if isinstance(ops[i], ReLUOp) and isinstance(ops[i + 1], MaxPoolOp):
            ops[i], ops[i + 1] = ops[i + 1], ops[i]
    return ops


@dataclass(frozen=True)
class InferenceNetwork:
    """Stateless forward path: ``predict(images) -> (N, K)`` float32 probabilities.

    ``temperature`` divides the logits (calibrated confidence); ``reject_threshold`` is the "not a
    digit" probability from which an image is refused (``None``: a 10-output network, never refuses).
    Both come from the weights metadata's ``calibration``.
    """

    ops: tuple[Op, ...]
    mean: float = MNIST_MEAN
    std: float = MNIST_STD
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)
    temperature: float = 1.0
    reject_threshold: float | None = None
    explainer: Explainer | None = field(default=None, compare=False, repr=False)  # for explain()
    program: Program | None = field(init=False, compare=False, repr=False)
    levels: np.ndarray = field(init=False, compare=False, repr=False)  # the network input of each pixel value

    def __post_init__(self) -> None:
        first = next((op for op in self.ops if isinstance(op, ConvOp)), None)
        channels = first.weight.shape[1] if first is not None else 1
        object.__setattr__(self, "program", compile_program(self.ops, (channels, INPUT_SIZE, INPUT_SIZE)))
        object.__setattr__(self, "levels", pixel_levels(self.mean, self.std))

    @classmethod
    def from_sequential(cls, net: Sequential, metadata: dict[str, Any] | None = None) -> InferenceNetwork:
        meta = metadata or {}
        norm = meta.get("normalization", {})
        calib = meta.get("calibration", {})
        threshold = calib.get("reject_threshold")
        return cls(
            tuple(compile_ops(net)),
            float(norm.get("mean", MNIST_MEAN)),
            float(norm.get("std", MNIST_STD)),
            meta,
            float(calib.get("temperature", 1.0)),
            None if threshold is None else float(threshold),
            Explainer.from_sequential(net, meta),
        )

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Normalized ``(N, 1, 28, 28)`` float32 input -> ``(N, K)`` scores (the compiled program for
        float32 input of the expected shape; the plain ops otherwise, e.g. for float64)."""
        program = self.program
        if program is not None and x.dtype == np.float32 and x.shape[1:] == program.input_chw:
            return program(x)
        for op in self.ops:
            x = op(x)
        return x

    def predict(self, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """``(N, 28, 28)`` uint8 pixels (white ink on black) or float32 in ``[0, 1]``, or the same with
        a channel axis -> ``(N, K)`` float32 calibrated probabilities (rows sum to 1; K = 11 when the
        last output is "not a digit", see :meth:`classify`)."""
        program = self.program
        if program is not None and self._fits_pixels(images):
            return self._calibrated(program.from_pixels(images, self.levels))
        x = to_network_input(images, self.mean, self.std)
        if x.shape[2:] != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"expected {INPUT_SIZE}x{INPUT_SIZE} digits, got images of shape {np.shape(images)}")
        if len(x) == 0:
            return np.zeros((0, len(self.metadata.get("labels", range(10)))), np.float32)
        parts = [self._probabilities(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        """Network input -> float32 calibrated probabilities."""
        return self._calibrated(self.logits(x))

    def _calibrated(self, logits: np.ndarray) -> np.ndarray:
        """Softmax of ``logits * float32(1 / T)``, scaled in place (``logits`` is a new array)."""
        logits *= np.float32(1 / self.temperature)
        return softmax(logits).astype(np.float32, copy=False)

    def _fits_pixels(self, images: np.ndarray) -> bool:
        """Whether ``images`` can take :meth:`Program.from_pixels`: uint8 one-channel 28x28 digits, at
        most one chunk of them, for a program over one-channel input."""
        shape = np.shape(images)
        one_channel = len(shape) == 3 or (len(shape) == 4 and shape[1] == 1)
        return (
            self.program is not None
            and isinstance(images, np.ndarray)
            and images.dtype == np.uint8
            and one_channel
            and shape[-2:] == (INPUT_SIZE, INPUT_SIZE)
            and 0 < shape[0] <= CHUNK
            and self.program.input_chw[0] == 1
        )

    def classify(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images as for :meth:`predict` -> ``(N, 10)`` digit probabilities (the closest guess) and
        ``(N,)`` bool: whether each image is a digit at all. Unsure digits get a second look
        (:func:`model.second_look.look_again`), as the service gives them."""
        probs = look_again(self.predict, images, self.predict(images))
        return split_refusal(probs, self.reject_threshold)

    def explain(self, images: np.ndarray, target: int | np.ndarray | None = None) -> Explanation:
        """Look inside: images as for :meth:`predict` -> each layer's output and where the network looked
        for ``target`` (one digit for all, or ``(N,)``; default: each digit read); see :mod:`model.explain`.
        Its probabilities are :meth:`predict`'s and :meth:`classify`'s, computed again on the unfolded
        layers."""
        if self.explainer is None:
            raise ValueError("this network was not built from a Sequential: nothing to explain with")
        return self.explainer.explain(images, target)

    def __repr__(self) -> str:
        names = ", ".join(type(op).__name__ for op in self.ops)
        return f"InferenceNetwork([{names}])"
