"""Helpers shared by the tests (fixtures built on them are in ``conftest.py``): the MNIST sample shipped
under tests/data, image encoding, and a real uvicorn on a free port."""

from __future__ import annotations

import base64
import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "mnist_test_sample.npz"


def _full_mnist() -> Path:
    """Where the README tells users to put full MNIST (``model.data.resolve_path``: ``$MNIST_PATH``,
    ``../shared/data/mnist.npz``, or where ``--download`` puts it); a path that does not exist if none."""
    from model.data import DatasetError, resolve_path

    try:
        return resolve_path()
    except DatasetError:
        return Path(os.environ.get("MNIST_PATH") or ROOT.parent / "shared" / "data" / "mnist.npz")


FULL_MNIST = _full_mnist()


def sample_digits() -> tuple[np.ndarray, np.ndarray]:
    """The first 1000 MNIST test digits: uint8 ``(1000, 28, 28)`` and labels ``(1000,)``."""
    with np.load(SAMPLE) as f:
        return f["x"], f["y"].astype(np.int64)


def encode(image: np.ndarray | Image.Image, fmt: str = "PNG", **options: Any) -> bytes:
    """An image (a Pillow image or a uint8 array, ``(H, W)`` grey or ``(H, W, 3|4)``) encoded as ``fmt``.
    PNGs are compressed fast unless ``compress_level`` is given: the same pixels, in less test time."""
    im = image if isinstance(image, Image.Image) else Image.fromarray(image)
    if fmt == "PNG":
        options.setdefault("compress_level", 1)
    buf = io.BytesIO()
    im.save(buf, format=fmt, **options)
    return buf.getvalue()


def png(image: np.ndarray | Image.Image) -> bytes:
    """``image`` as PNG bytes (see :func:`encode`)."""
    return encode(image, "PNG")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_uvicorn(
    port: int,
    app: str = "app.main:app",
    env: Mapping[str, str] | None = None,
    output: IO[Any] | int = subprocess.PIPE,
    args: Sequence[str] = (),
) -> subprocess.Popen[str]:
    """``python -m uvicorn app`` on 127.0.0.1:port from the repository root, with ``env`` added to the
    environment and ``args`` to the command line; its stdout and stderr go to ``output`` (default:
    pipes, for ``communicate()``)."""
    cmd = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--no-access-log", *args]
    errors = subprocess.PIPE if output == subprocess.PIPE else subprocess.STDOUT
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=output, stderr=errors, text=True)


def stop(proc: subprocess.Popen[str]) -> None:
    """Terminate ``proc``, then kill it if it has not exited within 10 s."""
    proc.terminate()
    try:
        proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


@contextmanager
def uvicorn_server(
    app: str = "app.main:app",
    env: Mapping[str, str] | None = None,
    ready: str = "/ready",
    timeout: float = 60.0,
    args: Sequence[str] = (),
) -> Iterator[str]:
    """A real uvicorn serving ``app`` on a free port (``args`` added to its command line); yields its base
    URL once ``GET ready`` answers 200.

    Its output goes to a temporary file, quoted when it exits early or does not become ready in time.
    """
    with tempfile.TemporaryFile("w+") as log:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_uvicorn(port, app, env, output=log, args=args)

        def output() -> str:
            log.seek(0)
            return log.read()[-3000:]

        try:
            deadline = time.monotonic() + timeout
            while not _answers(url + ready):
                if proc.poll() is not None:
                    raise RuntimeError(f"uvicorn exited with {proc.returncode}:\n{output()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"uvicorn did not answer {ready} within {timeout:.0f} s:\n{output()}")
                time.sleep(0.1)
            yield url
        finally:
            stop(proc)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return bool(r.status == 200)
    except (OSError, urllib.error.URLError):
        return False


class FakeNetwork:
    """A network answering ``digit`` (at ``confidence``, the rest on the next digit) for every image,
    recording its batch sizes. ``gate`` holds its calls until set; ``entered`` is set while a call waits
    at the gate, so a test knows a batch is in the network before it queues more work."""

    def __init__(self, digit: int = 3, confidence: float = 1.0) -> None:
        self.metadata: dict[str, Any] = {"name": "fake", "sha256": "0" * 64}
        self.digit, self.confidence = digit, confidence
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def predict(self, images: np.ndarray) -> np.ndarray:
        assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
        if not self.gate.is_set():
            self.entered.set()
        self.gate.wait(10)
        self.batches.append(len(images))
        p = np.zeros((len(images), 10), np.float32)
        p[:, self.digit] = self.confidence
        p[:, (self.digit + 2) % 10] += 1 - self.confidence
        return p


def crash_the_process(data: bytes) -> None:
    """A decoder bug on a hostile file: a segmentation fault (reads address 0). For the decoder process."""
    import ctypes

    ctypes.string_at(0)


def sleep_then_len(data: bytes, seconds: float, started: str = "") -> int:
    """A decoder job that takes ``seconds``, creating the file ``started`` first (if given) so a test
    knows it runs; for the decoder process."""
    if started:
        Path(started).touch()
    time.sleep(seconds)
    return len(data)


def write_number(
    digits: list[np.ndarray], gap: float = 0.3, size: tuple[int, int] = (800, 300), style: int = 0
) -> bytes:
    """``digits`` (28x28 uint8) written left to right at 180 px a digit field, ``gap`` fields apart,
    on a canvas of ``size`` in ``model.generators.canvas.STYLES[style]``, as PNG."""
    from model.generators import canvas as cv

    ink = Image.new("L", size)
    field = 180
    for i, d in enumerate(digits):
        ink.paste(Image.fromarray(d).resize((field, field), Image.Resampling.BICUBIC),
                  (20 + int(i * field * (1 + gap) * 0.75), 60))
    return cv.encode(cv.compose(ink, cv.STYLES[style]), "PNG")


LIMIT = 64 * 1024  # body cap of the ``small`` app (conftest)
MAX_BATCH = 3  # and its batch cap


def data_url(data: bytes, kind: str = "image/png") -> str:
    """``data`` as a base64 data URL."""
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def raw(client: Any, body: bytes, kind: str = "image/png", url: str = "/predict") -> Any:
    """POST ``body`` as the raw request body with Content-Type ``kind``."""
    return client.post(url, content=body, headers={"content-type": kind})


def assert_error(response: Any, status: int, *words: str) -> str:
    """The response is a JSON error with ``status`` whose detail mentions every word (case-insensitive)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    for word in words:
        assert word.lower() in detail.lower(), detail
    return detail
