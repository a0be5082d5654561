"""``Sequential``: a stack of layers trained end to end, ending (optionally) in a loss layer."""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from .layers import LAYERS, SoftmaxWithCrossEntropyLoss
from .layers.loss import softmax
from .module import Module
from .normalize import to_network_input
from .parameter import Parameter


class Sequential(Module):
    """``Sequential([layer, ...])``.

    ``forward(x, y)`` takes normalized ``(N, 1, 28, 28)`` input (``model.normalize.to_network_input``)
    and returns the scalar loss when the last layer is a loss and labels are given, else the output of
    the last layer; ``backward()`` then fills every parameter's ``grad``. ``predict(images)`` takes
    pixels, like ``InferenceNetwork.predict``, and returns ``(N, K)`` class probabilities computed in
    eval mode (the mode is restored after).
    Parameter and buffer names follow PyTorch: ``"<index>.<name>"``, e.g. ``"0.weight"``.
    """

    def __init__(self, layers: list[Module]) -> None:
        super().__init__()
        self.layers = list(layers)
        if self.layers:
            self.layers[0].needs_input_grad = False  # nothing upstream of the first layer learns

    # -- mode -----------------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Self:
        self.training = mode
        for layer in self.layers:
            layer.train(mode)
        return self

    # -- computation ----------------------------------------------------------------------------------
    @property
    def loss_layer(self) -> SoftmaxWithCrossEntropyLoss | None:
        last = self.layers[-1] if self.layers else None
        return last if isinstance(last, SoftmaxWithCrossEntropyLoss) else None

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Output of every layer but the loss: ``(N, K)`` scores."""
        body = self.layers[:-1] if self.loss_layer else self.layers
        for layer in body:
            x = layer.forward(x)
        return x

    def loss(self, logits: np.ndarray, labels: np.ndarray) -> float:
        """Mean loss of ``(N, K)`` logits (from :meth:`logits`) against ``(N,)`` integer labels; then
        :meth:`backward` fills the gradients."""
        if self.loss_layer is None:
            raise ValueError("Sequential.loss needs a network whose last layer is a loss")
        return float(self.loss_layer.forward(logits, labels))

    def forward(self, x: np.ndarray, y: np.ndarray | None = None) -> Any:
        out = self.logits(x)
        if self.loss_layer is None:
            return out
        return self.loss_layer.forward(out, y)

    def backward(self, dout: np.ndarray | None = None) -> np.ndarray | None:  # type: ignore[override]
        """Backpropagate from the loss (or from ``dout`` when the network has no loss layer)."""
        grad: np.ndarray | None = dout
        layers = self.layers
        if self.loss_layer is not None:
            grad = self.loss_layer.backward()
            layers = layers[:-1]
        elif grad is None:
            raise ValueError("Sequential.backward needs dout when the last layer is not a loss")
        for layer in reversed(layers):
            grad = layer.backward(grad)
        return grad

    def predict(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """``(N, 28, 28)`` uint8 pixels (white ink on black) or float in ``[0, 1]``, or the same with a
        channel axis -> ``(N, K)`` probabilities, computed in eval mode."""
        x = to_network_input(images)
        was_training = self.training
        self.eval()
        try:
            parts = [softmax(self.logits(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        finally:
            self.train(was_training)
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)

    # -- state ----------------------------------------------------------------------------------------
    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def num_parameters(self) -> int:
        return int(sum(p.data.size for p in self.parameters()))

    def state_dict(self) -> dict[str, np.ndarray]:
        return {
            f"{i}.{name}": arr
            for i, layer in enumerate(self.layers)
            for name, arr in layer.named_arrays().items()
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Load arrays by name; missing, unexpected or misshapen entries raise ``ValueError``."""
        expected = self.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing or unexpected:
            raise ValueError(f"state_dict mismatch: missing {missing}, unexpected {unexpected}")
        for key, value in state.items():
            index, name = key.split(".", 1)
            self.layers[int(index)].load_array(name, np.asarray(value))

    def astype(self, dtype: np.dtype | type) -> Self:
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def spec(self) -> dict[str, Any]:
        return {"layers": [{"type": type(layer).__name__, **layer.spec()} for layer in self.layers]}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Sequential:
        """Rebuild a network from :meth:`spec` output (as stored in a weights file's metadata)."""
        layers = []
        for entry in spec["layers"]:
            args = dict(entry)
            kind = args.pop("type")
            if kind not in LAYERS:
                raise ValueError(f"unknown layer type {kind!r}; known: {sorted(LAYERS)}")
            layers.append(LAYERS[kind](**args))
        return cls(layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"
