"""Look inside, from Python: ``model.load().explain`` reads as ``predict`` does, its input gradient is the
true gradient, and its heatmaps show where the network looked (the deletion test) for the digit asked."""

from __future__ import annotations

import numpy as np
import pytest

from model import Dropout, InferenceNetwork, Sequential, load, load_sequential
from model.explain import Explainer
from model.faithfulness import correlation, deletion_wins, margins
from model.gradcheck import numerical_gradient_at, relative_error
from model.module import Module
from model.normalize import to_network_input
from model.recipe import preprocess
from model.tape import step_of
from scripts.drawn_sets import canvas_digit, pen_digit
from tests.helpers import sample_digits

DRAWN = 60  # drawn digits for the deletion and specificity tests (30 pen strokes, 30 canvases)


@pytest.fixture(scope="module")
def net() -> InferenceNetwork:
    return load()


@pytest.fixture(scope="module")
def drawn() -> tuple[np.ndarray, np.ndarray]:
    """Digits drawn from the MNIST sample as clients send them (pen strokes and canvases, every style and
    format), through the service's preprocessing: ``(DRAWN, 28, 28)`` uint8 and their labels."""
    x, y = sample_digits()
    rng = np.random.default_rng(29)
    idx = rng.choice(len(x), DRAWN, replace=False)
    makers = (pen_digit, canvas_digit)
    samples = [makers[k % 2](x[i], int(y[i]), rng) for k, i in enumerate(idx)]
    return np.stack([preprocess(s.data) for s in samples]), y[idx]


def test_the_reading_is_the_inference_paths(net: InferenceNetwork, drawn: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = drawn
    x = np.concatenate([x, sample_digits()[0][:40]])
    e = net.explain(x)
    assert np.abs(e.probabilities - net.predict(x)).max() < 1e-4
    digit_probs, is_digit = net.classify(x)  # with the second look at unsure digits
    assert np.abs(e.digit_probabilities - digit_probs).max() < 1e-4
    assert (e.is_digit == is_digit).all()
    assert (e.targets == digit_probs.argmax(axis=1)).all()
    assert e.inputs.shape == (len(x), 28, 28) and np.allclose(e.inputs * 255, x, atol=1e-3)


def test_heatmaps_and_layers_have_their_shapes(net: InferenceNetwork) -> None:
    x = sample_digits()[0][:3]
    e = net.explain(x, target=4)
    assert e.heatmaps.shape == (3, 28, 28) and e.heatmaps.dtype == np.float32
    assert (e.heatmaps >= 0).all() and np.allclose(e.heatmaps.max(axis=(1, 2)), 1)
    assert (e.targets == 4).all()
    shown = [(layer.name, layer.shape) for layer in e.layers]
    assert shown == [("conv1", (32, 28, 28)), ("conv2", (64, 14, 14)), ("conv3", (64, 7, 7)), ("dense", (128,))]
    assert all(layer.values.shape[0] == 3 and (layer.values >= 0).all() for layer in e.layers)
    # A blank image: no ink speaks for anything, the map is all 0 rather than noise scaled up.
    blank = net.explain(np.zeros((1, 28, 28), np.uint8))
    assert blank.heatmaps.max() == 0


@pytest.mark.parametrize("target", [-1, 10, 3.5, "7"])
def test_a_target_that_is_not_a_digit_is_refused(net: InferenceNetwork, target: object) -> None:
    with pytest.raises(ValueError, match="0-9"):
        net.explain(sample_digits()[0][:1], target=target)  # type: ignore[arg-type]


def test_input_gradient_matches_finite_differences() -> None:
    """The explainer's backward pass, in float64, against central differences of ``log p_t`` at pixels
    on and off the ink, for the digit read and another. A little noise is added to the digits first: the
    background's equal values tie in max-pooling, where the function has a kink (no derivative)."""
    seq, meta = load_sequential()
    ex = Explainer.from_sequential(seq.astype(np.float64), meta)
    x = to_network_input(sample_digits()[0][:2]).astype(np.float64)
    x += np.random.default_rng(1).normal(0, 0.01, x.shape)
    targets = np.array([7, 3])

    def score() -> float:
        logits, _, _ = ex.forward(x)
        z = logits / ex.temperature
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(logp[np.arange(2), targets].sum())

    analytic = ex.input_gradient(x, targets)
    assert analytic.dtype == np.float64 and analytic.shape == x.shape
    rng = np.random.default_rng(0)
    ink = [tuple(int(v) for v in i) for i in np.argwhere(x[:, 0] > 0.5)]
    picks = [ink[k] for k in rng.choice(len(ink), 12, replace=False)] + [(0, 3, 3), (1, 27, 0), (0, 14, 2)]
    indices = [(n, 0, r, c) for n, r, c in picks]
    numeric = numerical_gradient_at(score, x, indices)
    exact = np.array([analytic[i] for i in indices])
    assert np.abs(exact).max() > 1e-3  # a check of something, not of zeros
    assert relative_error(exact, numeric) < 1e-5


def test_heatmaps_pass_the_deletion_test(net: InferenceNetwork, drawn: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = drawn
    e = net.explain(x)

    def logits(images: np.ndarray) -> np.ndarray:
        return net.logits(to_network_input(images))

    wins = deletion_wins(logits, x, e.heatmaps, e.targets)
    random_maps = np.random.default_rng(1).random(x.shape)
    by_chance = deletion_wins(logits, x, random_maps, e.targets)
    print(f"deletion test on {len(x)} drawn digits: heatmaps win {wins.mean():.1%}, random maps {by_chance.mean():.1%}")
    assert wins.mean() >= 0.75
    assert by_chance.mean() < 0.75  # the test can fail: a map that knows nothing does


def test_the_runner_up_gets_its_own_heatmap(net: InferenceNetwork, drawn: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = drawn
    read = net.explain(x)
    runner_up = np.argsort(-read.digit_probabilities, axis=1)[:, 1]
    other = net.explain(x, target=runner_up)
    assert (other.targets == runner_up).all()
    similarity = correlation(read.heatmaps, other.heatmaps)
    ink = correlation(x.astype(np.float32), x.astype(np.float32))
    print(f"mean correlation, runner-up vs digit read: {similarity.mean():.3f} (ink vs itself {ink.mean():.3f})")
    assert similarity.mean() < 0.8
    assert np.allclose(ink, 1)  # the measure tells the same picture


def test_margins_and_correlation() -> None:
    logits = np.array([[3.0, 1.0, 2.5], [0.0, 4.0, -1.0]])
    assert np.allclose(margins(logits, np.array([0, 0])), [0.5, -4.0])
    a = np.random.default_rng(0).random((2, 5, 5))
    assert np.allclose(correlation(a, a), 1) and np.allclose(correlation(a, -a), -1)
    assert correlation(np.zeros((1, 5, 5)), a[:1])[0] == 0


def test_steps_hold_copies_and_unknown_layers_are_refused() -> None:
    seq, meta = load_sequential()
    ex = Explainer.from_sequential(seq, meta)
    before = ex.explain(sample_digits()[0][:1]).probabilities
    for p in seq.parameters():
        p.data[...] = 0  # training on after the explainer was made does not change it
    assert np.array_equal(ex.explain(sample_digits()[0][:1]).probabilities, before)
    assert step_of(Dropout(0.5)) is None

    class Mystery(Module):
        pass

    with pytest.raises(TypeError, match="Mystery"):
        Explainer.from_sequential(Sequential([Mystery()]))
