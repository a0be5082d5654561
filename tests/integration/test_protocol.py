"""``app.protocol``, over real TCP on 127.0.0.1, for both engines (h11 and httptools): connections
accepted on a listener that uvicorn bound itself (its multi-worker path) get ``TCP_NODELAY``, and
endless request headers get a 431."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from uvicorn.importer import import_from_string

from app import cli
from app.protocol import SPEC, GuardedProtocol
from app.protocol.guards import GuardedH11Protocol as NoDelayH11Protocol
from app.protocol.guards import GuardedHttpToolsProtocol as NoDelayHttpToolsProtocol
from app.protocol.header_cap import MAX_HEADER_BYTES

ROOT = Path(__file__).resolve().parents[2]


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


SEEN: list[int] = []  # TCP_NODELAY of each accepted socket, once the protocol has set it up


class H11Probe(NoDelayH11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        SEEN.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


class HttpToolsProbe(NoDelayHttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        SEEN.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


@pytest.fixture(params=[H11Probe, HttpToolsProbe], ids=["h11", "httptools"])
def server_on_a_bound_socket(request: pytest.FixtureRequest) -> Iterator[int]:
    """uvicorn serving ``hello`` with a probe of each guarded protocol on a listener from
    ``Config.bind_socket()``, the socket ``--workers N`` hands to its workers; yields the port."""
    config = uvicorn.Config(hello, host="127.0.0.1", port=0, http=request.param, lifespan="off", log_level="warning")
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


def test_connections_on_uvicorns_own_listener_get_nodelay(server_on_a_bound_socket: int) -> None:
    SEEN.clear()
    conn = http.client.HTTPConnection("127.0.0.1", server_on_a_bound_socket, timeout=5)
    for _ in range(3):  # keep-alive: one connection, several answers
        conn.request("GET", "/")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"hello")
    conn.close()
    assert SEEN == [1]


def test_endless_headers_are_refused_and_the_connection_is_closed(server_on_a_bound_socket: int) -> None:
    with socket.create_connection(("127.0.0.1", server_on_a_bound_socket), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        try:
            for i in range(4 * MAX_HEADER_BYTES // 1024):
                sock.sendall(b"X-Filler-%d: %s\r\n" % (i, b"a" * 1000))
        except OSError:  # the server closed the connection while we were still sending
            pass
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    # the guard counts before either parser sees the bytes (h11's own 16 KiB limit would be a 400)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


def _answer_to(port: int, *pieces: bytes) -> bytes:
    """Send ``pieces`` (each in one ``sendall``) on a fresh connection; everything answered until close."""
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        with contextlib.suppress(OSError):
            for piece in pieces:
                sock.sendall(piece)
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


def _get(header_bytes: int, lead: bytes = b"") -> bytes:
    """A GET whose request line and headers are ``header_bytes`` long, after ``lead``."""
    head = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    pad = header_bytes - len(head) - len(b"X-Pad: \r\n\r\n")
    return lead + head + b"X-Pad: " + b"a" * pad + b"\r\n\r\n"


@pytest.mark.parametrize("size", [MAX_HEADER_BYTES + 1, 20_000, 50_000])
def test_headers_over_the_cap_in_one_piece_are_431(server_on_a_bound_socket: int, size: int) -> None:
    assert _answer_to(server_on_a_bound_socket, _get(size)).startswith(b"HTTP/1.1 431")


def test_headers_at_the_cap_in_one_piece_are_served(server_on_a_bound_socket: int) -> None:
    request = _get(MAX_HEADER_BYTES)
    assert _answer_to(server_on_a_bound_socket, request).startswith(b"HTTP/1.1 200")
    assert _answer_to(server_on_a_bound_socket, request[:-3], request[-3:]).startswith(b"HTTP/1.1 200")  # end split


def test_blank_lines_before_the_request_do_not_hide_its_headers(
    server_on_a_bound_socket: int, request: pytest.FixtureRequest
) -> None:
    assert _answer_to(server_on_a_bound_socket, _get(20_000, lead=b"\r\n\r\n")).startswith(b"HTTP/1.1 431")
    if "[httptools]" in request.node.name:  # llhttp skips blank lines before a request (h11 refuses them)
        assert _answer_to(server_on_a_bound_socket, b"\r\n", _get(200)).startswith(b"HTTP/1.1 200")


def test_each_keep_alive_request_gets_the_whole_cap(server_on_a_bound_socket: int) -> None:
    """The count starts again after each answer: three requests of 10 KB headers on one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server_on_a_bound_socket, timeout=5)
    for _ in range(3):
        conn.putrequest("GET", "/")
        conn.putheader("X-Pad", "a" * 10_000)
        conn.endheaders()
        assert conn.getresponse().read() == b"hello"
    conn.close()


def test_the_fastest_installed_engine_is_the_default() -> None:
    assert GuardedProtocol is NoDelayHttpToolsProtocol  # httptools is a dependency of the project


def test_the_protocol_is_what_the_entry_points_select(monkeypatch: pytest.MonkeyPatch) -> None:
    assert import_from_string(SPEC) is GuardedProtocol
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")  # join continued lines
    cmd = json.loads(re.findall(r"^CMD (.*)$", dockerfile, re.MULTILINE)[-1])  # the last CMD is the one run
    assert cmd[cmd.index("--http") + 1] == SPEC
    called: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: called.update(app=app, **kwargs))
    cli.main(["--workers", "2"])
    assert called["app"] == "app.main:app" and called["workers"] == 2 and called["http"] is GuardedProtocol
