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

:class:`Program` runs the steps over per-thread plans (``threading.local``), one per batch size (the
most recent sizes are kept, within a byte budget): a plan holds the buffers and the list of NumPy
calls that compute the network on them (:meth:`model.kernels.Step.calls`), so calls of the same size
allocate nothing but the logits they return, and run nothing but those NumPy calls. Large batches
run in chunks of at most :data:`CHUNK` digits (the service's largest batch), which bounds the
buffers' memory; within a chunk the convolutions take a few digits at a time (:data:`SPATIAL_CHUNK`),
for the cache, and the linear layers the whole chunk at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .kernels import Buffers, Call, ConvIm2col, LinearStep, Pool, Step, run_calls
from .layers.activation import ReLUOp
from .layers.conv import ConvOp
from .layers.flatten import FlattenOp
from .layers.linear import LinearOp
from .layers.pooling import MaxPoolOp
from .module import Op
from .normalize import to_network_input
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


def pixel_levels(mean: float, std: float) -> np.ndarray:
    """``(256,)`` float32: ``to_network_input``'s value for each uint8 pixel value (for
    :meth:`Program.from_pixels`)."""
    return to_network_input(np.arange(256, dtype=np.uint8).reshape(1, 1, 256), mean, std).reshape(256)


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


def _allocate(steps: Sequence[Step], n: int) -> list[Buffers]:
    """Each step's buffers for ``n`` digits, with ``"in"``: where the step before writes."""
    made = []
    for step in steps:
        own = step.allocate(n)
        own["in"] = step.input_view(own)
        made.append(own)
    return made


def _owned_bytes(buffers: list[Buffers]) -> int:
    """Bytes the arrays of ``buffers`` own: each array once (a step may hold one under two names),
    views not at all (their base is counted)."""
    owned = {id(a): a for own in buffers for a in own.values() if a.base is None}
    return sum(a.nbytes for a in owned.values())


def _chain(steps: Sequence[Step], buffers: list[Buffers], dst: np.ndarray) -> tuple[tuple[Call, ...], ...]:
    """Each step's calls, each writing the next one's input and the last one ``dst``."""
    outs = [b["in"] for b in buffers[1:]] + [dst]
    return tuple(tuple(s.calls(b, d)) for s, b, d in zip(steps, buffers, outs, strict=False))


def _flat(steps: tuple[tuple[Call, ...], ...]) -> tuple[Call, ...]:
    return tuple(c for calls in steps for c in calls)


@dataclass(frozen=True)
class Pass:
    """The convolution steps over digits ``start:stop`` of a batch: ``first`` is where those digits go
    in, ``steps`` holds each step's calls (the last one's write these digits' rows of the linear
    steps' input), ``calls`` the same calls in one sequence."""

    start: int
    stop: int
    first: np.ndarray
    steps: tuple[tuple[Call, ...], ...]
    calls: tuple[Call, ...]


@dataclass(frozen=True)
class Plan:
    """Everything a batch of one size runs: the convolution passes, the linear steps' calls (per step
    in ``linear``, in one sequence in ``calls``), the ``(N, K)`` ``logits`` buffer the last step writes,
    and the bytes its buffers own."""

    passes: tuple[Pass, ...]
    linear: tuple[tuple[Call, ...], ...]
    calls: tuple[Call, ...]
    logits: np.ndarray
    nbytes: int


class Program:
    """Fused steps run over per-thread, per-batch-size plans: ``(N, C, H, W)`` -> ``(N, K)`` logits.

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
        """Pickled (or deep-copied) without the per-thread plans, which are made again on use."""
        return {"steps": self.steps, "input_chw": self.input_chw}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.steps, self.input_chw = state["steps"], state["input_chw"]
        self.spatial = next((i for i, s in enumerate(self.steps) if isinstance(s, LinearStep)), len(self.steps))
        self._local = threading.local()

    def plan(self, n: int) -> Plan:
        """This thread's plan for a chunk of ``n`` digits, made on first use. The least recently used
        sizes are dropped beyond :data:`KEPT_SIZES` sizes or :data:`KEPT_BYTES` bytes of their own
        buffers (the newest is always kept)."""
        kept: OrderedDict[int, Plan] | None = getattr(self._local, "kept", None)
        if kept is None:
            kept = self._local.kept = OrderedDict()
        if n in kept:
            kept.move_to_end(n)
            return kept[n]
        kept[n] = self._make_plan(n)
        while len(kept) > 1 and (len(kept) > KEPT_SIZES or sum(p.nbytes for p in kept.values()) > KEPT_BYTES):
            kept.popitem(last=False)
        return kept[n]

    def _make_plan(self, n: int) -> Plan:
        """The linear steps' buffers for ``n`` digits, the logits', and every step's calls on them and
        on this thread's convolution buffers (:meth:`_pass_buffers`)."""
        linear = _allocate(self.steps[self.spatial :], n)
        logits = np.empty(self.steps[-1].out_shape(n), np.float32)
        dst = linear[0]["in"] if linear else logits
        passes = []
        size = SPATIAL_CHUNK if self.spatial else n  # no convolutions: one pass that only fills
        for start in range(0, n, size):
            stop = min(start + size, n)
            own = self._pass_buffers(stop - start) if self.spatial else []
            steps = _chain(self.steps[: self.spatial], own, dst[start:stop])
            passes.append(Pass(start, stop, own[0]["in"] if own else dst, steps, _flat(steps)))
        calls = _chain(self.steps[self.spatial :], linear, logits)
        return Plan(tuple(passes), calls, _flat(calls), logits, logits.nbytes + _owned_bytes(linear))

    def _pass_buffers(self, size: int) -> list[Buffers]:
        """This thread's convolution buffers for a pass of ``size`` digits, made on first use and kept
        for the thread's life: at most :data:`SPATIAL_CHUNK` sizes, shared by every plan (a thread
        runs one pass at a time), so a plan owns only its linear steps' buffers and its logits."""
        made: dict[int, list[Buffers]] | None = getattr(self._local, "passes", None)
        if made is None:
            made = self._local.passes = {}
        if size not in made:
            made[size] = _allocate(self.steps[: self.spatial], size)
        return made[size]

    def __call__(self, x: np.ndarray, observe: Observer | None = None) -> np.ndarray:
        """``(N, C, H, W)`` float32 -> ``(N, K)`` float32 logits (a new array, never a buffer)."""
        n = len(x)
        out = np.empty(self.steps[-1].out_shape(n), np.float32)
        for start in range(0, n, CHUNK):
            self.run_chunk(x[start : start + CHUNK], out[start : start + CHUNK], observe)
        return out

    def run_chunk(self, x: np.ndarray, out: np.ndarray, observe: Observer | None = None) -> None:
        """At most :data:`CHUNK` digits through every step into ``out``; ``observe(i)`` after step ``i``
        (after each pass of it, for the convolution steps)."""

        def fill(first: np.ndarray, start: int, stop: int) -> None:
            part = x[start:stop]
            np.copyto(first, part.transpose(0, 2, 3, 1) if part.shape[1] > 1 else part.reshape(first.shape))

        np.copyto(out, self._run(len(x), fill, observe))

    def from_pixels(self, images: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """uint8 one-channel pixels, ``(N, H, W)`` or ``(N, 1, H, W)`` with ``N <= CHUNK`` -> ``(N, K)``
        logits: ``predict``'s path for the service's digits. ``levels`` is the ``(256,)`` float32 network
        input of each pixel value (:func:`pixel_levels`): one lookup writes the standardised digits
        straight into the first step's input buffer, the same float32 values as ``to_network_input``
        without its arithmetic passes over the (strided) buffer and their temporary arrays."""

        def fill(first: np.ndarray, start: int, stop: int) -> None:
            np.take(levels, images[start:stop].reshape(first.shape), out=first, mode="clip")  # uint8: in range

        return self._run(len(images), fill).copy()

    def _run(self, n: int, fill: Fill, observe: Observer | None = None) -> np.ndarray:
        """``n`` digits through every step; ``fill(buffer, start, stop)`` writes digits ``start:stop``
        into the first step's input ``buffer``. Returns the plan's logits buffer (the caller copies)."""
        plan = self.plan(n)
        for part in plan.passes:
            fill(part.first, part.start, part.stop)
            if observe is None:
                run_calls(part.calls)
                continue
            for i, calls in enumerate(part.steps):
                run_calls(calls)
                observe(i)
        if observe is None:
            run_calls(plan.calls)
        else:
            for i, calls in enumerate(plan.linear, self.spatial):
                run_calls(calls)
                observe(i)
        return plan.logits
