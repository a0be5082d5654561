"""Every layer's backward pass against central finite differences, in float64.

The scalar checked is ``sum(forward(x) * w)`` for a fixed random ``w``, whose gradient with respect to
the output is ``w``; so each test checks ``backward(w)`` for the input and for every parameter.
"""

from __future__ import annotations

import numpy as np
import pytest

from model import BatchNormalization, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU
from model.gradcheck import numerical_gradient, relative_error
from model.layers import LAYERS
from model.layers.loss import SoftmaxWithCrossEntropyLoss
from model.module import Module

TOL = 1e-6


def check_layer(layer: Module, x: np.ndarray, seed: int = 0) -> None:
    """Assert the analytic input and parameter gradients of ``layer`` at ``x`` match numeric ones."""
    layer.astype(np.float64).train()
    out = layer.forward(x)
    w = np.random.default_rng(seed).normal(size=out.shape)

    def f() -> float:
        return float(np.sum(layer.forward(x) * w))

    for p in layer.parameters():
        p.zero_grad()
    layer.forward(x)
    dx = layer.backward(w)
    analytic = [p.grad.copy() for p in layer.parameters()]
    assert dx.shape == x.shape
    assert relative_error(dx, numerical_gradient(f, x)) < TOL, "input gradient"
    for p, grad in zip(layer.parameters(), analytic, strict=True):
        err = relative_error(grad, numerical_gradient(f, p.data))
        assert err < TOL, f"{p.name} gradient: relative error {err:.2e}"


def rand(*shape: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize(
    ("c_in", "c_out", "k", "stride", "padding", "h", "w"),
    [
        (1, 2, 3, 1, 0, 5, 5),
        (2, 3, 3, 1, 1, 5, 7),  # non-square
        (3, 2, 3, 2, 1, 7, 6),  # stride 2
        (2, 2, 2, 2, 0, 6, 4),
        (2, 4, 5, 1, 2, 6, 5),  # padding 2
        (3, 2, 3, 2, 2, 5, 8),
    ],
)
def test_conv2d(c_in: int, c_out: int, k: int, stride: int, padding: int, h: int, w: int) -> None:
    layer = Conv2d(c_in, c_out, kernel_size=k, stride=stride, padding=padding)
    layer.load_array("bias", rand(c_out, seed=3))
    check_layer(layer, rand(2, c_in, h, w))


def test_conv2d_without_bias() -> None:
    check_layer(Conv2d(2, 3, kernel_size=3, padding=1, bias=False), rand(2, 2, 4, 5))


@pytest.mark.parametrize(
    ("k", "stride", "h", "w"), [(2, 2, 6, 6), (2, 2, 7, 5), (3, 2, 7, 7), (3, 1, 5, 6), (2, 1, 4, 5)]
)
def test_maxpool2d(k: int, stride: int, h: int, w: int) -> None:
    # Distinct values: the max of each window is unique, so the gradient is well defined.
    x = np.random.default_rng(0).permutation(2 * 3 * h * w).reshape(2, 3, h, w).astype(np.float64) / 7
    check_layer(MaxPool2d(k, stride), x)


def test_maxpool2d_ties_go_to_the_first_maximum() -> None:
    pool = MaxPool2d(2).train()
    pool.forward(np.zeros((1, 1, 2, 2)))
    dx = pool.backward(np.ones((1, 1, 1, 1)))
    assert dx.tolist() == [[[[1.0, 0.0], [0.0, 0.0]]]]


def test_relu() -> None:
    x = rand(3, 4, 5)
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink
    check_layer(ReLU(), x)


@pytest.mark.parametrize("shape", [(6, 4), (4, 3, 5, 6)])
def test_batchnorm_training_mode(shape: tuple[int, ...]) -> None:
    layer = BatchNormalization(shape[1])
    layer.load_array("weight", rand(shape[1], seed=4))
    layer.load_array("bias", rand(shape[1], seed=5))
    check_layer(layer, rand(*shape) * 3 + 1)


def test_linear() -> None:
    check_layer(Linear(7, 5), rand(4, 7))


def test_flatten() -> None:
    check_layer(Flatten(), rand(2, 3, 4, 5))


def test_dropout_with_fixed_mask() -> None:
    layer = Dropout(p=0.4, rng=np.random.default_rng(0))
    x = rand(5, 8)
    # Same generator state for every forward: the mask is a constant of the check.
    state = layer.rng.bit_generator.state  # type: ignore[union-attr]

    def fixed_forward(v: np.ndarray, orig=layer.forward) -> np.ndarray:
        layer.rng.bit_generator.state = state  # type: ignore[union-attr]
        return orig(v)

    layer.forward = fixed_forward  # type: ignore[method-assign]
    check_layer(layer, x)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_cross_entropy(smoothing: float) -> None:
    loss = SoftmaxWithCrossEntropyLoss(label_smoothing=smoothing)
    logits = rand(6, 10) * 3
    labels = np.array([0, 3, 9, 3, 5, 1])
    loss.forward(logits, labels)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(logits, labels), logits)
    assert relative_error(analytic, numeric) < TOL


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_cross_entropy_with_soft_labels(smoothing: float) -> None:
    loss = SoftmaxWithCrossEntropyLoss(label_smoothing=smoothing)
    logits = rand(6, 10) * 3
    soft = np.exp(rand(6, 10))
    soft /= soft.sum(axis=1, keepdims=True)
    loss.forward(logits, soft)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(logits, soft), logits)
    assert relative_error(analytic, numeric) < TOL
    labels = np.array([0, 3, 9, 3, 5, 1])  # one-hot rows give the integer labels' loss
    one_hot = np.eye(10)[labels]
    assert loss.forward(logits, one_hot) == pytest.approx(loss.forward(logits, labels))


# The layers checked above, by class name. A new layer in model/layers/ must be added to
# model.layers.LAYERS (the next test finds it if not), and this test asks for its gradient check here.
CHECKED = {"Conv2d", "MaxPool2d", "ReLU", "BatchNormalization", "Linear", "Flatten", "Dropout",
           "SoftmaxWithCrossEntropyLoss"}


def test_every_layer_has_a_gradient_check() -> None:
    assert set(LAYERS) == CHECKED, f"layers without a gradient check here: {sorted(set(LAYERS) - CHECKED)}"


def test_every_layer_class_in_the_package_is_registered() -> None:
    import importlib
    import pkgutil

    import model.layers as package
    from model.module import Module

    defined = {
        value.__name__
        for info in pkgutil.iter_modules(package.__path__)
        for value in vars(importlib.import_module(f"model.layers.{info.name}")).values()
        if isinstance(value, type) and issubclass(value, Module) and value.__module__ == f"model.layers.{info.name}"
    }
    assert defined == set(LAYERS)
