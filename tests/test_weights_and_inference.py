"""The weights format, the compiled inference path, thread safety and reproducible training."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from model import (
    Adam,
    BatchNormalization,
    DataGenerator,
    InferenceNetwork,
    Schedule,
    WeightsError,
    architectures,
    load,
    load_sequential,
    manual_seed,
    save,
)
from model.inference import AffineOp, ConvOp, LinearOp
from model.normalize import to_network_input
from model.training import Trainer

from .helpers import FULL_MNIST, sample_digits


def trained_like(arch: str, seed: int = 0):
    """A network with random weights and non-trivial BatchNorm statistics, as after training."""
    manual_seed(seed)
    net = architectures.build(arch)
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        if isinstance(layer, BatchNormalization):
            c = layer.num_features
            layer.load_array("weight", rng.uniform(0.5, 1.5, c))
            layer.load_array("bias", rng.normal(0, 0.2, c))
            layer.load_array("running_mean", rng.normal(0, 0.5, c))
            layer.load_array("running_var", rng.uniform(0.5, 2, c))
    return net.eval()


@pytest.mark.parametrize("arch", ["seed", "default"])
def test_inference_matches_eval_mode_predict(arch: str, tmp_path: Path) -> None:
    net = trained_like(arch)
    x, _ = sample_digits()
    save(net, tmp_path / "w.npz")
    inference = load(tmp_path / "w.npz")
    expected = net.predict(to_network_input(x[:200]))
    got = inference.predict(x[:200])
    assert got.dtype == np.float32 and got.shape == (200, 10)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(inference.predict(x[:200].astype(np.float32) / 255), got, atol=1e-6)


def test_batchnorm_is_folded_and_dropout_removed() -> None:
    ops = InferenceNetwork.from_sequential(trained_like("default")).ops
    names = [type(op).__name__ for op in ops]
    assert "AffineOp" not in names and "Dropout" not in " ".join(names)
    assert sum(isinstance(op, ConvOp) for op in ops) == 3
    assert sum(isinstance(op, LinearOp) for op in ops) == 2
    assert names[:3] == ["ConvOp", "MaxPoolOp", "ReLUOp"]  # pooled before ReLU: same values, less work
    # The seed network's BatchNorm sits after pooling: folded forward into the first Linear.
    seed_ops = InferenceNetwork.from_sequential(trained_like("seed")).ops
    assert not any(isinstance(op, AffineOp) for op in seed_ops)
    for op in ops:
        for arr in vars(op).values():
            if isinstance(arr, np.ndarray):
                assert arr.dtype == np.float32 and not arr.flags.writeable


def test_inference_is_thread_safe(tmp_path: Path) -> None:
    save(trained_like("default"), tmp_path / "w.npz")
    net = load(tmp_path / "w.npz")
    x, _ = sample_digits()
    batches = [x[i : i + 7] for i in range(0, 280, 7)]
    serial = [net.predict(b) for b in batches]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(net.predict, batches))
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(a, b)


def test_metadata_contents(tmp_path: Path) -> None:
    meta = save(trained_like("seed"), tmp_path / "w.npz", test_accuracy=0.5, history=[{"epoch": 1, "seconds": 2.0}])
    on_disk = json.loads((tmp_path / "w.json").read_text())
    assert on_disk == json.loads(json.dumps(meta))
    for key in ("architecture", "normalization", "labels", "parameters", "sha256", "versions", "created"):
        assert key in on_disk
    assert on_disk["parameters"] == 202218
    assert on_disk["test_accuracy"] == 0.5 and on_disk["history"][0]["seconds"] == 2.0
    with np.load(tmp_path / "w.npz", allow_pickle=False) as f:
        assert "0.weight" in f.files


def test_corrupt_or_mismatched_weights_fail_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    save(trained_like("seed"), path)
    with pytest.raises(WeightsError, match="does not exist"):
        load(tmp_path / "missing.npz")
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="SHA-256"):
        load(path)
    # Metadata whose architecture does not fit the arrays.
    save(trained_like("seed"), path)
    meta = json.loads((tmp_path / "w.json").read_text())
    meta["architecture"]["layers"][6]["out_features"] = 64
    (tmp_path / "w.json").write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match="expected shape"):
        load(path)
    (tmp_path / "w.json").unlink()
    with pytest.raises(WeightsError, match="metadata"):
        load(path)


def small_training_run(seed: int) -> dict[str, np.ndarray]:
    x, y = sample_digits()
    manual_seed(seed)
    net = architectures.build("seed")
    gen = DataGenerator(x[:256], y[:256], batch_size=64, seed=seed)
    opt = Adam(net.parameters(), lr=1e-3)
    trainer = Trainer(net, opt, Schedule("constant", 1e-3, 8), gen, (x[900:], y[900:]), seed=seed)
    trainer.fit(2, log=lambda _: None)
    return net.state_dict()


def test_same_seed_same_weights() -> None:
    a, b, c = small_training_run(5), small_training_run(5), small_training_run(6)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_training_learns_and_checkpoints_resume(tmp_path: Path) -> None:
    x, y = sample_digits()
    manual_seed(0)
    net = architectures.build("seed")
    gen = DataGenerator(x[:800], y[:800], batch_size=50, seed=0)
    opt = Adam(net.parameters(), lr=2e-3)
    ckpt = tmp_path / "run.ckpt.npz"
    trainer = Trainer(net, opt, Schedule("constant", 2e-3, 64), gen, (x[800:], y[800:]), checkpoint=ckpt)
    state = trainer.fit(3, log=lambda _: None)
    assert [h.epoch for h in state.history] == [1, 2, 3]
    assert state.history[-1].val_accuracy > 0.8  # 800 digits, 3 epochs
    assert all(h.seconds > 0 for h in state.history)
    resumed = Trainer(architectures.build("seed"), Adam(architectures.build("seed").parameters(), lr=2e-3),
                      Schedule("constant", 2e-3, 64), DataGenerator(x[:800], y[:800], 50), (x[800:], y[800:]),
                      checkpoint=ckpt)
    assert resumed.load_checkpoint()
    assert resumed.state.epoch == 3 and resumed.state.best_epoch == state.best_epoch


def test_shipped_weights_load_and_classify_the_sample() -> None:
    net = load()
    meta = net.metadata
    assert meta["sha256"] and meta["parameters"] > 0 and "test_accuracy" in meta
    x, y = sample_digits()
    acc = float(np.mean(net.predict(x).argmax(axis=1) == y))
    assert acc >= 0.99, f"shipped weights classify only {acc:.2%} of the 1000-digit sample"


@pytest.mark.skipif(not FULL_MNIST.exists(), reason=f"full MNIST not present at {FULL_MNIST}")
def test_shipped_weights_on_the_full_test_set() -> None:
    from model.data import load_mnist

    mnist = load_mnist(FULL_MNIST)
    net, meta = load_sequential()
    acc = float(np.mean(load().predict(mnist.x_test).argmax(axis=1) == mnist.y_test))
    assert acc == pytest.approx(meta["test_accuracy"], abs=1e-4)
    assert acc >= 0.995
