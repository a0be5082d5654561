"""3x3 convolutions by Winograd's minimal filtering F(2x2, 3x3), as a fused NHWC inference step.

Each 2x2 block of output pixels is computed from the 4x4 input tile around it with 16 products per
channel pair instead of 36 (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
2015): the tile ``d`` becomes ``V = B^T d B``, the kernel ``g`` becomes ``U = G g G^T`` (made once),
the 16 positions are multiplied as 16 independent ``(tiles, C) @ (C, F)`` matrix products, and
``Y = A^T M A`` turns each product back into the 2x2 outputs (plus the bias: a row of biases under
``M`` and a column of ones beside ``A^T``'s, so the output transform's GEMM adds it).

All three stages are matrix products that NumPy hands to BLAS in one call each: the input and output
transforms act on the 16 (or 4) positions of a tile, so they are ``(16, 16) @ (16, tiles*C)`` and
``(4, 16) @ (16, tiles*F)`` products over blocks laid out position-major, and the tiles are gathered
by one strided copy from the zero-padded input buffer. The output comes out position-major too,
``(4, N*TH*TW*F)``, one contiguous block per output phase ``(i, j)``: a 2x2/2 max-pool is exactly the
maximum of the four blocks, so pooling needs no strided reads at all. ReLU follows on the pooled
quarter, against a preallocated zero block so that every elementwise operand is contiguous.

Rounding differs from the direct product (the transforms add and subtract inputs before the
multiplications); the compiler's tests hold it to 1e-5 of the plain forward.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .kernels import Buffers, Call, call, max_of_phases, rectify_into
from .module import read_only

BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)


def kernel_transform(weight: np.ndarray) -> np.ndarray:
    """``(F, C, 3, 3)`` -> ``(16, C, F)``: ``U = G g G^T`` for every channel pair, position-major."""
    u: np.ndarray = np.einsum("ak,fckl,bl->abcf", G, weight.astype(np.float64), G)
    return u.reshape(16, weight.shape[1], weight.shape[0])


class ConvWinograd:
    """3x3, stride 1, padding 1 convolution ``(N, H, W, C) -> (N, PH, PW, F)``; optional 2x2/2 max-pool
    (``H`` and ``W`` even) and ReLU fused, the bias added by the output transform's GEMM."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, in_hw: tuple[int, int], pool: bool, relu: bool) -> None:
        f, c, kh, kw = (int(v) for v in weight.shape)
        if (kh, kw) != (3, 3) or (pool and (in_hw[0] % 2 or in_hw[1] % 2)):
            raise ValueError("Winograd F(2x2, 3x3) takes 3x3 kernels (and even maps when pooling)")
        self.name = f"conv 3x3 {c}->{f} winograd" + (" +pool" if pool else "") + (" +relu" if relu else "")
        self.c, self.f, self.pool, self.relu = c, f, pool, relu
        self.h, self.w = in_hw
        self.th, self.tw = (self.h + 1) // 2, (self.w + 1) // 2  # tiles: 2x2 outputs each
        self.ph, self.pw = (self.h // 2, self.w // 2) if pool else (self.h, self.w)
        self.u = read_only(kernel_transform(weight))
        self.b16 = read_only(np.kron(BT, BT))  # (16, 16): V = b16 @ D over a tile's 16 positions
        # (4, 17): Y = a17 @ [M; bias row], the 2x2 outputs of each tile with the bias added by the GEMM
        self.a17 = read_only(np.hstack([np.kron(AT, AT), np.ones((4, 1))]))
        self.bias = read_only(bias)

    def allocate(self, n: int) -> Buffers:
        tiles = n * self.th * self.tw
        result = (n * self.ph * self.pw if self.pool else 4 * tiles) * self.f  # pooled, or all 4 phases
        buffers = {
            "x": np.zeros((n, 2 * self.th + 2, 2 * self.tw + 2, self.c), np.float32),
            "d": np.empty((16, tiles * self.c), np.float32),
            "v": np.empty((16, tiles * self.c), np.float32),
            "m": np.vstack([np.empty((16, tiles * self.f), np.float32), np.tile(self.bias, (1, tiles))]),
            "y": np.empty((4, tiles * self.f), np.float32),
            "zeros": np.zeros(result, np.float32),
        }
        if self.pool:
            buffers["pooled"] = np.empty(result, np.float32)
        return self.plan(buffers)

    def plan(self, buffers: Buffers) -> Buffers:
        """Add the views each call uses, made once (a strided view costs microseconds to build)."""
        xp = buffers["x"]
        sn, sh, sw, sc = xp.strides
        shape = (4, 4, xp.shape[0], self.th, self.tw, self.c)
        buffers["tiles"] = as_strided(xp, shape, (sh, sw, sn, 2 * sh, 2 * sw, sc), writeable=False)
        buffers["d_tiles"] = buffers["d"].reshape(shape)
        buffers["v_blocks"] = buffers["v"].reshape(16, -1, self.c)
        buffers["m_blocks"] = buffers["m"][:16].reshape(16, -1, self.f)
        return buffers

    def input_view(self, buffers: Buffers) -> np.ndarray:
        return buffers["x"][:, 1 : 1 + self.h, 1 : 1 + self.w, :]

    def out_shape(self, n: int) -> tuple[int, ...]:
        return (n, self.ph, self.pw, self.f)

    def gather(self, buffers: Buffers) -> Call:
        """The overlapping 4x4 tiles (stride 2) of the padded input -> ``d``, position-major."""
        return call(np.copyto, buffers["d_tiles"], buffers["tiles"])

    def calls(self, buffers: Buffers, dst: np.ndarray) -> list[Call]:
        y = buffers["y"]
        products = [
            call(np.dot, self.b16, buffers["d"], out=buffers["v"]),
            call(np.matmul, buffers["v_blocks"], self.u, out=buffers["m_blocks"]),
            call(np.dot, self.a17, buffers["m"], out=y),
        ]
        if self.pool:
            pooled = buffers["pooled"]
            pooling = max_of_phases(y, pooled) + rectify_into(pooled, buffers["zeros"], self.relu, dst)
            return [self.gather(buffers), *products, *pooling]
        flat = y.reshape(-1)
        rectify = [call(np.maximum, flat, buffers["zeros"], out=flat)] if self.relu else []
        return [self.gather(buffers), *products, *rectify, *self._scatter(y, dst)]

    def _scatter(self, y: np.ndarray, dst: np.ndarray) -> list[Call]:
        """The four output phases ``(4, N*TH*TW*F)`` -> their pixels of ``dst`` ``(N, H, W, F)``."""
        phases = y.reshape(2, 2, dst.shape[0], self.th, self.tw, self.f)
        out = []
        for i in range(2):
            for j in range(2):
                rows, cols = (self.h - i + 1) // 2, (self.w - j + 1) // 2  # outputs 2t+i < H
                out.append(call(np.copyto, dst[:, i::2, j::2], phases[i, j, :, :rows, :cols]))
        return out

    def flops(self, n: int) -> int:
        """The direct convolution's operations (so that GFLOP/s compare with the other steps)."""
        return 2 * n * self.h * self.w * 9 * self.c * self.f
