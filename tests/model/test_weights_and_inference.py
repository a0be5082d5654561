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
    Module,
    Schedule,
    Sequential,
    WeightsError,
    architectures,
    load,
    load_sequential,
    manual_seed,
    save,
)
from model.ema import ExponentialMovingAverage
from model.training import Trainer, evaluate
from tests.helpers import FULL_MNIST, sample_digits


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


@pytest.mark.parametrize("arch", ["small", "default", "deep"])
def test_inference_matches_eval_mode_predict(arch: str, tmp_path: Path) -> None:
    net = trained_like(arch)
    x, _ = sample_digits()
    save(net, tmp_path / "w.npz")
    inference = load(tmp_path / "w.npz", self_check=False)  # weights like trained ones, not trained
    expected = net.predict(x[:200])
    got = inference.predict(x[:200])
    assert got.dtype == np.float32 and got.shape == (200, 10)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # float input in [0, 1] reads like the uint8 pixels it came from (x / 255 and the uint8 path's
    # x * float32(1 / 255) differ in the last bit, which the network may carry to ~1e-6)
    np.testing.assert_allclose(inference.predict(x[:200].astype(np.float32) / 255), got, atol=2e-6)


def op_names(arch: str) -> list[str]:
    return [type(op).__name__ for op in InferenceNetwork.from_sequential(trained_like(arch)).ops]


def test_batchnorm_is_folded_dropout_and_loss_removed_and_pooling_before_relu() -> None:
    # Every BatchNorm folded into the conv/linear before it; max-pooling moved before ReLU.
    block = ["ConvOp", "MaxPoolOp", "ReLUOp"]
    assert op_names("default") == [*block, *block, "ConvOp", "ReLUOp", "FlattenOp", "LinearOp", "ReLUOp", "LinearOp"]
    # The small network's BatchNorm sits after pooling: folded forward into the first Linear.
    assert op_names("small") == [*block, "FlattenOp", "LinearOp", "ReLUOp", "LinearOp"]


def test_inference_holds_read_only_float32_copies() -> None:
    net = trained_like("default")
    ops = InferenceNetwork.from_sequential(net).ops
    arrays = [a for op in ops for a in vars(op).values() if isinstance(a, np.ndarray)]
    assert len(arrays) == 13  # weight, bias (and the kernel matrix) of 3 convolutions; weight and bias of 2 linears
    assert all(a.dtype == np.float32 and not a.flags.writeable for a in arrays)
    assert all(p.data.flags.writeable for p in net.parameters())  # the trainable network is untouched


def test_a_layer_without_an_inference_op_is_named() -> None:
    class Scale(Module):
        def forward(self, x: np.ndarray) -> np.ndarray:
            return 2 * x

    with pytest.raises(NotImplementedError, match="Scale does not say how it runs at inference"):
        InferenceNetwork.from_sequential(Sequential([Scale()]))


def test_inference_is_thread_safe(tmp_path: Path) -> None:
    save(trained_like("default"), tmp_path / "w.npz")
    net = load(tmp_path / "w.npz", self_check=False)
    x, _ = sample_digits()
    batches = [x[i : i + 4] for i in range(0, 64, 4)]
    serial = [net.predict(b) for b in batches]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(net.predict, batches))
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(a, b)


def test_metadata_contents(tmp_path: Path) -> None:
    meta = save(trained_like("small"), tmp_path / "w.npz", test_accuracy=0.5, history=[{"epoch": 1, "seconds": 2.0}])
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
    save(trained_like("small"), path)
    with pytest.raises(WeightsError, match="does not exist"):
        load(tmp_path / "missing.npz")
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="SHA-256"):
        load(path)
    # Metadata whose architecture does not fit the arrays.
    save(trained_like("small"), path)
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
    net = architectures.build("small")
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
    net = architectures.build("small")
    gen = DataGenerator(x[:800], y[:800], batch_size=50, seed=0)
    opt = Adam(net.parameters(), lr=2e-3)
    ckpt = tmp_path / "run.ckpt.npz"
    trainer = Trainer(net, opt, Schedule("constant", 2e-3, 64), gen, (x[800:], y[800:]), checkpoint=ckpt)
    state = trainer.fit(3, log=lambda _: None)
    assert [h.epoch for h in state.history] == [1, 2, 3]
    assert state.history[-1].val_accuracy > 0.8  # 800 digits, 3 epochs
    assert all(h.seconds > 0 for h in state.history)
    resumed = Trainer(architectures.build("small"), Adam(architectures.build("small").parameters(), lr=2e-3),
                      Schedule("constant", 2e-3, 64), DataGenerator(x[:800], y[:800], 50), (x[800:], y[800:]),
                      checkpoint=ckpt)
    assert resumed.load_checkpoint()
    assert resumed.state.epoch == 3 and resumed.state.best_epoch == state.best_epoch


def test_moving_average_follows_the_formula() -> None:
    manual_seed(0)
    net = architectures.build("small")
    start = {k: v.copy() for k, v in net.state_dict().items()}
    ema = ExponentialMovingAverage(net, decay=0.5)
    shifted = {k: v + 1.0 for k, v in start.items()}
    net.load_state_dict(shifted)
    ema.update(net)  # first step: d = min(0.5, 2 / 11)
    d = 2 / 11
    for k in start:
        np.testing.assert_allclose(ema.average[k], d * start[k] + (1 - d) * shifted[k], rtol=1e-6, atol=1e-6)
    for _ in range(50):
        ema.update(net)
    for k in start:  # a constant network: the average converges to it
        np.testing.assert_allclose(ema.average[k], shifted[k], atol=1e-6)
    with pytest.raises(ValueError, match="decay"):
        ExponentialMovingAverage(net, decay=1.0)


def test_training_with_a_moving_average_returns_and_resumes_the_average(tmp_path: Path) -> None:
    x, y = sample_digits()
    manual_seed(0)
    net = architectures.build("small")
    ema = ExponentialMovingAverage(net, decay=0.9)
    ckpt = tmp_path / "run.ckpt.npz"
    trainer = Trainer(net, Adam(net.parameters(), lr=2e-3), Schedule("constant", 2e-3, 64),
                      DataGenerator(x[:800], y[:800], batch_size=50, seed=0), (x[800:], y[800:]),
                      checkpoint=ckpt, ema=ema)
    state = trainer.fit(2, log=lambda _: None)
    assert ema.updates == 2 * 16
    with np.load(ckpt) as f:
        live = {k[4:]: f[k] for k in f.files if k.startswith("net.")}
    assert any(not np.array_equal(live[k], ema.average[k]) for k in live)  # the average is not the weights
    assert state.best_epoch == 2  # seeded: the average improves on epoch 1
    for k, v in net.state_dict().items():  # the result is the average...
        np.testing.assert_array_equal(v, ema.average[k])
    assert evaluate(net, x[800:], y[800:])[1] == state.history[-1].val_accuracy  # ...as validated
    fresh = architectures.build("small")
    resumed = Trainer(fresh, Adam(fresh.parameters(), lr=2e-3), Schedule("constant", 2e-3, 64),
                      DataGenerator(x[:800], y[:800], 50), (x[800:], y[800:]), checkpoint=ckpt,
                      ema=ExponentialMovingAverage(fresh, decay=0.9))
    assert resumed.load_checkpoint() and resumed.ema is not None and resumed.ema.updates == 32
    for k in ema.average:
        np.testing.assert_array_equal(resumed.ema.average[k], ema.average[k])
    plain = Trainer(fresh, Adam(fresh.parameters(), lr=2e-3), Schedule("constant", 2e-3, 64),
                    DataGenerator(x[:800], y[:800], 50), (x[800:], y[800:]), checkpoint=ckpt)
    assert plain.load_checkpoint()  # a run with an average resumes without one too


def test_shipped_weights_load_and_classify_the_sample() -> None:
    net = load()
    meta = net.metadata
    assert meta["sha256"] and meta["parameters"] > 0 and "test_accuracy" in meta
    x, y = sample_digits()
    digits, is_digit = net.classify(x)
    acc = float(np.mean(is_digit & (digits.argmax(axis=1) == y)))  # a refused digit counts as wrong
    assert acc >= 0.99, f"shipped weights classify only {acc:.2%} of the 1000-digit sample"
    assert 0 < net.reject_threshold < 1 and net.temperature > 0  # model.load() exposes the calibration


@pytest.mark.slow
@pytest.mark.skipif(not FULL_MNIST.exists(), reason=f"full MNIST not present at {FULL_MNIST}")
def test_shipped_weights_on_the_full_test_set() -> None:
    from model.data import load_mnist

    mnist = load_mnist(FULL_MNIST)
    net, meta = load_sequential()
    acc = float(np.mean(load().classify(mnist.x_test)[0].argmax(axis=1) == mnist.y_test))
    assert acc == pytest.approx(meta["test_accuracy"], abs=1e-4)
    assert acc >= 0.995
