"""Fused channels-last (NHWC) inference steps, the building blocks of :mod:`model.compiler`.

A step is one layer of the compiled network with what follows it folded in: a convolution with its
bias, max-pooling and ReLU; a linear layer (after Flatten, or after another linear) with its bias and
ReLU. Steps compute the same maths as the training layers (``conv2d_forward``, ``maxpool2d_forward``,
``relu_forward``, ``linear_forward``) but choose the memory layout and the order of the passes for speed:

- activations stay NHWC from the first layer to the last: a convolution's matrix product already
  produces ``(N*OH*OW, F)`` rows, which *are* NHWC, so no transpose is ever needed;
- each step owns its input buffer and exposes it (:meth:`Step.input_view`); the step before writes its
  result straight into it, so a convolution's padding border is zeroed once, when the buffer is made,
  and the pooled, rectified result of one layer lands in the interior of the next layer's padded input;
- buffers, and the strided views into them, are made once per thread and batch size (the
  convolutions' once per thread and pass size, shared by the thread's plans: ``Program.plan`` in
  :mod:`model.compiler`); steps hold only read-only weights, so one compiled network serves many
  threads. (The Winograd convolution step is in :mod:`model.winograd`.)
- a step does not compute: :meth:`Step.calls` lists the NumPy calls that compute it on given buffers
  (:class:`Call`), once per batch size; a call of the network then runs that list and nothing else
  (:func:`run_calls`), so the per-call Python work (attribute and dictionary lookups, views, slices,
  branches on shapes) is paid when the buffers are made, not at every digit.

Shapes: ``N`` batch, ``H, W`` input height and width, ``C`` input channels, ``F`` output channels (or
features), ``OH, OW`` the convolution's output, ``PH, PW`` after pooling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .im2col import weight_matrix
from .module import read_only
from .shapes import conv_output_size

Buffers = dict[str, np.ndarray]
TAPS_MAJOR_BELOW = 4  # input channels under which a convolution's columns are kept taps-major
ROWS_BELOW = 4  # batches of 2 digits up to (not including) this many take a linear layer row by row (LinearStep)


class Call(NamedTuple):
    """One NumPy call of a compiled network, ``fn(*args, **kwargs)``: every operand is a buffer or a
    view made once, so running it allocates no activations (only NumPy's own small temporaries, as
    for a broadcast bias)."""

    fn: Callable[..., object]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def call(fn: Callable[..., object], *args: Any, **kwargs: Any) -> Call:
    return Call(fn, args, kwargs)


def run_calls(calls: Sequence[Call]) -> None:
    """Run ``calls`` in order."""
    for fn, args, kwargs in calls:
        fn(*args, **kwargs)


class Step(Protocol):
    """One fused inference step over NHWC activations."""

    name: str

    def allocate(self, n: int) -> Buffers:
        """This step's buffers for a batch of ``n``: its input (``"x"``) and any scratch."""
        ...

    def input_view(self, buffers: Buffers) -> np.ndarray:
        """Where the previous step writes: ``(N, H, W, C)`` (a view into ``buffers``)."""
        ...

    def out_shape(self, n: int) -> tuple[int, ...]:
        """What :meth:`run` writes into ``dst``: ``(N, PH, PW, F)`` or ``(N, F)``."""
        ...

    def calls(self, buffers: Buffers, dst: np.ndarray) -> list[Call]:
        """The calls that compute from ``buffers["x"]`` into ``dst`` (the next step's input view, or
        the logits)."""
        ...

    def flops(self, n: int) -> int:
        """Floating-point operations of the layer's maths for a batch of ``n`` (2 per multiply-add)."""
        ...


def pool_rows(y: np.ndarray, k: int, s: int, out: np.ndarray) -> list[Call]:
    """Max over ``k`` rows at stride ``s`` of NHWC ``y``: ``(N, OH, OW, F) -> out (N, PH, OW, F)``."""
    stop = s * (out.shape[1] - 1) + 1
    first = call(np.maximum, y[:, 0:stop:s], y[:, 1 : 1 + stop : s], out=out)
    return [first] + [call(np.maximum, out, y[:, i : i + stop : s], out=out) for i in range(2, k)]


def pool_columns(t: np.ndarray, k: int, s: int, out: np.ndarray) -> list[Call]:
    """Max over ``k`` columns at stride ``s``: ``(N, PH, OW, F) -> out (N, PH, PW, F)`` (any strides)."""
    stop = s * (out.shape[2] - 1) + 1
    first = call(np.maximum, t[:, :, 0:stop:s], t[:, :, 1 : 1 + stop : s], out=out)
    return [first] + [call(np.maximum, out, t[:, :, j : j + stop : s], out=out) for j in range(2, k)]


def max_of_phases(y: np.ndarray, out: np.ndarray) -> list[Call]:
    """``(P, M)`` rows -> their elementwise max in ``(M,)`` ``out``: pooling when each row holds one
    position of every window (a "phase"), so every operand is one contiguous block."""
    return [call(np.maximum, y[0], y[1], out=out)] + [call(np.maximum, out, y[r], out=out) for r in range(2, len(y))]


def rectify_into(src: np.ndarray, zeros: np.ndarray, relu: bool, dst: np.ndarray) -> list[Call]:
    """ReLU in place on the contiguous pooled result ``src`` (against ``zeros``, shaped like it, so that
    both operands are contiguous), then one copy into ``dst``, the next step's (strided) input. Writing
    the maximum straight into ``dst`` saves that copy but measures slower: NumPy's elementwise loops
    lose more on a strided output than a strided copy costs."""
    rectify = [call(np.maximum, src, zeros, out=src)] if relu else []
    return [*rectify, call(np.copyto, dst, src.reshape(dst.shape))]


@dataclass(frozen=True)
class Pool:
    """Max-pooling folded into a step's output pass: ``kernel`` x ``kernel`` windows at ``stride``."""

    kernel: int
    stride: int

    def size(self, h: int, w: int) -> tuple[int, int]:
        return conv_output_size(h, self.kernel, self.stride), conv_output_size(w, self.kernel, self.stride)


class ConvIm2col:
    """Convolution ``(N, H, W, C) -> (N, PH, PW, F)`` by one matrix product, bias, pooling and ReLU fused.

    Columns are written into a preallocated ``(rows, KH*KW*C + 1)`` buffer straight from the padded input
    buffer: one strided copy whose inner runs are whole window rows (``KW*C`` floats), or, with fewer
    than 4 channels, where such runs are too short, one strided copy per kernel tap. The last column is
    all ones and the kernel matrix's last row is the bias, so the bias comes out of the GEMM itself.

    With non-overlapping pooling (window = stride) the rows are ordered *phase-major*,
    ``(i, j, N, PH, PW)`` for output pixel ``(PH*k + i, PW*k + j)``: each of the ``k*k`` phases is then a
    contiguous block of the product, and pooling is ``k*k - 1`` elementwise maxima of whole blocks
    (NumPy's ufuncs run several times faster on contiguous operands than on strided views, and rows
    and columns that floor-mode pooling drops are never computed). ReLU follows on the pooled quarter
    (a maximum with a zero block, again contiguous), then one copy into ``dst``. Other poolings use
    ``(N, OH, OW)`` rows and strided slices. Without pooling the product goes straight into ``dst``
    when that is contiguous (the next step's flat input), ReLU in place.
    """

    def __init__(
        self, weight: np.ndarray, bias: np.ndarray, stride: int, padding: int, in_hw: tuple[int, int],
        pool: Pool | None, relu: bool,
    ) -> None:
        f, c, kh, kw = (int(v) for v in weight.shape)
        self.name = f"conv {kh}x{kw} {c}->{f}" + (" +pool" if pool else "") + (" +relu" if relu else "")
        self.c, self.f, self.kh, self.kw, self.stride, self.padding = c, f, kh, kw, stride, padding
        self.h, self.w = in_hw
        self.oh = conv_output_size(self.h, kh, stride, padding)
        self.ow = conv_output_size(self.w, kw, stride, padding)
        self.pool, self.relu = pool, relu
        self.ph, self.pw = pool.size(self.oh, self.ow) if pool else (self.oh, self.ow)
        self.phases = pool.kernel if pool and pool.kernel == pool.stride else 0  # k: phase-major rows
        kernel = np.vstack([weight_matrix(weight.astype(np.float64)).T, bias.astype(np.float64)[None, :]])
        self.kernel = read_only(kernel)  # (KH*KW*C + 1, F)

    def rows(self, n: int) -> int:
        """Rows of the product: the output pixels that are computed."""
        if self.phases:
            return self.phases**2 * n * self.ph * self.pw
        return n * self.oh * self.ow

    def allocate(self, n: int) -> Buffers:
        p, taps = self.padding, self.kh * self.kw * self.c
        rows = self.rows(n)
        if self.c >= TAPS_MAJOR_BELOW:
            cols = np.empty((rows, taps + 1), np.float32)
            cols[:, taps] = 1.0
        else:
            cols = np.empty((taps + 1, rows), np.float32)
            cols[taps] = 1.0
        buffers = {
            "x": np.zeros((n, self.h + 2 * p, self.w + 2 * p, self.c), np.float32),
            "cols": cols,
            "y": np.empty((rows, self.f), np.float32),
            "zeros": np.zeros((n, self.ph, self.pw, self.f), np.float32),
        }
        if self.pool:
            buffers["pooled"] = np.empty((n, self.ph, self.pw, self.f), np.float32)
        if self.pool and not self.phases:
            buffers["rows"] = np.empty((n, self.ph, self.ow, self.f), np.float32)
        return self.plan(buffers)

    def plan(self, buffers: Buffers) -> Buffers:
        """Add the views each call uses, made once: building a strided view costs more per call than
        copying a small layer's columns."""
        xp, cols = buffers["x"], buffers["cols"]
        dims, steps = self.row_dims(xp)
        _, sh, sw, sc = xp.strides
        if self.c >= TAPS_MAJOR_BELOW:
            shape, strides = (*dims, self.kh, self.kw * self.c), (*steps, sh, sc)
            buffers["taps"], buffers["lhs"] = cols[:, :-1].reshape(shape), cols
        else:
            shape, strides = (self.kh, self.kw, self.c, *dims), (sh, sw, sc, *steps)
            buffers["taps"], buffers["lhs"] = cols[:-1].reshape(shape), cols.T
        buffers["windows"] = as_strided(xp, shape, strides, writeable=False)
        if self.phases:
            buffers["phases"] = buffers["y"].reshape(self.phases**2, -1)
            buffers["pooled_flat"] = buffers["pooled"].reshape(-1)
        return buffers

    def input_view(self, buffers: Buffers) -> np.ndarray:
        p = self.padding
        return buffers["x"][:, p : p + self.h, p : p + self.w, :]

    def out_shape(self, n: int) -> tuple[int, ...]:
        return (n, self.ph, self.pw, self.f)

    def row_dims(self, xp: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Shape and strides (in ``xp``) of the product's rows: where each window starts."""
        n, s = xp.shape[0], self.stride
        sn, sh, sw, _ = xp.strides
        if self.phases:
            k = self.phases
            return (k, k, n, self.ph, self.pw), (sh * s, sw * s, sn, sh * s * k, sw * s * k)
        return (n, self.oh, self.ow), (sn, sh * s, sw * s)

    def gather(self, buffers: Buffers) -> Call:
        """Padded input -> the column buffer (all but its ones column), in one strided copy.

        Row-major columns take each window row as one run of ``KW*C`` floats; with few channels such
        runs are too short, and the columns are kept taps-major instead (``(taps + 1, rows)``, the GEMM
        reading them transposed), so that the copy's inner runs are long rows of output pixels."""
        return call(np.copyto, buffers["taps"], buffers["windows"])

    def product(self, buffers: Buffers, y: np.ndarray) -> Call:
        """Columns times the kernel matrix (bias included) into ``y`` ``(rows, F)``."""
        return call(np.dot, buffers["lhs"], self.kernel, out=y)

    def calls(self, buffers: Buffers, dst: np.ndarray) -> list[Call]:
        if self.pool is None:
            return [self.gather(buffers), *self._unpooled(buffers, dst)]
        y, pooled = buffers["y"], buffers["pooled"]
        if self.phases:
            pooling = max_of_phases(buffers["phases"], buffers["pooled_flat"])
        else:
            n, (k, s) = dst.shape[0], (self.pool.kernel, self.pool.stride)
            rows = pool_rows(y.reshape(n, self.oh, self.ow, self.f), k, s, buffers["rows"])
            pooling = rows + pool_columns(buffers["rows"], k, s, pooled)
        rectify = rectify_into(pooled, buffers["zeros"], self.relu, dst)
        return [self.gather(buffers), self.product(buffers, y), *pooling, *rectify]

    def _unpooled(self, buffers: Buffers, dst: np.ndarray) -> list[Call]:
        direct = dst.flags.c_contiguous
        y = dst.reshape(-1, self.f) if direct else buffers["y"]
        out = [self.product(buffers, y)]
        if self.relu:
            out.append(call(np.maximum, y, buffers["zeros"].reshape(y.shape), out=y))
        if not direct:
            out.append(call(np.copyto, dst, y.reshape(dst.shape)))
        return out

    def flops(self, n: int) -> int:
        return 2 * n * self.oh * self.ow * self.kh * self.kw * self.c * self.f


class LinearStep:
    """Linear ``(N, D) -> (N, F)`` with bias and ReLU fused; after Flatten, fed NHWC.

    A Flatten of NCHW activations orders features ``(c, h, w)``; here they arrive ``(h, w, c)``, so the
    weight's columns are permuted once, at compile time, instead of transposing every batch. The
    weight is kept as a contiguous ``(D, F)`` matrix; the product is written straight into ``dst``.
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray, in_chw: tuple[int, int, int] | None, relu: bool) -> None:
        f, d = (int(v) for v in weight.shape)
        self.name = f"linear {d}->{f}" + (" +relu" if relu else "")
        self.d, self.f, self.relu = d, f, relu
        self.in_chw = in_chw
        if in_chw is not None:
            c, h, w = in_chw
            weight = weight.reshape(f, c, h, w).transpose(0, 2, 3, 1).reshape(f, d)
        self.kernel = read_only(weight.T)  # (D, F)
        self.bias = read_only(bias)

    def allocate(self, n: int) -> Buffers:
        return {
            "x": np.empty((n, self.d), np.float32),
            "y": np.empty((n, self.f), np.float32),
            "zeros": np.zeros((n, self.f), np.float32),
        }

    def input_view(self, buffers: Buffers) -> np.ndarray:
        x = buffers["x"]
        if self.in_chw is None:
            return x
        c, h, w = self.in_chw
        return x.reshape(x.shape[0], h, w, c)

    def out_shape(self, n: int) -> tuple[int, ...]:
        return (n, self.f)

    def calls(self, buffers: Buffers, dst: np.ndarray) -> list[Call]:
        """The product, bias and ReLU into ``dst``. Two or three rows are multiplied one at a time: for
        so few rows OpenBLAS's matrix product takes a slower path than its matrix-vector product."""
        x = buffers["x"]
        y = dst if dst.flags.c_contiguous else buffers["y"]
        if 1 < len(x) < ROWS_BELOW:
            out = [call(np.dot, row, self.kernel, out=o) for row, o in zip(x, y, strict=True)]
        else:
            out = [call(np.dot, x, self.kernel, out=y)]
        out.append(call(np.add, y, self.bias, out=y))
        if self.relu:
            out.append(call(np.maximum, y, buffers["zeros"], out=y))
        if y is not dst:
            out.append(call(np.copyto, dst, y))
        return out

    def flops(self, n: int) -> int:
        return 2 * n * self.d * self.f
