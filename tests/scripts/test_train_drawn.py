"""train.py with drawn digits and non-digits: an 11th output, calibration in the metadata, a run folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model import load
from scripts import drawn_sets, train
from tests.helpers import ROOT, sample_digits


def test_drawn_training_adds_a_refusal_output_and_calibrates(tmp_path: Path) -> None:
    x, y = sample_digits()
    data = tmp_path / "mnist.npz"
    np.savez(data, x_train=x[:600], y_train=y[:600], x_test=x[600:800], y_test=y[600:800])
    shipped = (ROOT / "weights" / "default.npz").read_bytes()
    run = tmp_path / "run"
    args = ["--arch", "small", "--epochs", "1", "--data", str(data), "--no-verify", "--val-size", "100",
            "--drawn", "12", "--number-parts", "0", "--finish-epochs", "1", "--run-dir", str(run)]
    assert train.main(args) == 0
    assert (ROOT / "weights" / "default.npz").read_bytes() == shipped  # nothing exported unless asked
    version = drawn_sets.pool_version()
    assert sorted(p.name for p in run.iterdir() if p.suffix == ".npz") == [
        "checkpoint.npz", "finish-checkpoint.npz", f"pool-12-seed0-n500-{version}.npz", "small.npz",
        f"val-12-seed7-n100-{version}.npz"]
    meta = json.loads((run / "small.json").read_text())
    assert meta["labels"][-1] == "not a digit" and len(meta["labels"]) == 11
    assert set(meta["calibration"]) >= {"temperature", "reject_threshold"}
    net = load(run / "small.npz", self_check=False)  # one epoch: not yet a network that passes
    assert net.temperature == meta["calibration"]["temperature"]
    assert net.reject_threshold == meta["calibration"]["reject_threshold"]
    assert net.predict(x[:3]).shape == (3, 11) and net.classify(x[:3])[0].shape == (3, 10)
    # the pool is cached: a second run reuses it (same files, no regeneration)
    before = (run / f"pool-12-seed0-n500-{version}.npz").stat().st_mtime_ns
    assert train.main(args) == 0
    assert (run / f"pool-12-seed0-n500-{version}.npz").stat().st_mtime_ns == before
    # candidate parts of generated numbers join the pool, cached under their own name
    assert train.main([*args, "--number-parts", "8"]) == 0
    with np.load(run / f"pool-12-parts8-seed0-n500-{version}.npz") as f:
        assert (f["kind"] == "number-part").sum() == 8 and len(f["x"]) == len(f["kind"])


def test_the_finish_trains_under_light_augmentation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from model.augment import LIGHT, Augment
    from model.training import Trainer

    calls: list[tuple[float, int]] = []  # (rotation range, images) of each augmented batch
    real = Augment.__call__

    def counting(self: Augment, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        calls.append((self.max_rotation_deg, len(x)))
        return real(self, x, rng)

    monkeypatch.setattr(Augment, "__call__", counting)
    x, y = sample_digits()
    data = tmp_path / "mnist.npz"
    np.savez(data, x_train=x[:600], y_train=y[:600], x_test=x[600:800], y_test=y[600:800])
    run = tmp_path / "run"
    args = ["--arch", "small", "--epochs", "1", "--data", str(data), "--no-verify", "--val-size", "100",
            "--drawn", "12", "--number-parts", "0", "--finish-epochs", "2", "--run-dir", str(run)]
    assert train.main(args) == 0
    seen = 500 + 3 * 12  # training digits and the drawn pool: one epoch's images
    by_range = {r: sum(n for rr, n in calls if rr == r) for r, _ in calls}
    assert by_range == {Augment().max_rotation_deg: seen, LIGHT.max_rotation_deg: 2 * seen}
    assert LIGHT.max_rotation_deg < Augment().max_rotation_deg and LIGHT.max_shift_px < Augment().max_shift_px
    meta = json.loads((run / "small.json").read_text())
    assert [h["epoch"] for h in meta["history"]] == [1, 1, 2]  # the main run's epoch, then the finish's
    assert 0 <= meta["history"][2]["lr"] < meta["history"][1]["lr"] <= 3e-4  # from --finish-lr, decaying
    assert meta["training"]["finish_best_epoch"] in (1, 2)
    finish_best = meta["history"][meta["training"]["finish_best_epoch"]]
    assert meta["val_accuracy"] == finish_best["val_accuracy"]  # of the weights kept: the finish's best
    weights = (run / "small.npz").read_bytes()
    calls.clear()
    assert train.main([*args, "--resume"]) == 0  # both phases done: nothing more is trained
    assert not calls and (run / "small.npz").read_bytes() == weights

    def stopped(self: Trainer) -> tuple[float, float, float]:
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "train_epoch", stopped)  # Ctrl-C in the first epoch: no finish after it
    assert train.main([*args, "--run-dir", str(tmp_path / "stopped")]) == 0
    assert (tmp_path / "stopped" / "small.npz").exists()  # the best weights so far are written...
    assert not (tmp_path / "stopped" / "finish-checkpoint.npz").exists()  # ...and not finished
    monkeypatch.undo()

    assert train.main([*args, "--finish-epochs", "0", "--run-dir", str(tmp_path / "plain")]) == 0
    meta = json.loads((tmp_path / "plain" / "small.json").read_text())
    assert len(meta["history"]) == 1 and meta["training"]["finish_best_epoch"] is None
    assert not (tmp_path / "plain" / "finish-checkpoint.npz").exists()


def test_distillation_trains_towards_the_teachers_and_records_them(tmp_path: Path) -> None:
    from model.distill import soft_targets, teacher_probabilities

    x, y = sample_digits()
    teacher = load(ROOT / "weights" / "default.npz")
    probs = teacher_probabilities([teacher, teacher], x[:50])
    assert probs.shape == (50, 11) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert (probs.argmax(axis=1) == y[:50]).mean() >= 0.95  # the teacher reads its digits
    target = soft_targets(probs, y[:50], 0.5)
    assert np.allclose(target.sum(axis=1), 1, atol=1e-5) and (target[np.arange(50), y[:50]] >= 0.5).all()
    wrong = (y[:50] + 1) % 10  # labels the teacher does not read: their targets are the label alone
    assert np.array_equal(soft_targets(probs, wrong, 0.5), np.eye(11, dtype=np.float32)[wrong])
    data = tmp_path / "mnist.npz"
    np.savez(data, x_train=x[:600], y_train=y[:600], x_test=x[600:800], y_test=y[600:800])
    run = tmp_path / "run"
    args = ["--arch", "small", "--epochs", "1", "--data", str(data), "--no-verify", "--val-size", "100",
            "--drawn", "12", "--number-parts", "0", "--finish-epochs", "1", "--run-dir", str(run),
            "--distill", str(ROOT / "weights" / "default.npz"), "--distill-weight", "0.3"]
    assert train.main(args) == 0
    meta = json.loads((run / "small.json").read_text())
    assert meta["training"]["distill"] == [str(ROOT / "weights" / "default.npz")]
    assert meta["training"]["distill_weight"] == 0.3


def test_the_pool_version_follows_the_code_that_makes_the_pool(tmp_path: Path) -> None:
    assert ROOT / "model" / "recipe" / "fit.py" in drawn_sets.POOL_SOURCES
    assert all(p.exists() for p in drawn_sets.POOL_SOURCES)
    code = tmp_path / "preprocessing.py"
    code.write_text("SCALE = 1\n")
    before = drawn_sets.pool_version((code,))
    assert drawn_sets.pool_version((code,)) == before and len(before) == 10
    code.write_text("SCALE = 2\n")  # an edit to the preprocessing: a cached pool is not reused
    assert drawn_sets.pool_version((code,)) != before


def test_the_training_pool_is_the_same_whatever_the_number_of_processes() -> None:
    # The shipped weights are reproduced on any machine: the pool's chunks do not follow the cores.
    x, y = sample_digits()
    counts = {"canvas": 5, "pen": 3, "not-digit": 4, drawn_sets.NUMBER_PART: 6}
    one = drawn_sets.training_pool(x[:300], y[:300], counts, seed=3, workers=1)
    two = drawn_sets.training_pool(x[:300], y[:300], counts, seed=3, workers=2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)
    assert (one[2] == "number-part").sum() == 6


def test_a_run_can_start_from_weights_with_hand_pen_digits_scribbles_and_coarse_scans(tmp_path: Path) -> None:
    x, y = sample_digits()
    data = tmp_path / "mnist.npz"
    np.savez(data, x_train=x[:600], y_train=y[:600], x_test=x[600:800], y_test=y[600:800])
    run = tmp_path / "run"
    shipped = ROOT / "weights" / "default.npz"
    args = ["--epochs", "0", "--finish-epochs", "0", "--data", str(data), "--no-verify", "--val-size", "100",
            "--drawn", "12", "--number-parts", "0", "--hand", "10", "--scribbles", "8", "--coarse", "6",
            "--pool-workers", "1", "--init-weights", str(shipped), "--run-dir", str(run)]
    assert train.main(args) == 0
    version = drawn_sets.pool_version()
    with np.load(run / f"pool-12-hand10-scribble8-coarse6-seed0-n500-{version}.npz") as f:
        kinds, labels = f["kind"], f["y"]
    assert (kinds == "hand").sum() == 10 and (labels[kinds == "scribble"] == drawn_sets.NOT_DIGIT).all()
    assert (kinds == "scribble").sum() == 8 and (kinds == "coarse").sum() == 6
    # nothing trained: the weights are the shipped ones, calibrated again with the scribbles as non-digits
    with np.load(run / "default.npz") as got, np.load(shipped) as start:
        assert all(np.array_equal(got[k], start[k]) for k in start.files)
    meta = json.loads((run / "default.json").read_text())
    assert {"val_refused_hand", "val_refused_scribble", "val_refused_coarse"} <= set(meta["calibration"])
    base = json.loads(shipped.with_suffix(".json").read_text())  # how the weights it started from were made
    assert meta["base"]["sha256"] == base["sha256"] and meta["base"]["training"] == base["training"]


def test_a_coarse_scan_reads_as_its_digit_through_the_recipe() -> None:
    """``coarse_digit``: a few pixels a side, enlarged blurred or blocky; still the digit it was made from
    (the shipped network reads most of them), and the same bytes for the same seed."""
    from model.recipe import preprocess

    x, y = sample_digits()
    made = [drawn_sets.coarse_digit(x[i], int(y[i]), np.random.default_rng(i)) for i in range(60)]
    again = drawn_sets.coarse_digit(x[0], int(y[0]), np.random.default_rng(0))
    assert again.data == made[0].data and {s.kind for s in made} == {"coarse"}
    read = load().predict(np.stack([preprocess(s.data) for s in made]))[:, :10].argmax(axis=1)
    assert (read == y[:60]).mean() >= 0.8
