"""MNIST loading: Keras-layout ``.npz`` or the original IDX files (raw or ``.gz``), SHA-256 verified.

Where the data comes from, in order: the ``path`` argument, the ``MNIST_PATH`` environment variable,
``../shared/data/mnist.npz`` beside a checkout, then ``~/.cache/mnist-numpy/mnist.npz``; ``download()``
fetches the public Keras copy there and checks its hash before using it.
"""

from __future__ import annotations

import gzip
import os
import struct
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checksums import sha256_bytes, sha256_file

ENV_VAR = "MNIST_PATH"
DOWNLOAD_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
CACHE_PATH = Path.home() / ".cache" / "mnist-numpy" / "mnist.npz"
SHARED_PATH = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist.npz"

# SHA-256 of known-good copies: the Keras download, and the lossless conversion in ../shared.
NPZ_SHA256 = {
    "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1": "keras mnist.npz",
    "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64": "mnist.npz converted from IDX",
}
# SHA-256 of the original uncompressed IDX files (LeCun et al.), checked after any gunzip.
IDX_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


class DatasetError(RuntimeError):
    """The data set is missing, corrupt or not what it claims to be; the message says how to fix it."""


@dataclass(frozen=True)
class MNIST:
    """uint8 images ``(N, 28, 28)``, white ink on black, and uint8 labels ``(N,)``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def resolve_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The first of: ``path``, ``$MNIST_PATH``, ``../shared/data/mnist.npz``, the download cache."""
    if path is not None:
        return Path(path)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    for candidate in (SHARED_PATH, CACHE_PATH):
        if candidate.exists():
            return candidate
    raise DatasetError(
        f"MNIST not found: pass --data PATH (an .npz or a folder of IDX files), set {ENV_VAR}, "
        f"or run with --download to fetch {DOWNLOAD_URL} into {CACHE_PATH}"
    )


def load_mnist(path: str | os.PathLike[str] | None = None, verify: bool = True) -> MNIST:
    """Load MNIST from a Keras ``.npz`` or a folder of IDX files; verify SHA-256 unless told not to."""
    p = resolve_path(path)
    if not p.exists():
        raise DatasetError(f"MNIST not found at {p}: check the path, or use --download")
    if p.is_dir():
        return _load_idx_dir(p, verify)
    if verify:
        digest = sha256_file(p)
        if digest not in NPZ_SHA256:
            raise DatasetError(
                f"{p} has SHA-256 {digest}, which is not a known MNIST copy "
                f"(expected one of {sorted(NPZ_SHA256)}); re-download it or pass verify=False"
            )
    with np.load(p, allow_pickle=False) as data:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(data.files)
        if missing:
            raise DatasetError(f"{p} lacks the arrays {sorted(missing)} of the Keras MNIST layout")
        return MNIST(data["x_train"], data["y_train"], data["x_test"], data["y_test"])


def read_idx(path: Path, expected_sha256: str | None = None) -> np.ndarray:
    """Parse one IDX file (raw or ``.gz``) into a uint8 array; checks the hash of the raw bytes."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    if expected_sha256 and sha256_bytes(raw) != expected_sha256:
        raise DatasetError(f"{path}: SHA-256 {sha256_bytes(raw)} does not match {expected_sha256}")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DatasetError(f"{path} is not an unsigned-byte IDX file")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _load_idx_dir(folder: Path, verify: bool) -> MNIST:
    arrays = {}
    for stem, digest in IDX_SHA256.items():
        found = [folder / stem, folder / f"{stem}.gz"]
        found += [folder / stem.replace("-idx", ".idx"), folder / f"{stem.replace('-idx', '.idx')}.gz"]
        path = next((f for f in found if f.exists()), None)
        if path is None:
            raise DatasetError(f"{folder} has no {stem} (or {stem}.gz) IDX file")
        arrays[stem] = read_idx(path, digest if verify else None)
    return MNIST(
        arrays["train-images-idx3-ubyte"],
        arrays["train-labels-idx1-ubyte"],
        arrays["t10k-images-idx3-ubyte"],
        arrays["t10k-labels-idx1-ubyte"],
    )


def download(dest: Path = CACHE_PATH, url: str = DOWNLOAD_URL) -> Path:
    """Fetch the public Keras copy to ``dest`` (atomically) and verify its SHA-256."""
    if dest.exists() and sha256_file(dest) in NPZ_SHA256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DatasetError(f"download of {url} failed: {exc}") from exc
    digest = sha256_file(tmp)
    if digest not in NPZ_SHA256:
        tmp.unlink(missing_ok=True)
        raise DatasetError(f"downloaded {url} has SHA-256 {digest}, not a known MNIST copy")
    tmp.replace(dest)
    return dest


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_size: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out ``val_size`` training digits (seeded, stratified by nothing but chance) for validation."""
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:val_size], order[val_size:]
    return x[train], y[train], x[val], y[val]
