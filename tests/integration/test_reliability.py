"""Hostile and heavy load, as issue 12 describes it: tiny files that decode huge, costly batches beside
cheap requests, clients that leave, slow or silent connections, too many connections or uploads, weights
that cannot serve, and the HTTP hygiene of the page. Real uvicorn over real sockets where it matters.

No test here measures speed: each checks an order of events (the cheap answer came while the costly
batch was still running) or an answer (413, 503, 504, 408, a closed socket, an exit status). The
figures live in ``benchmarks/bench_hostile.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.settings import Settings
from tests.helpers import free_port, sample_digits, stop

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = "app.protocol:GuardedProtocol"
SERVER_ENV = {
    "DIGITS_HEADER_TIMEOUT": "1",
    "DIGITS_BODY_TIMEOUT": "3",
    "DIGITS_REQUEST_TIMEOUT": "1.5",
    "DIGITS_MAX_CONNECTIONS": "30",
    "DIGITS_MAX_BUFFERED_BYTES": "1000000",
    "DIGITS_MAX_UPLOAD_BYTES": "2000000",
}


# ---- images ---------------------------------------------------------------------------------------------


def encode(im: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **options)
    return buf.getvalue()


def webp_bomb(side: int) -> bytes:
    """A transparent ``side`` x ``side`` lossless WebP: a few hundred bytes that decode to side^2 RGBA."""
    return encode(Image.new("RGBA", (side, side), (255, 255, 255, 0)), "WEBP", lossless=True)


def png_line(width: int) -> bytes:
    """A 1 x ``width`` white PNG, a few KB."""
    return encode(Image.new("L", (width, 1), 255), "PNG", optimize=True)


def phone_photo() -> bytes:
    """A 4000x3000 (12 MP) JPEG of a dark 1 on light paper, like a phone photo of a digit."""
    a = np.full((3000, 4000, 3), 230, np.uint8)
    a[700:2300, 1900:2150] = 25
    return encode(Image.fromarray(a), "JPEG", quality=85)


def digit_png(index: int = 0) -> bytes:
    x, _ = sample_digits()
    return encode(Image.fromarray(x[index]), "PNG")


def multipart(field: str, images: list[bytes]) -> tuple[bytes, str]:
    """A multipart/form-data body with every image in ``field``, and its Content-Type."""
    boundary = "reliability-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{i}.img"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
        for i, data in enumerate(images)
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# ---- the cost bound (in process) ---------------------------------------------------------------------------


@pytest.mark.parametrize("data", [webp_bomb(4096), png_line(16_777_216)], ids=["webp-4096x4096", "png-1x16M"])
def test_tiny_files_that_decode_huge_are_413_from_their_header(client: TestClient, data: bytes) -> None:
    assert len(data) < 40_000
    r = client.post("/predict", content=data, headers={"content-type": "application/octet-stream"})
    assert r.status_code == 413, r.text
    detail = r.json()["detail"]
    assert "16777216 pixels" in detail and "the limit is 4194304 pixels" in detail


def test_a_12_megapixel_phone_photo_is_still_read(client: TestClient) -> None:
    r = client.post("/predict", content=phone_photo(), headers={"content-type": "image/jpeg"})
    assert r.status_code == 200, r.text
    assert r.json()["digit"] == 1


# ---- HTTP hygiene (in process) -------------------------------------------------------------------------


def test_the_page_has_security_headers_and_a_same_origin_csp(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    for asset in re.findall(r'(?:src|href)="(/[^"]+)"', r.text):  # every asset the page names is ours
        assert client.get(asset).status_code == 200, asset
    assert client.get("/predict/batch").headers["x-content-type-options"] == "nosniff"  # a JSON error too


def test_head_on_the_page_is_200(client: TestClient) -> None:
    r = client.head("/")
    assert r.status_code == 200 and r.content == b""


def test_swagger_ui_is_served_from_the_package_not_a_cdn(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert "cdn" not in r.text and "https://" not in r.text
    for asset in re.findall(r'(?:src|href)="(/[^"]+)"', r.text):
        answer = client.get(asset)
        assert answer.status_code == 200 and len(answer.content) > 100, asset
    inline = re.findall(r"<script>(.*?)</script>", r.text, flags=re.DOTALL)
    assert inline and all(_sha256(s) in r.headers["content-security-policy"] for s in inline)
    assert client.get("/redoc").status_code == 404  # ReDoc would need a CDN


def _sha256(script: str) -> str:
    import base64

    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


def test_static_files_have_a_route_label_in_the_metrics(client: TestClient) -> None:
    assert client.get("/static/app.js").status_code == 200
    metrics = client.get("/metrics").text
    assert 'digits_http_requests_total{method="GET",route="/static",status="200"}' in metrics


def test_a_404_does_not_echo_a_long_path(client: TestClient) -> None:
    r = client.get("/" + "a" * 8000)
    assert r.status_code == 404
    assert len(r.content) < 300 and "8001 characters" in r.json()["detail"]


# ---- a real server ---------------------------------------------------------------------------------------


def start(port: int, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


SERVER_PID: dict[str, int] = {}  # url -> process id of the module's server


def serve(**env: str) -> Iterator[str]:
    """A real uvicorn with the service's protocol and ``env`` beside ``SERVER_ENV``: its URL, once ready."""
    port = free_port()
    proc = start(port, "--http", PROTOCOL, **{**SERVER_ENV, **env})
    url = f"http://127.0.0.1:{port}"
    SERVER_PID[url] = proc.pid
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"uvicorn did not become ready: {proc.communicate()[1]}")
            time.sleep(0.1)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    yield from serve()


@pytest.fixture(scope="module")
def patient_server() -> Iterator[str]:
    """The same with a deadline far past a costly batch's decoding: the batch ends when its work does, not
    at a fixed time that a loaded machine's cheap requests could outlast."""
    yield from serve(DIGITS_REQUEST_TIMEOUT="60")


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def metric(url: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", httpx.get(f"{url}/metrics").text, re.MULTILINE)
    assert found, name
    return float(found.group(1))


def wait_for(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def rss_mb(url: str) -> float:
    with open(f"/proc/{SERVER_PID[url]}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def costly_batch(count: int) -> tuple[bytes, str]:
    """``count`` 2048x2048 transparent WebPs (each allowed, each ~20-60 ms to decode)."""
    return multipart("files", [webp_bomb(2048)] * count)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_costly_images_are_decoded_outside_the_server_process(server: str) -> None:
    """128 images of 2048x2048 (16 MB of RGBA each) leave the server's memory where it was: neither
    their headers nor their pixels are decoded in it."""
    before = rss_mb(server)
    body, kind = costly_batch(64)
    for _ in range(2):
        r = httpx.post(f"{server}/predict/batch", content=body, headers={"content-type": kind}, timeout=30)
        assert r.status_code in (200, 504)
    assert rss_mb(server) - before < 40


def test_a_costly_batch_does_not_hold_up_cheap_requests(patient_server: str) -> None:
    server = patient_server
    body, kind = costly_batch(24)  # about 0.5-1.5 s of decoding, many cheap answers long
    finished = threading.Event()

    def send_batch() -> None:
        try:
            httpx.post(f"{server}/predict/batch", content=body, headers={"content-type": kind}, timeout=30)
        finally:
            finished.set()

    thread = threading.Thread(target=send_batch)
    thread.start()
    assert wait_for(lambda: metric(server, "digits_pending_images") > 0 or finished.is_set())
    digit = digit_png()

    def cheap(_: int) -> tuple[int, bool]:
        r = httpx.post(f"{server}/predict", content=digit, headers={"content-type": "image/png"}, timeout=30)
        return r.status_code, finished.is_set()

    with ThreadPoolExecutor(5) as pool:  # at once
        answered = list(pool.map(cheap, range(5)))
    thread.join()
    assert answered == [(200, False)] * 5  # every cheap answer came while the batch was still running


def test_past_its_deadline_a_request_is_a_504_and_its_remaining_images_are_dropped(server: str) -> None:
    dropped = metric(server, "digits_dropped_images_total")
    body, kind = costly_batch(64)  # 64 x 20-60 ms: well past DIGITS_REQUEST_TIMEOUT=1.5
    r = httpx.post(f"{server}/predict/batch", content=body, headers={"content-type": kind}, timeout=30)
    assert r.status_code == 504
    assert "DIGITS_REQUEST_TIMEOUT" in r.json()["detail"]
    assert wait_for(lambda: metric(server, "digits_pending_images") == 0)
    assert metric(server, "digits_dropped_images_total") > dropped


def test_a_client_that_leaves_has_its_images_dropped(server: str) -> None:
    dropped = metric(server, "digits_dropped_images_total")
    body, kind = costly_batch(64)
    with socket.create_connection(address(server)) as sock:
        head = f"POST /predict/batch HTTP/1.1\r\nHost: x\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n"
        sock.sendall(head.encode() + body)
        assert wait_for(lambda: metric(server, "digits_pending_images") > 0)
    assert wait_for(lambda: metric(server, "digits_pending_images") == 0, timeout=5)
    assert metric(server, "digits_dropped_images_total") > dropped


def read_answer(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (or ``timeout`` passes)."""
    sock.settimeout(timeout)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        pass
    return b"".join(chunks)


def test_silent_and_slow_header_connections_are_closed(server: str) -> None:
    silent = socket.create_connection(address(server))
    dripping = socket.create_connection(address(server))
    dripping.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    for sock in (silent, dripping):
        assert read_answer(sock, timeout=10) == b""  # closed without an answer
        sock.close()
    assert time.monotonic() - started < 9


def test_a_body_that_does_not_arrive_is_a_408_and_the_connection_closes(server: str) -> None:
    with socket.create_connection(address(server)) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n")
        sock.sendall(b"\x89PNG")
        answer = read_answer(sock, timeout=15)
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"DIGITS_BODY_TIMEOUT" in answer


def test_uploads_over_the_byte_budget_get_503_with_retry_after(server: str) -> None:
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 900000\r\n\r\n"
    with socket.create_connection(address(server)) as first, socket.create_connection(address(server)) as second:
        first.sendall(head + b"\0" * 1000)  # holds the large bodies' share of the 1 MB budget
        assert wait_for(lambda: metric(server, "digits_buffered_body_bytes") > 800_000)
        second.sendall(head + b"\0" * 1000)  # waits for room
        assert wait_for(lambda: metric(server, "digits_waiting_bodies") == 1)
        small = httpx.post(f"{server}/predict", content=digit_png(), headers={"content-type": "image/png"})
        assert small.status_code == 200  # a small body does not queue behind large ones
        answer = read_answer(second, timeout=10)
    assert answer.startswith(b"HTTP/1.1 503")
    assert b"retry-after: 2" in answer.lower() and b"DIGITS_MAX_BUFFERED_BYTES" in answer
    assert wait_for(lambda: metric(server, "digits_buffered_body_bytes") == 0)


def test_connections_past_the_cap_get_503_and_the_others_are_still_served(server: str) -> None:
    idle = [socket.create_connection(address(server)) for _ in range(30)]
    try:
        with socket.create_connection(address(server)) as extra:
            answer = read_answer(extra, timeout=5)
        assert answer.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["detail"].startswith("the server has")
    finally:
        for sock in idle:
            sock.close()
    assert wait_for(lambda: httpx.get(f"{server}/health").status_code == 200)


# ---- start-up that cannot serve --------------------------------------------------------------------------


def weights_copy(tmp_path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """A weights file of ``arrays`` whose metadata records its true SHA-256 (so only loading can tell)."""
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    meta = json.loads((ROOT / "weights" / "default.json").read_text())
    meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "w.json").write_text(json.dumps(meta))
    return path


def nan_weights(tmp_path: Path) -> Path:
    with np.load(ROOT / "weights" / "default.npz") as f:
        arrays = {k: f[k] for k in f.files}
    first = sorted(k for k in arrays if arrays[k].dtype.kind == "f")[0]
    arrays[first] = np.full_like(arrays[first], np.nan)
    return weights_copy(tmp_path, arrays)


BROKEN = {
    "missing": (lambda tmp: tmp / "missing.npz", "does not exist"),
    "nan": (nan_weights, "NaN or infinite"),
    "empty": (lambda tmp: weights_copy(tmp, {}), "holds no arrays"),
}
MODES = {
    "uvicorn --workers 2": [sys.executable, "-m", "uvicorn", "app.main:app", "--workers", "2", "--http", PROTOCOL],
    "digits-serve --workers 2": [sys.executable, "-m", "app.cli", "--workers", "2"],
}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case", list(BROKEN))
def test_weights_that_cannot_serve_stop_every_worker_mode_non_zero(tmp_path: Path, case: str, mode: str) -> None:
    make, reason = BROKEN[case]
    weights = make(tmp_path)
    cmd = [*MODES[mode], "--port", str(free_port())]
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "DIGITS_WEIGHTS": str(weights)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, proc.stderr
    assert reason in proc.stderr and "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if reason in line][0].count("\n") == 0


# ---- settings --------------------------------------------------------------------------------------------


def test_every_setting_is_read_from_its_variable_and_listed_once() -> None:
    from app.settings import SettingsError, table

    s = Settings.from_env({"DIGITS_REQUEST_TIMEOUT": "2.5", "DIGITS_MAX_CONNECTIONS": "1_000"})
    assert s.request_timeout == 2.5 and s.max_connections == 1000
    for bad in ("0", "-1", "soon", "inf"):
        with pytest.raises(SettingsError, match=f"DIGITS_BODY_TIMEOUT={bad!r}"):
            Settings.from_env({"DIGITS_BODY_TIMEOUT": bad})
    names = re.findall(r"^(DIGITS_\w+)", table(), re.MULTILINE)
    assert len(names) == len(set(names)) == len(Settings.__dataclass_fields__)
