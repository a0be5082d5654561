"""Sequential, shape errors, BatchNorm statistics, Dropout, whole-network gradients."""

from __future__ import annotations

import numpy as np
import pytest

from model import (
    BatchNormalization,
    Conv2d,
    Dropout,
    Linear,
    MaxPool2d,
    Sequential,
    architectures,
    manual_seed,
)
from model.gradcheck import numerical_gradient, numerical_gradient_at, relative_error
from model.normalize import to_network_input


def test_small_network_trains_and_predicts() -> None:
    net = architectures.build("small")
    rng = np.random.default_rng(0)
    pixels = rng.random((4, 28, 28), dtype=np.float32)
    y = np.array([1, 2, 3, 4])
    net.train()
    loss = net.forward(to_network_input(pixels), y)
    assert np.isscalar(loss) and loss > 0
    net.backward()
    params = net.parameters()
    assert len(params) == 8
    for p in params:
        assert p.data.shape == p.grad.shape
        assert p.data.dtype == np.float32 and p.grad.dtype == np.float32
        assert np.any(p.grad != 0)
    probs = net.predict(pixels)
    assert net.training  # predict restores the mode
    assert probs.shape == (4, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(net.predict((pixels * 255).round().astype(np.uint8)).argmax(1), probs.argmax(1))


def test_predict_takes_pixels_not_normalized_input() -> None:
    net = architectures.build("small")
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\]"):
        net.predict(to_network_input(np.zeros((2, 28, 28), np.uint8)))


def test_old_architecture_name_is_refused_with_the_new_one() -> None:
    with pytest.raises(ValueError, match="'seed' was renamed 'small'"):
        architectures.build("seed")


@pytest.mark.parametrize(
    ("layer", "x", "message"),
    [
        (Conv2d(1, 8, 3), np.zeros((2, 3, 28, 28), np.float32), "Conv2d(in_channels=1"),
        (Conv2d(1, 8, 3), np.zeros((28, 28), np.float32), "(N, 1, H, W)"),
        (Linear(10, 5), np.zeros((2, 9), np.float32), "(N, 10)"),
        (MaxPool2d(2), np.zeros((2, 4), np.float32), "MaxPool2d"),
        (BatchNormalization(8), np.zeros((2, 4, 3, 3), np.float32), "(N, 8, H, W)"),
    ],
)
def test_wrong_shape_names_layer_and_expected_shape(layer, x: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        layer.forward(x)


def test_wrong_shape_inside_sequential() -> None:
    with pytest.raises(ValueError, match=r"Linear\(in_features=1568"):
        architectures.build("small").forward(np.zeros((2, 1, 20, 20), np.float32), np.array([0, 1]))


def test_batchnorm_running_statistics_and_eval_mode() -> None:
    bn = BatchNormalization(3, momentum=0.1)
    rng = np.random.default_rng(0)
    mean, std = np.array([1.0, -2.0, 0.5]), np.array([2.0, 0.5, 1.0])
    for _ in range(200):
        x = (rng.normal(size=(64, 3, 4, 4)) * std[None, :, None, None] + mean[None, :, None, None])
        out = bn.train().forward(x.astype(np.float32))
        # Training mode: every channel of the output is standardized with the batch statistics.
        np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
        np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-3)
    np.testing.assert_allclose(bn.named_arrays()["running_mean"], mean, atol=0.05)
    np.testing.assert_allclose(np.sqrt(bn.named_arrays()["running_var"]), std, atol=0.05)
    x = rng.normal(size=(5, 3, 2, 2)).astype(np.float32)
    rm, rv = bn.named_arrays()["running_mean"], bn.named_arrays()["running_var"]
    expected = (x - rm[None, :, None, None]) / np.sqrt(rv[None, :, None, None] + bn.eps)
    np.testing.assert_allclose(bn.eval().forward(x), expected, rtol=1e-5, atol=1e-5)


def test_batchnorm_running_variance_is_unbiased() -> None:
    bn = BatchNormalization(1, momentum=1.0)
    x = np.array([[1.0], [3.0]], np.float32)
    bn.train().forward(x)
    assert bn.named_arrays()["running_var"][0] == pytest.approx(2.0)  # biased would be 1.0


def test_dropout_is_inverted_and_identity_in_eval() -> None:
    drop = Dropout(p=0.25, rng=np.random.default_rng(0))
    x = np.ones((200, 500), np.float32)
    out = drop.train().forward(x)
    assert np.mean(out == 0) == pytest.approx(0.25, abs=0.01)
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}
    assert out.mean() == pytest.approx(1.0, abs=0.01)
    grad = drop.backward(np.ones_like(x))
    np.testing.assert_array_equal(grad, out)
    assert drop.eval().forward(x) is x


def test_whole_network_gradient() -> None:
    manual_seed(3)
    net = architectures.build("default").astype(np.float64)
    net.layers = [layer for layer in net.layers if not isinstance(layer, Dropout)]
    net = Sequential(net.layers).astype(np.float64).train()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 1, 28, 28)), np.array([3, 1, 4])
    net.zero_grad()
    net.forward(x, y)
    net.backward()
    # A handful of entries of parameters across depth: full numeric gradients are too slow for 459k weights.
    for p in (net.parameters()[0], net.parameters()[4], net.parameters()[-2]):
        entries = [tuple(int(i) for i in np.unravel_index(k, p.data.shape))
                   for k in rng.choice(p.data.size, size=6, replace=False)]
        numeric = numerical_gradient_at(lambda: net.forward(x, y), p.data, entries, h=1e-5)
        analytic = np.array([p.grad[i] for i in entries])
        assert relative_error(analytic, numeric) < 1e-5, p.name


def test_state_dict_round_trip_and_names() -> None:
    a, b = architectures.build("small"), architectures.build("small")
    state = a.state_dict()
    assert "0.weight" in state and "3.running_mean" in state and "8.bias" in state
    b.load_state_dict(state)
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, state[k])
    with pytest.raises(ValueError, match="missing"):
        b.load_state_dict({k: v for k, v in state.items() if k != "0.weight"})
    with pytest.raises(ValueError, match="expected shape"):
        b.load_state_dict({**state, "6.weight": np.zeros((3, 3), np.float32)})


def test_spec_rebuilds_the_same_architecture() -> None:
    net = architectures.build("default")
    rebuilt = Sequential.from_spec(net.spec())
    assert rebuilt.spec() == net.spec()
    assert rebuilt.num_parameters() == net.num_parameters()


def test_numerical_gradient_helper_on_a_known_function() -> None:
    x = np.array([1.0, -2.0, 3.0])
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x)
    assert relative_error(grad, 3 * np.array([1.0, 4.0, 9.0])) < 1e-8
