"""MNIST loading from .npz and IDX (raw and gzip), SHA-256 verification and clear errors."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from model import data
from model.checksums import sha256_bytes
from tests.helpers import FULL_MNIST, sample_digits


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> bytes:
    raw = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return raw


@pytest.mark.parametrize("compress", [False, True])
def test_idx_folder_round_trip_with_hash_check(tmp_path: Path, compress: bool, monkeypatch) -> None:
    x, y = sample_digits()
    hashes = {}
    for stem, arr in [
        ("train-images-idx3-ubyte", x[:600]),
        ("train-labels-idx1-ubyte", y[:600]),
        ("t10k-images-idx3-ubyte", x[600:]),
        ("t10k-labels-idx1-ubyte", y[600:]),
    ]:
        raw = write_idx(tmp_path / (stem + (".gz" if compress else "")), arr, compress)
        hashes[stem] = sha256_bytes(raw)
    monkeypatch.setattr(data, "IDX_SHA256", hashes)
    mnist = data.load_mnist(tmp_path)
    np.testing.assert_array_equal(mnist.x_train, x[:600])
    np.testing.assert_array_equal(mnist.y_test, y[600:])
    assert mnist.x_test.dtype == np.uint8 and mnist.x_test.shape == (400, 28, 28)


def test_idx_hash_mismatch_is_refused(tmp_path: Path) -> None:
    x, _ = sample_digits()
    write_idx(tmp_path / "t10k-images-idx3-ubyte", x[:10])
    with pytest.raises(data.DatasetError, match="does not match"):
        data.read_idx(tmp_path / "t10k-images-idx3-ubyte", "0" * 64)


def test_npz_with_unknown_hash_is_refused_unless_unverified(tmp_path: Path) -> None:
    x, y = sample_digits()
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x[:10], y_train=y[:10], x_test=x[10:20], y_test=y[10:20])
    with pytest.raises(data.DatasetError, match="not a known MNIST copy"):
        data.load_mnist(path)
    assert data.load_mnist(path, verify=False).x_test.shape == (10, 28, 28)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(data.DatasetError, match="--download"):
        data.load_mnist(tmp_path / "nope.npz")


def test_download_verifies_the_hash(tmp_path: Path) -> None:
    src = tmp_path / "fake.npz"
    src.write_bytes(b"not mnist")
    with pytest.raises(data.DatasetError, match="not a known MNIST copy"):
        data.download(tmp_path / "cache" / "mnist.npz", url=src.as_uri())
    assert not (tmp_path / "cache" / "mnist.npz").exists()


@pytest.mark.skipif(not FULL_MNIST.exists(), reason=f"full MNIST not present at {FULL_MNIST}")
def test_full_mnist_loads_and_verifies() -> None:
    mnist = data.load_mnist(FULL_MNIST)
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert np.bincount(mnist.y_test).tolist()[:2] == [980, 1135]


def test_train_val_split_is_disjoint_and_seeded() -> None:
    x = np.arange(100)
    xt, yt, xv, yv = data.train_val_split(x, x, 20, seed=1)
    assert len(xv) == 20 and len(xt) == 80 and not set(xv) & set(xt)
    np.testing.assert_array_equal(xv, data.train_val_split(x, x, 20, seed=1)[2])
