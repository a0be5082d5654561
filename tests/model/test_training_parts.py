"""Optimizers, schedules, batching, augmentation and metrics."""

from __future__ import annotations

import numpy as np
import pytest

from model import SGD, Adam, AdamW, Augment, DataGenerator, Parameter, Schedule, one_hot
from model.augment import BINARIZE_LEVELS, morph3x3, random_affine, random_binarize, random_stroke
from model.metrics import accuracy, classification_report, confusion_matrix, precision_recall_f1
from tests.helpers import sample_digits


# -- optimizers ---------------------------------------------------------------------------------------
def quadratic_step(opt_cls, steps: int = 300, **kw) -> np.ndarray:
    """Minimize ``sum((w - 3)^2)``; returns the final ``w``."""
    p = Parameter(np.zeros((2, 2), np.float64))
    opt = opt_cls([p], **kw)
    for _ in range(steps):
        p.grad = 2 * (p.data - 3)
        opt.step()
    return p.data


@pytest.mark.parametrize(
    ("cls", "kw"),
    [
        (SGD, {"lr": 0.1}),
        (SGD, {"lr": 0.05, "momentum": 0.9}),
        (SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
        (Adam, {"lr": 0.1}),
        (AdamW, {"lr": 0.1, "weight_decay": 0.0}),
    ],
)
def test_optimizers_minimize_a_quadratic(cls, kw) -> None:
    np.testing.assert_allclose(quadratic_step(cls, **kw), 3, atol=1e-2)


def test_sgd_nesterov_matches_pytorch_update_rule() -> None:
    # PyTorch: v = mu*v + g; step = g + mu*v (nesterov); w -= lr*step. Two steps by hand:
    p = Parameter(np.array([[1.0, 1.0]]))
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    p.grad = np.array([[1.0, 2.0]])
    opt.step()  # v = g; step = g + 0.9 g = 1.9 g
    np.testing.assert_allclose(p.data, [[1 - 0.19, 1 - 0.38]])
    p.grad = np.array([[1.0, 2.0]])
    opt.step()  # v = 1.9 g; step = g + 0.9*1.9 g = 2.71 g
    np.testing.assert_allclose(p.data, [[1 - 0.19 - 0.271, 1 - 0.38 - 0.542]])


def test_adam_first_step_is_lr_times_sign() -> None:
    p = Parameter(np.array([[0.5, -0.5, 2.0]]))
    opt = Adam([p], lr=0.01)
    p.grad = np.array([[3.0, -0.2, 1e-3]])
    opt.step()
    np.testing.assert_allclose(p.data, [[0.49, -0.49, 1.99]], atol=1e-6)


def test_weight_decay_coupled_vs_decoupled_and_not_on_biases() -> None:
    w, b = Parameter(np.ones((2, 2))), Parameter(np.ones(2))
    opt = AdamW([w, b], lr=0.1, weight_decay=0.5)
    w.grad, b.grad = np.zeros((2, 2)), np.zeros(2)
    opt.step()
    np.testing.assert_allclose(w.data, 1 - 0.1 * 0.5)  # decoupled: shrinks even with zero gradient
    np.testing.assert_allclose(b.data, 1.0)  # biases are not decayed
    w2 = Parameter(np.ones((2, 2)))
    sgd = SGD([w2], lr=0.1, weight_decay=0.5)
    w2.grad = np.zeros((2, 2))
    sgd.step()
    np.testing.assert_allclose(w2.data, 1 - 0.1 * 0.5)  # L2: gradient of 0.5*wd*w^2


def test_optimizer_state_round_trip() -> None:
    p = Parameter(np.ones(3))
    a = Adam([p], lr=0.1)
    p.grad = np.ones(3)
    a.step()
    b = Adam([Parameter(np.ones(3))], lr=0.1)
    b.load_state_dict(a.state_dict())
    assert b.step_count == 1
    np.testing.assert_array_equal(b.m[0], a.m[0])


# -- schedules ----------------------------------------------------------------------------------------
def test_cosine_with_warmup() -> None:
    s = Schedule("cosine", max_lr=1.0, total_steps=110, warmup_steps=10)
    assert s(0) == pytest.approx(0.1) and s(9) == pytest.approx(1.0)
    assert s(10) == pytest.approx(1.0)
    assert s(60) == pytest.approx(0.5)
    assert s(110) == pytest.approx(0.0, abs=1e-12)
    assert all(s(i) >= s(i + 1) for i in range(10, 110))


def test_step_and_onecycle() -> None:
    step = Schedule("step", max_lr=1.0, total_steps=100, step_size=30, gamma=0.1)
    assert [step(0), step(29), step(30), step(95)] == pytest.approx([1, 1, 0.1, 0.001])
    one = Schedule("onecycle", max_lr=1.0, total_steps=100, pct_start=0.3)
    assert one(0) == pytest.approx(1 / 25)
    assert one(30) == pytest.approx(1.0)
    assert max(one(i) for i in range(100)) == pytest.approx(1.0)
    assert one(99) < 1e-3
    with pytest.raises(ValueError, match="unknown schedule"):
        Schedule("linear", 1.0, 10)(0)


# -- batching -----------------------------------------------------------------------------------------
def test_data_generator_batches_seeded_shuffle_and_partial_batch() -> None:
    x, y = np.arange(10)[:, None], np.arange(10)
    gen = DataGenerator(x, y, batch_size=4, seed=7)
    batches = list(gen)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10))
    assert seen.tolist() != list(range(10))  # shuffled
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], yb)  # pairs stay together
    again = np.concatenate([b[1] for b in DataGenerator(x, y, batch_size=4, seed=7)])
    np.testing.assert_array_equal(seen, again)
    assert len(DataGenerator(x, y, batch_size=4, drop_last=True)) == 2
    second_epoch = np.concatenate([b[1] for b in gen])
    assert second_epoch.tolist() != seen.tolist()  # a new permutation each epoch


def test_one_hot() -> None:
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="labels must lie"):
        one_hot(np.array([3]), 3)


# -- augmentation -------------------------------------------------------------------------------------
def test_augment_identity_when_ranges_are_zero() -> None:
    x, _ = sample_digits()
    imgs = (x[:8, None] / 255).astype(np.float32)
    none = Augment(max_rotation_deg=0, scale_range=(1, 1), max_shear=0, max_shift_px=0, stroke_prob=0,
                   elastic_prob=0)
    np.testing.assert_allclose(none(imgs, np.random.default_rng(0)), imgs, atol=1e-6)


def test_augment_changes_digits_but_keeps_them_digits() -> None:
    x, y = sample_digits()
    imgs = (x[:256, None] / 255).astype(np.float32)
    out = Augment()(imgs, np.random.default_rng(0))
    asymmetric = np.isin(y[:256], [2, 3, 4, 5, 6, 7, 9])
    assert out.shape == imgs.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1 + 1e-6
    assert np.mean(np.abs(out - imgs)) > 0.02  # really transformed
    # Ink mass is roughly preserved (no digit wiped out or smeared over the frame).
    ratio = out.sum(axis=(1, 2, 3)) / imgs.sum(axis=(1, 2, 3))
    assert ratio.min() > 0.3 and ratio.max() < 3.0  # scaling 0.85-1.15 and thinning/thickening
    # Never flipped: an asymmetric digit correlates better with its original than with its mirror.
    corr = (out * imgs).sum(axis=(1, 2, 3))[asymmetric]
    mirrored = (out * imgs[..., ::-1]).sum(axis=(1, 2, 3))[asymmetric]
    assert np.mean(corr > mirrored) > 0.8
    assert corr.sum() > 1.2 * mirrored.sum()  # 2-pixel shifts blur overlap; a flip would give ~1
    np.testing.assert_array_equal(out, Augment()(imgs, np.random.default_rng(0)))  # seeded


def test_binarize_gives_hard_edges_to_the_asked_share_and_keeps_the_digit() -> None:
    x, _ = sample_digits()
    imgs = (x[:400] / 255).astype(np.float32)
    out = random_binarize(imgs, np.random.default_rng(0), 0.25)
    changed = np.any(out != imgs, axis=(1, 2))
    assert 0.18 < changed.mean() < 0.32
    assert set(np.unique(out[changed])) == {0.0, 1.0}  # 1-bit ink
    np.testing.assert_array_equal(out[~changed], imgs[~changed])
    # Each is thresholded between the levels: full ink stays ink, faint edges go.
    lo, hi = BINARIZE_LEVELS
    assert np.all(out[changed][imgs[changed] >= hi] == 1) and np.all(out[changed][imgs[changed] < lo] == 0)


def test_augment_without_binarizing_replays_the_random_stream_of_runs_before_it() -> None:
    """``binarize_prob=0`` (the default) draws nothing, so older recipes give the same weights."""
    x, _ = sample_digits()
    imgs = (x[:16, None] / 255).astype(np.float32)
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    cfg = Augment()
    out = cfg(imgs, a)
    before = random_stroke(random_affine(imgs[:, 0], b, cfg), b, cfg.stroke_prob)  # the pipeline before
    np.testing.assert_array_equal(out[:, 0], before)
    assert a.random() == b.random()


def test_stroke_dilation_thickens() -> None:
    img = np.zeros((1, 5, 5), np.float32)
    img[0, 2, 2] = 1
    assert morph3x3(img, np.maximum).sum() == 5  # a cross


# -- metrics ------------------------------------------------------------------------------------------
def test_metrics_on_a_known_example() -> None:
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    assert accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    cm = confusion_matrix(y_true, y_pred, 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    p, r, f, s = precision_recall_f1(cm)
    np.testing.assert_allclose(p, [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(r, [0.5, 1.0, 0.5])
    np.testing.assert_allclose(f, [0.5, 0.8, 2 / 3])
    np.testing.assert_array_equal(s, [2, 2, 2])
    report = classification_report(y_true, y_pred)
    assert "accuracy" in report and "0.6667" in report and "macro avg" in report


def test_elastic_field_is_smooth_and_of_the_asked_scale() -> None:
    from model.augment import elastic_field

    dr, dc = elastic_field(200, 28, 28, np.random.default_rng(0), alpha=30.0, sigma=5.0)
    assert dr.shape == dc.shape == (200, 28, 28)
    assert 0.3 < float(dr.std()) < 3.0  # pixels: a wobble, not a scramble
    # neighbouring pixels move together: the field is smooth
    assert float(np.abs(np.diff(dr, axis=2)).mean()) < 0.2 * float(np.abs(dr).mean())
