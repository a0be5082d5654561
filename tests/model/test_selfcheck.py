"""Weights that load but cannot compute are refused where they are loaded, and the service does not
start on them: one line, a non-zero exit, with ``digits-serve`` and with ``uvicorn --workers 2``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from app.cli import STARTUP_FAILURE
from app.protocol import SPEC
from model import WeightsError, load
from model.selfcheck import MIN_CONFIDENCE, SAMPLES, failures, sample_digits
from tests.helpers import ROOT, free_port

Arrays = dict[str, np.ndarray]


def shipped() -> Arrays:
    with np.load(ROOT / "weights" / "default.npz") as f:
        return {k: f[k] for k in f.files}


def weights_file(tmp_path: Path, arrays: Arrays) -> Path:
    """``arrays`` as a weights file whose metadata records its true SHA-256 (only loading can tell)."""
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    meta = json.loads((ROOT / "weights" / "default.json").read_text())
    meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "w.json").write_text(json.dumps(meta))
    return path


def scaled(a: Arrays) -> Arrays:
    """Every kernel and scale x 1e38: still finite in float32, but the activations overflow."""
    return {k: v * np.float32(1e38) if k.endswith("weight") else v for k, v in a.items()}


def zeros(a: Arrays) -> Arrays:
    return {k: np.zeros_like(v) for k, v in a.items()}


def nan(a: Arrays) -> Arrays:
    return {**a, "13.weight": np.full_like(a["13.weight"], np.nan)}


def permuted_channels(a: Arrays) -> Arrays:
    """The second convolution's output channels reversed, its batch norm left in place."""
    return {**a, "4.weight": a["4.weight"][::-1].copy()}


def permuted_inputs(a: Arrays) -> Arrays:
    """The third convolution reads the second's channels in reverse order."""
    return {**a, "8.weight": a["8.weight"][:, ::-1].copy()}


BROKEN: dict[str, tuple[Callable[[Arrays], Arrays], str]] = {
    "x1e38": (scaled, "NaN or infinite probabilities"),
    "zeros": (zeros, "misreads 10 of 10 sample digits"),
    "nan": (nan, "NaN or infinite values in 13.weight"),  # refused before the check, by the loader
    "permuted channels": (permuted_channels, "misreads"),
    "permuted inputs": (permuted_inputs, "misreads"),
}


def test_the_samples_are_one_clear_digit_of_each_class() -> None:
    x, y = sample_digits()
    assert x.shape == (10, 28, 28) and x.dtype == np.uint8 and sorted(y.tolist()) == list(range(10))
    assert SAMPLES.parent.name == "weights"  # shipped with the weights, not with the tests
    probs = load(self_check=False).predict(x)
    assert (probs.argmax(axis=1) == y).all() and probs[np.arange(10), y].min() > 0.99 > MIN_CONFIDENCE


def test_the_shipped_weights_pass() -> None:
    assert failures(load(self_check=False).predict) is None
    load()  # checked by default


@pytest.mark.parametrize("case", list(BROKEN))
def test_weights_that_cannot_compute_are_refused_at_load(tmp_path: Path, case: str) -> None:
    break_them, reason = BROKEN[case]
    path = weights_file(tmp_path, break_them(shipped()))
    with np.errstate(all="ignore"):
        with pytest.raises(WeightsError, match=reason) as raised:
            load(path)
        if case != "nan":
            load(path, self_check=False)  # what training and evaluation code may still load
    assert "\n" not in str(raised.value)


def test_one_unsure_digit_is_enough_to_refuse() -> None:
    def predict(x: np.ndarray) -> np.ndarray:
        probs = np.eye(11, dtype=np.float32)[sample_digits()[1]]
        probs[4] = 0.5 * probs[4] + 0.5 / 11  # the 5th sample (a 4) read at 0.55
        return probs

    assert failures(predict) == (
        f"it misreads 1 of 10 sample digits that a working network reads at p >= {MIN_CONFIDENCE}: "
        "a 4 read as 4 (p(4) = 0.55)"
    )


MODES = {
    "digits-serve": [sys.executable, "-m", "app.cli"],
    "uvicorn --workers 2": [sys.executable, "-m", "uvicorn", "app.main:app", "--workers", "2", "--http", SPEC],
}


@pytest.mark.integration  # real servers, started and refused
@pytest.mark.parametrize(("mode", "case"), [("digits-serve", "x1e38"), ("uvicorn --workers 2", "zeros")])
def test_the_service_does_not_start_on_them(tmp_path: Path, mode: str, case: str) -> None:
    break_them, reason = BROKEN[case]
    path = weights_file(tmp_path, break_them(shipped()))
    cmd = [*MODES[mode], "--port", str(free_port())]
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "DIGITS_WEIGHTS": str(path)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, proc.stderr
    if mode == "digits-serve":
        assert proc.returncode == STARTUP_FAILURE
    lines = [line for line in proc.stderr.splitlines() if reason in line]
    assert lines and "cannot compute" in lines[0] and "DIGITS_WEIGHTS" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
