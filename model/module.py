"""Base class of every layer: parameters, buffers, train/eval mode, state_dict and the layer spec."""

from __future__ import annotations

from typing import Any, Protocol, Self

import numpy as np

from .parameter import Parameter


class Op(Protocol):
    """A layer at inference: a stateless function of the batch, safe to call from many threads."""

    def __call__(self, x: np.ndarray) -> np.ndarray: ...


def read_only(a: np.ndarray) -> np.ndarray:
    """A C-contiguous, read-only float32 copy of ``a``: what inference ops hold (never the layer's own
    arrays, which keep training)."""
    out = np.array(a, dtype=np.float32, order="C", copy=True)
    out.flags.writeable = False
    return out


class Module:
    """A layer with a ``forward``/``backward`` pair over a cache kept on the instance.

    Subclasses register trainable arrays in ``self._params`` and non-trainable state (BatchNorm's running
    statistics) in ``self._buffers``; ``spec()`` returns the constructor arguments, which is what the
    weights file stores to rebuild the layer; ``inference_op()`` says how the layer runs at inference.
    """

    needs_input_grad: bool = True

    def __init__(self) -> None:
        self.training = True
        self._params: dict[str, Parameter] = {}
        self._buffers: dict[str, np.ndarray] = {}

    # -- mode -----------------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Self:
        self.training = mode
        return self

    def eval(self) -> Self:
        return self.train(False)

    # -- computation ----------------------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def inference_op(self) -> Op | None:
        """The eval-mode layer as a stateless :class:`Op` holding :func:`read_only` copies of its
        arrays, or None for a layer that vanishes at inference (Dropout, the loss)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not say how it runs at inference: define its inference_op()"
        )

    # -- state ----------------------------------------------------------------------------------------
    def parameters(self) -> list[Parameter]:
        return list(self._params.values())

    def named_arrays(self) -> dict[str, np.ndarray]:
        """Parameters then buffers, by local name (``weight``, ``bias``, ``running_mean``...)."""
        arrays = {name: p.data for name, p in self._params.items()}
        arrays.update(self._buffers)
        return arrays

    def load_array(self, name: str, value: np.ndarray) -> None:
        """Replace one parameter or buffer, keeping its dtype; the shape must match."""
        current = self.named_arrays()[name]
        if value.shape != current.shape:
            raise ValueError(
                f"{type(self).__name__}.{name}: expected shape {current.shape}, got {value.shape}"
            )
        if name in self._params:
            self._params[name].data = value.astype(current.dtype, copy=True)
            self._params[name].grad = np.zeros_like(self._params[name].data)
        else:
            self._buffers[name] = value.astype(current.dtype, copy=True)

    def astype(self, dtype: np.dtype | type) -> Self:
        """Cast parameters and buffers (float64 for gradient checks; float32 otherwise)."""
        for p in self._params.values():
            p.data = p.data.astype(dtype)
            p.grad = np.zeros_like(p.data)
        for name, buf in self._buffers.items():
            self._buffers[name] = buf.astype(dtype)
        return self

    def spec(self) -> dict[str, Any]:
        """Constructor arguments as JSON-friendly values."""
        return {}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.spec().items())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


def check_input(layer: Module, x: np.ndarray, expected: str, ndim: int, **dims: int) -> None:
    """Raise ``ValueError`` naming the layer and the expected shape when ``x`` does not fit.

    ``dims`` maps axis index (as ``"axis1"``) to the required length, e.g. ``axis1=3`` for 3 channels.
    """
    bad = x.ndim != ndim or any(x.shape[int(k[4:])] != v for k, v in dims.items())
    if bad:
        raise ValueError(f"{layer!r} expects input of shape {expected}, got {tuple(x.shape)}")
