"""Canaries for the upstream problems the service works around (docs/upstream.md): each test asserts
that the problem is still there in the installed uvicorn / llhttp, so it FAILS once upstream fixes it,
telling us to drop our workaround."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tests.helpers import ROOT, free_port


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


@pytest.fixture
def plain_server() -> Iterator[int]:
    """uvicorn serving ``hello`` with its own httptools protocol; yields the port."""
    config = uvicorn.Config(
        hello, host="127.0.0.1", port=0, http=HttpToolsProtocol, lifespan="off", log_level="warning"
    )
    sock = config.bind_socket()
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_llhttp_still_has_no_header_size_cap(plain_server: int) -> None:
    # uvicorn's httptools protocol takes 64 KB of headers sent at once; app.protocol answers 431.
    head = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-Filler-%d: %s\r\n" % (i, b"a" * 1000) for i in range(64))
    with socket.create_connection(("127.0.0.1", plain_server), timeout=5) as sock:
        sock.sendall(head + b"Connection: close\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:100]


def test_uvicorns_supervisor_still_exits_0_when_its_workers_cannot_start() -> None:
    # app.supervisor and app.cli turn this into a non-zero exit; drop them once this fails.
    command = [sys.executable, "-m", "uvicorn", "tests.integration.upstream_apps:failing", "--workers", "2",
               "--port", str(free_port()), "--lifespan", "on"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "failed to start" in done.stderr
