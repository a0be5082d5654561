"""The training and evaluation command lines, end to end on the shipped 1000-digit sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model import load
from scripts import evaluate, train
from tests.helpers import sample_digits


@pytest.fixture
def small_mnist(tmp_path: Path) -> Path:
    x, y = sample_digits()
    path = tmp_path / "small.npz"
    np.savez(path, x_train=x[:800], y_train=y[:800], x_test=x[800:], y_test=y[800:])
    return path


def test_train_then_evaluate(small_mnist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run, out = tmp_path / "run", tmp_path / "w" / "tiny.npz"
    args = ["--arch", "small", "--epochs", "2", "--data", str(small_mnist), "--no-verify", "--val-size", "100",
            "--no-augment", "--drawn", "0", "--run-dir", str(run), "--export", str(out)]
    assert train.main(args) == 0
    assert (run / "small.npz").read_bytes() == out.read_bytes()  # the run folder's weights, exported
    meta = json.loads(out.with_suffix(".json").read_text())
    assert [h["epoch"] for h in meta["history"]] == [1, 2]
    assert all(h["seconds"] > 0 for h in meta["history"])
    assert meta["training"]["batch_size"] == 64 and meta["training"]["lr"] == 3e-3  # the small recipe
    assert 0.5 < meta["test_accuracy"] <= 1.0  # 700 digits, 2 epochs: far above chance
    assert "precision" in capsys.readouterr().out  # the classification report was printed
    net = load(out, self_check=False)  # two epochs on 700 digits: not yet a network that passes
    assert net.predict(sample_digits()[0][:5]).shape == (5, 10)

    report = tmp_path / "report"
    assert evaluate.main(["--weights", str(out), "--data", str(small_mnist), "--no-verify", "--out", str(report),
                          "--drawn", "0", "--numbers", "0"]) == 0
    text = (report / "report.md").read_text()
    assert f"{meta['test_accuracy']:.2%}" in text
    assert (report / "misclassified.png").stat().st_size > 0 and (report / "confusion_matrix.png").exists()


def test_evaluate_reads_drawn_sets_and_numbers_beside_the_yardstick(small_mnist: Path, tmp_path: Path) -> None:
    report = tmp_path / "report"
    assert evaluate.main(["--data", str(small_mnist), "--no-verify", "--out", str(report),
                          "--drawn", "8", "--numbers", "6"]) == 0
    text = (report / "report.md").read_text()
    assert "**canvas**" in text and "**pen**" in text and "**not digits**" in text
    assert "read exactly (6 canvases)" in text
    assert "a connected-components splitter in front of /predict reads" in text


def test_unknown_data_is_refused_with_a_reason(
    small_mnist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train.main(["--data", str(small_mnist), "--epochs", "1", "--run-dir", str(tmp_path)]) == 2
    assert "not a known MNIST copy" in capsys.readouterr().err


def test_the_old_architecture_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        train.parse_args(["--arch", "seed"])
    assert "invalid choice: 'seed'" in capsys.readouterr().err
