"""The service under a real uvicorn on 127.0.0.1 (``uvicorn app.main:app``: the app alone, without the
protocol digits-serve adds, which tests/test_reliability.py covers), real sockets, chunked bodies,
concurrent clients, and start-up failures as an operator sees them."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import numpy as np
import pytest

from tests.helpers import ROOT, free_port, png, sample_digits, start_uvicorn, uvicorn_server

LIMIT = 100_000  # DIGITS_MAX_UPLOAD_BYTES of the server under test
START_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    env = {"DIGITS_MAX_UPLOAD_BYTES": str(LIMIT), "DIGITS_MAX_BATCH": "8"}
    with uvicorn_server(env=env, timeout=START_TIMEOUT) as url:
        yield url


def test_predict_over_real_http(server: str) -> None:
    x, y = sample_digits()
    for digit, label in zip(x[:5], y[:5], strict=True):
        r = httpx.post(f"{server}/predict", content=png(digit), headers={"content-type": "image/png"})
        assert r.status_code == 200, r.text
        assert r.json()["digit"] == label
    r = httpx.post(f"{server}/predict", files={"file": ("d.png", png(x[0]), "image/png")})
    assert r.json()["digit"] == y[0]


def test_concurrent_clients_are_all_answered_correctly(server: str) -> None:
    x, y = sample_digits()
    bodies = [png(d) for d in x[:64]]

    def post(body: bytes) -> int:
        with httpx.Client(timeout=30) as c:
            r = c.post(f"{server}/predict", content=body, headers={"content-type": "image/png"})
            assert r.status_code == 200, r.text
            return int(r.json()["digit"])

    with ThreadPoolExecutor(16) as pool:
        digits = list(pool.map(post, bodies))
    assert np.mean(np.array(digits) == y[:64]) > 0.95
    assert "digits_inference_batch_size_count" in httpx.get(f"{server}/metrics").text


def test_chunked_body_over_the_limit_is_413_while_reading(server: str) -> None:
    """No Content-Length: the cap is enforced while reading. The server may answer and close while the
    client is still sending (a broken pipe on our side is the server doing its job): read the answer."""
    host, port = server.removeprefix("http://").split(":")
    chunk = b"\0" * 16_384
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(LIMIT // len(chunk) + 3):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 413
        assert str(LIMIT) in json.loads(response.read())["detail"]


def test_declared_length_over_the_limit_is_413(server: str) -> None:
    r = httpx.post(f"{server}/predict", content=b"\0" * (LIMIT + 1), headers={"content-type": "image/png"})
    assert r.status_code == 413 and "DIGITS_MAX_UPLOAD_BYTES" in r.json()["detail"]


def test_service_endpoints(server: str) -> None:
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server}/ready").json()["status"] == "ready"
    assert httpx.get(f"{server}/model").json()["parameters"] > 0
    assert httpx.get(f"{server}/openapi.json").status_code == 200
    assert httpx.get(f"{server}/docs").status_code == 200
    assert httpx.get(f"{server}/nowhere").json()["detail"].startswith("no such path")


def failed_start(**env: str) -> str:
    """Start uvicorn with ``env``; it must exit non-zero; returns what it printed."""
    proc = start_uvicorn(free_port(), env=env)
    try:
        _, err = proc.communicate(timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("uvicorn kept running with a broken configuration")
    assert proc.returncode != 0
    return err


def test_missing_weights_stop_start_up_cleanly(tmp_path: Path) -> None:
    missing = tmp_path / "missing.npz"
    err = failed_start(DIGITS_WEIGHTS=str(missing))
    assert f"weights file {missing} does not exist" in err
    assert "DIGITS_WEIGHTS" in err
    assert "Traceback" not in err


def test_corrupt_weights_stop_start_up_cleanly(tmp_path: Path) -> None:
    (tmp_path / "w.json").write_text((ROOT / "weights" / "default.json").read_text())
    (tmp_path / "w.npz").write_bytes(b"not a zip file at all")
    err = failed_start(DIGITS_WEIGHTS=str(tmp_path / "w.npz"))
    assert str(tmp_path / "w.npz") in err and "SHA-256" in err
    assert "Traceback" not in err


def test_invalid_settings_stop_start_up_cleanly() -> None:
    err = failed_start(DIGITS_MAX_BATCH="lots")
    assert "DIGITS_MAX_BATCH='lots'" in err
    assert "Traceback" not in err
