"""The inference compiler: the plain op list (:func:`model.inference.compile_ops`) -> a fused NHWC program.

``compile_ops`` gives the network as the training layers compute it, op by op in NCHW, BatchNorm
folded. :func:`compile_program` reads that list as patterns and emits one fused step per layer
(:mod:`model.kernels`):

- ``Conv [MaxPool] [ReLU]`` -> a convolution whose output pass adds the bias, pools and rectifies
  (im2col and one GEMM; Winograd F(2x2, 3x3) for pooled 3x3 convolutions over many channels,
  :func:`winograd_fits`);
- ``Flatten Linear [ReLU]`` and ``Linear [ReLU]`` -> a linear step (Flatten becomes a permutation of the
  weight's columns, made once);

and returns None for any other op sequence, in which case the network runs its plain ops. Nothing
here changes the training path: the steps hold read-only copies derived from the ops' arrays.

:class:`Program` runs the steps over per-thread buffers (``threading.local``), one set per batch size
(the most recent sizes are kept, within a byte budget), so calls of the same size allocate nothing but
the logits they return. Large batches run in chunks of at most :data:`CHUNK` digits (the service's
largest batch), which bounds the buffers' memory; within a chunk the convolutions take a few digits
at a time (:data:`SPATIAL_CHUNK`), for the cache, and the linear layers the whole chunk at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .kernels import Buffers, ConvIm2col, LinearStep, Pool, Step
from .layers.activation import ReLUOp
from .layers.conv import ConvOp
from .layers.flatten import FlattenOp
from .layers.linear import LinearOp
from .layers.pooling import MaxPoolOp
from .module import Op
from .winograd import ConvWinograd

CHUNK = 64  # digits per pass through the steps; larger batches are split
SPATIAL_CHUNK = 4  # digits per pass through the convolution steps (see Program)
KEPT_SIZES = 8  # batch sizes whose buffers a thread keeps at most...
KEPT_BYTES = 64 * 2**20  # ...and the bytes they may hold together (the newest is always kept)
WINOGRAD_MIN_CHANNELS = 16  # input channels from which a pooled 3x3 convolution runs as Winograd

Observer = Callable[[int], None]  # called with the index of each step just finished
Fill = Callable[[np.ndarray, int, int], None]  # writes digits start:stop into the first step's input


def _take(ops: Sequence[Op], i: int, kind: type) -> tuple[Op | None, int]:
    """``(ops[i], i + 1)`` when ``ops[i]`` is a ``kind``, else ``(None, i)``."""
    if i < len(ops) and isinstance(ops[i], kind):
        return ops[i], i + 1
    return None, i


def _conv(ops: Sequence[Op], i: int, chw: tuple[int, int, int]) -> tuple[Step, int, tuple[int, int, int]] | None:
    """``Conv [MaxPool] [ReLU]`` from ``ops[i]`` -> the fused step, the next index and its output
    ``(C, H, W)``; None for a pooling window under 2 (nothing to fuse)."""
    conv = ops[i]
    assert isinstance(conv, ConvOp)
    if conv.weight.shape[1] != chw[0]:
        raise ValueError(f"convolution expects {conv.weight.shape[1]} channels, gets {chw[0]}")
    pool_op, j = _take(ops, i + 1, MaxPoolOp)
    pool = None
    if isinstance(pool_op, MaxPoolOp):
        if pool_op.kernel_size < 2:
            return None
        pool = Pool(pool_op.kernel_size, pool_op.stride)
    relu, j = _take(ops, j, ReLUOp)
    step: ConvIm2col | ConvWinograd
    if winograd_fits(conv, chw, pool):
        step = ConvWinograd(conv.weight, conv.bias, chw[1:], pool is not None, relu is not None)
    else:
        step = ConvIm2col(conv.weight, conv.bias, conv.stride, conv.padding, chw[1:], pool, relu is not None)
    return step, j, (step.f, step.ph, step.pw)


def winograd_fits(conv: ConvOp, chw: tuple[int, int, int], pool: Pool | None) -> bool:
    """Winograd F(2x2, 3x3) where it measures faster than im2col (``benchmarks/bench_inference.py``
    prints both paths' steps): a 3x3 "same" convolution over enough channels followed by 2x2/2 pooling,
    whose windows are exactly its 2x2 output tiles. Unpooled, the scatter of the tiles back to NHWC
    costs what the saved products gain; over few channels the transforms cost more than the products."""
    c, h, w = chw
    same_3x3 = conv.weight.shape[2:] == (3, 3) and conv.stride == 1 and conv.padding == 1
    tiled_pool = pool is not None and pool.kernel == pool.stride == 2 and h % 2 == 0 and w % 2 == 0
    return same_3x3 and tiled_pool and c >= WINOGRAD_MIN_CHANNELS


def _linear(ops: Sequence[Op], i: int, chw: tuple[int, int, int] | None) -> tuple[Step, int] | None:
    """``Flatten Linear [ReLU]`` (``chw``: the flattened activations' shape) or ``Linear [ReLU]``
    (``chw`` None) from ``ops[i]`` -> the fused step and the next index; None if no Linear follows."""
    _, i = _take(ops, i, FlattenOp)
    lin, j = _take(ops, i, LinearOp)
    if not isinstance(lin, LinearOp):
        return None
    if chw is not None and int(np.prod(chw)) != lin.weight.shape[1]:
        raise ValueError(f"linear layer expects {lin.weight.shape[1]} features, gets {chw}")
    relu, j = _take(ops, j, ReLUOp)
    return LinearStep(lin.weight, lin.bias, chw, relu is not None), j


def compile_program(ops: Sequence[Op], input_chw: tuple[int, int, int]) -> Program | None:
    """Fused NHWC steps for ``ops`` on ``(C, H, W)`` inputs, or None when a sequence has no fused form.

    Spatial activations are tracked as ``chw`` until a Flatten turns them into features (``None``).
    """
    steps: list[Step] = []
    chw: tuple[int, int, int] | None = input_chw
    i = 0
    while i < len(ops):
        op = ops[i]
        if isinstance(op, ConvOp) and chw is not None:
            conv = _conv(ops, i, chw)
            if conv is None:
                return None
            step, i, chw = conv
        elif isinstance(op, FlattenOp) and chw is not None or isinstance(op, LinearOp) and chw is None:
            linear = _linear(ops, i, chw)
            if linear is None:
                return None
            (step, i), chw = linear, None
        else:
            return None
        steps.append(step)
    return Program(tuple(steps), input_chw) if steps else None


def _nbytes(buffers: list[Buffers]) -> int:
    """Bytes owned by one batch size's buffers (views counted once, through their base)."""
    return sum(a.nbytes for own in buffers for a in own.values() if a.base is None)


class Program:
    """Fused steps run over per-thread, per-batch-size buffers: ``(N, C, H, W)`` -> ``(N, K)`` logits.

    The convolution steps (``steps[:spatial]``) take the digits in passes of at most
    :data:`SPATIAL_CHUNK`, so that one pass's activations stay in the core's own cache instead of
    spilling to the cache shared with the other cores; the last of them writes its rows of the linear
    steps' input, and the linear steps then take the whole chunk at once, reading their weights once.
    """

    def __init__(self, steps: tuple[Step, ...], input_chw: tuple[int, int, int]) -> None:
        self.steps = steps
        self.input_chw = input_chw
        self.spatial = next((i for i, s in enumerate(steps) if isinstance(s, LinearStep)), len(steps))
        self._local = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (or deep-copied) without the per-thread buffers, which are made again on use."""
        return {"steps": self.steps, "input_chw": self.input_chw}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.steps, self.input_chw = state["steps"], state["input_chw"]
        self.spatial = next((i for i, s in enumerate(self.steps) if isinstance(s, LinearStep)), len(self.steps))
        self._local = threading.local()

    def workspace(self, n: int) -> list[Buffers]:
        """This thread's buffers for a pass of ``n`` digits, made on first use: every step's when ``n``
        fits one convolution pass (:data:`SPATIAL_CHUNK`), else the linear steps' only (the others'
        stay empty: their passes take smaller sizes). The least recently used sizes are dropped
        beyond :data:`KEPT_SIZES` sizes or :data:`KEPT_BYTES` bytes (the newest is always kept)."""
        kept: OrderedDict[int, list[Buffers]] | None = getattr(self._local, "kept", None)
        if kept is None:
            kept = self._local.kept = OrderedDict()
        if n in kept:
            kept.move_to_end(n)
            return kept[n]
        first = 0 if n <= SPATIAL_CHUNK else self.spatial
        buffers: list[Buffers] = [{} for _ in self.steps[:first]]
        for step in self.steps[first:]:
            own = step.allocate(n)
            own["in"] = step.input_view(own)  # where the step before writes
            buffers.append(own)
        kept[n] = buffers
        while len(kept) > 1 and (len(kept) > KEPT_SIZES or sum(map(_nbytes, kept.values())) > KEPT_BYTES):
            kept.popitem(last=False)
        return buffers

    def __call__(self, x: np.ndarray, observe: Observer | None = None) -> np.ndarray:
        """``(N, C, H, W)`` float32 -> ``(N, K)`` float32 logits (a new array, never a buffer)."""
        n = len(x)
        out = np.empty(self.steps[-1].out_shape(n), np.float32)
        for start in range(0, n, CHUNK):
            self.run_chunk(x[start : start + CHUNK], out[start : start + CHUNK], observe)
        return out

    def run_chunk(self, x: np.ndarray, out: np.ndarray, observe: Observer | None = None) -> None:
        """At most :data:`CHUNK` digits through every step; ``observe(i)`` after step ``i`` (after each
        pass of it, for the convolution steps)."""

        def fill(first: np.ndarray, start: int, stop: int) -> None:
            part = x[start:stop]
            np.copyto(first, part.transpose(0, 2, 3, 1) if part.shape[1] > 1 else part.reshape(first.shape))

        self._run(len(x), fill, out, observe)

    def from_pixels(self, images: np.ndarray, mean: float, std: float) -> np.ndarray:
        """uint8 one-channel pixels, ``(N, H, W)`` or ``(N, 1, H, W)`` with ``N <= CHUNK`` -> ``(N, K)``
        logits. The pixels are standardised straight into the first step's input buffer with
        ``to_network_input``'s arithmetic, operation for operation (so the same float32 values),
        which saves its temporary arrays and a copy: ``predict``'s path for the service's digits."""

        def fill(first: np.ndarray, start: int, stop: int) -> None:
            np.multiply(images[start:stop].reshape(first.shape), np.float32(1 / 255), out=first)
            np.subtract(first, np.float32(mean), out=first)
            np.multiply(first, np.float32(1 / std), out=first)

        out = np.empty(self.steps[-1].out_shape(len(images)), np.float32)
        self._run(len(images), fill, out)
        return out

    def _run(self, n: int, fill: Fill, out: np.ndarray, observe: Observer | None = None) -> None:
        """``n`` digits through every step into ``out``; ``fill(buffer, start, stop)`` writes digits
        ``start:stop`` into the first step's input ``buffer``."""
        whole, last = self.workspace(n), len(self.steps) - 1
        if self.spatial == 0:
            fill(whole[0]["in"], 0, n)
        else:
            self._convolutions(n, whole, fill, out if self.spatial > last else whole[self.spatial]["in"], observe)
        for i in range(self.spatial, last + 1):
            self.steps[i].run(whole[i], out if i == last else whole[i + 1]["in"])
            if observe is not None:
                observe(i)

    def _convolutions(
        self, n: int, whole: list[Buffers], fill: Fill, dst: np.ndarray, observe: Observer | None
    ) -> None:
        """The convolution steps over ``n`` digits in passes of at most :data:`SPATIAL_CHUNK`, each pass
        writing its rows of ``dst`` (the first linear step's input, or the program's output)."""
        for start in range(0, n, SPATIAL_CHUNK):
            stop = min(start + SPATIAL_CHUNK, n)
            buffers = whole if n <= SPATIAL_CHUNK else self.workspace(stop - start)
            fill(buffers[0]["in"], start, stop)
            for i in range(self.spatial):
                last = i + 1 == self.spatial
                self.steps[i].run(buffers[i], dst[start:stop] if last else buffers[i + 1]["in"])
                if observe is not None:
                    observe(i)
