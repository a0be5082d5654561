"""The weights format: ``NAME.npz`` (arrays, ``allow_pickle=False``) beside ``NAME.json`` (metadata).

The JSON holds everything needed to rebuild and trust the network: architecture spec, input
normalization, class labels, training configuration and history, test accuracy, parameter count,
SHA-256 of the ``.npz``, library versions and the date.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import platform
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .checksums import sha256_file
from .inference import InferenceNetwork
from .normalize import INPUT_SIZE, MNIST_MEAN, MNIST_STD
from .selfcheck import failures
from .sequential import Sequential

FORMAT = "mnist-numpy-weights/1"
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "default.npz"
LABELS = [str(d) for d in range(10)]


class WeightsError(RuntimeError):
    """A weights file is missing, corrupt, or does not match its metadata; the message says which."""


def metadata_path(path: str | os.PathLike[str]) -> Path:
    return Path(path).with_suffix(".json")


def save(net: Sequential, path: str | os.PathLike[str], **extra: Any) -> dict[str, Any]:
    """Write ``path`` (.npz) and its ``.json``; returns the metadata. ``extra`` keys are merged in
    (``training``, ``history``, ``test_accuracy``...). Both files are written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    arrays = {k: np.asarray(v, np.float32) for k, v in net.state_dict().items()}
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    tmp = path.with_suffix(".npz.part")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "name": path.stem,
        "architecture": net.spec(),
        "normalization": {"mean": MNIST_MEAN, "std": MNIST_STD, "scale": "pixel / 255"},
        "input": {"shape": [INPUT_SIZE, INPUT_SIZE], "dtype": "uint8 or float32 in [0, 1]", "ink": "white on black"},
        "labels": LABELS,
        "parameters": net.num_parameters(),
        "sha256": sha256_file(path),
        "versions": {"python": platform.python_version(), "numpy": np.__version__},
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    meta.update(extra)
    mtmp = metadata_path(path).with_suffix(".json.part")
    mtmp.write_text(json.dumps(meta, indent=2, default=_json_default) + "\n")
    mtmp.replace(metadata_path(path))
    return meta


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in weights metadata")


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    mpath = metadata_path(path)
    if not mpath.exists():
        raise WeightsError(f"{mpath} is missing: a weights file needs its metadata beside it")
    try:
        meta = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{mpath} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise WeightsError(f"{mpath}: expected format {FORMAT!r}, got {meta.get('format')!r}")
    return meta


def resolve(path: str | os.PathLike[str] | None) -> Path:
    """``path``, else the shipped ``weights/default.npz``."""
    return Path(path) if path is not None else DEFAULT_WEIGHTS


def load_sequential(
    path: str | os.PathLike[str] | None = None, verify: bool = True
) -> tuple[Sequential, dict[str, Any]]:
    """Rebuild the trainable network (in eval mode) and its metadata from a weights file."""
    p = resolve(path)
    if not p.exists():
        raise WeightsError(f"weights file {p} does not exist")
    meta = read_metadata(p)
    if verify:
        digest = sha256_file(p)
        if digest != meta.get("sha256"):
            raise WeightsError(
                f"{p}: SHA-256 {digest} does not match {meta.get('sha256')} recorded in "
                f"{metadata_path(p).name}; the file is corrupt or was replaced"
            )
    try:
        net = Sequential.from_spec(meta["architecture"])
    except (KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"{metadata_path(p)}: cannot rebuild the architecture: {exc}") from exc
    try:
        with np.load(p, allow_pickle=False) as arrays:
            state = {k: arrays[k] for k in arrays.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise WeightsError(f"{p} is not a readable .npz file: {exc}") from exc
    if not state:
        raise WeightsError(f"{p} holds no arrays: it is not a trained network")
    non_finite = [k for k, a in state.items() if a.dtype.kind in "fc" and not np.isfinite(a).all()]
    if non_finite:
        raise WeightsError(f"{p} has NaN or infinite values in {', '.join(sorted(non_finite))} (a diverged run?)")
    try:
        net.load_state_dict(state)
    except ValueError as exc:
        raise WeightsError(f"{p} does not fit its architecture: {exc}") from exc
    net.eval()
    return net, meta


def load(path: str | os.PathLike[str] | None = None, verify: bool = True, self_check: bool = True) -> InferenceNetwork:
    """The inference network of ``path`` (default: the shipped ``weights/default.npz``). With
    ``self_check`` (the default) it must read the sample digits of :mod:`model.selfcheck` correctly
    and surely, else :class:`WeightsError`; code that loads a network still learning (tests of a
    one-epoch run, evaluating any weights) passes False."""
    net, meta = load_sequential(path, verify)
    inference = InferenceNetwork.from_sequential(net, meta)
    if self_check:
        problem = failures(inference.predict)
        if problem is not None:
            raise WeightsError(f"{resolve(path)} cannot compute: {problem}")
    return inference
