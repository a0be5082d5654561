"""uvicorn's HTTP protocols with Nagle's algorithm off, a header timeout, a header size cap and a
connection cap.

**Engines.** :class:`GuardedProtocol` is the fastest one installed: httptools (llhttp, in C) when the
``httptools`` package is there, as it is with this project's dependencies, else h11 (pure Python). Both
carry the same guards; httptools serves about 1.25x the requests of h11 on one CPU
(``python benchmarks/bench_peers.py`` compares the whole service with other stacks).

**TCP_NODELAY.** With ``--workers N`` (N > 1) uvicorn binds the listening socket itself, with ``proto``
left at 0, and passes it to the workers. Accepted sockets inherit that ``proto``, and asyncio sets
``TCP_NODELAY`` only on sockets whose ``proto`` is TCP. So each keep-alive response waits for the
client's delayed ACK, about 40 ms on Linux (Kludex/uvicorn#3149, still open in uvicorn 0.54).
``benchmarks/bench_http.sh 2`` measures two workers with this protocol (numbers in benchmarks/README.md).

**Header timeout.** uvicorn times out idle keep-alive connections, but not a connection that sends
nothing, or drips its request headers (or the unread rest of a body after its answer): each holds a
file descriptor for good, and a thousand of them lock everybody out. Here a connection that has not
completed a request's headers ``DIGITS_HEADER_TIMEOUT`` seconds after it opened (or after its last
answer) is closed. (The body's own deadline is :mod:`app.limits`'s, once the app reads it.)

**Connection cap.** Past ``DIGITS_MAX_CONNECTIONS`` open connections in a worker (kept under the
process's file limit), a new connection gets a JSON 503 with ``Retry-After`` and is closed, so the
worker never runs out of descriptors ("Too many open files") and keeps answering the others.

**Header size cap.** h11 refuses request headers over 16 KiB by itself, but only while they are
incomplete; llhttp has no such limit, so a client streaming endless headers within the timeout would
grow the request's header list. Both protocols here answer 431 past :data:`MAX_HEADER_BYTES` of
request line and headers, counted up to the blank line that ends them, before the parser sees them:
however they arrive, dripped or in one piece with the body.

Use it wherever the service runs::

    uvicorn app.main:app --workers 2 --http app.nodelay:GuardedProtocol

``digits-serve`` and the Docker image select it by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import resource
import socket
from functools import cache
from typing import TYPE_CHECKING, Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .settings import environment_settings

SPEC = "app.nodelay:GuardedProtocol"  # the value of uvicorn's --http option
in_use = False  # set by the first connection this protocol serves in this process
FD_RESERVE = 64  # descriptors kept free beside the connections (listener, logs, weights, pipes)
MAX_HEADER_BYTES = 16 * 1024  # request line and headers of one request, as h11's default limit
_BLANK_LINE = re.compile(rb"\n\r?\n")  # the end of a request's headers


def set_nodelay(transport: asyncio.BaseTransport) -> bool:
    """Turn ``TCP_NODELAY`` on for a TCP transport's socket; False for other kinds (Unix sockets...).

    Tried on any stream socket rather than by address family: uvicorn's ``--fd`` labels the socket it is
    given ``AF_UNIX`` even when it is TCP.
    """
    sock = transport.get_extra_info("socket")
    if sock is None or sock.type != socket.SOCK_STREAM:
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # not TCP after all
        return False
    return True


@cache
def connection_limits() -> tuple[float, int]:
    """``(header timeout in seconds, most open connections)`` for this process, from the settings and
    the soft file-descriptor limit."""
    settings = environment_settings()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = settings.max_connections
    if soft != resource.RLIM_INFINITY:
        cap = max(1, min(cap, soft - FD_RESERVE))
    return settings.header_timeout, cap


def _refusal(status: str, detail: str, retry_after: bool = False) -> bytes:
    """A whole JSON error response that closes the connection (written before any app sees it)."""
    body = json.dumps({"detail": detail}).encode()
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    if retry_after:
        head += "retry-after: 1\r\n"
    return (head + "connection: close\r\n\r\n").encode() + body


def _busy_response(open_connections: int) -> bytes:
    return _refusal(
        "503 Service Unavailable",
        f"the server has {open_connections} open connections (DIGITS_MAX_CONNECTIONS); retry shortly",
        retry_after=True,
    )


HEADERS_TOO_LARGE = _refusal(
    "431 Request Header Fields Too Large",
    f"the request line and headers exceed {MAX_HEADER_BYTES} bytes; send a shorter URL and fewer headers",
)

if TYPE_CHECKING:  # the mixin's view of the uvicorn protocol it is mixed into
    _Base = H11Protocol
else:
    _Base = object


class _Guards(_Base):
    """The guards, for any uvicorn HTTP protocol that has ``cycle``, ``connections``, ``transport``,
    ``loop``, ``data_received`` and ``on_response_complete`` (h11's and httptools')."""

    _header_timer: asyncio.TimerHandle | None = None
    _header_bytes = 0  # bytes received since the current request began, until its headers complete
    _header_started = False  # a byte other than CR or LF has come since the current request began
    _header_tail = b""  # the last two bytes of the current request's headers so far (an end split in two)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        global in_use
        in_use = True
        set_nodelay(transport)
        super().connection_made(transport)
        header_timeout, cap = connection_limits()
        if len(self.connections) > cap:
            transport.write(_busy_response(len(self.connections) - 1))
            transport.close()
            return
        self._arm_header_timer(header_timeout)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers() and not self.transport.is_closing():
            self._header_bytes += self._header_part(data)
            if self._header_bytes > MAX_HEADER_BYTES:  # before the parser sees them, however they arrived
                self.transport.write(HEADERS_TOO_LARGE)
                self.transport.close()
                return
        super().data_received(data)

    def _header_part(self, data: bytes) -> int:
        """How many bytes of ``data`` belong to the current request's line and headers: up to and
        including the empty line that ends them (CR LF, or a bare LF, as both parsers accept), or all of
        it. Empty lines before the request line, which the parsers skip, count as header bytes."""
        start = 0
        if not self._header_started:
            start = len(data) - len(data.lstrip(b"\r\n"))
            self._header_started = start < len(data)
            if not self._header_started:
                return len(data)
        seen = self._header_tail + data[start:]
        end = _BLANK_LINE.search(seen)
        if end is None:
            self._header_tail = seen[-2:]
            return len(data)
        return start + end.end() - len(self._header_tail)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._header_bytes, self._header_started, self._header_tail = 0, False, b""
        if not self.transport.is_closing():
            self._arm_header_timer(connection_limits()[0])

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _awaiting_headers(self) -> bool:
        """No request's headers are complete since the last answer (or the connection's start)."""
        return self.cycle is None or self.cycle.response_complete

    def _arm_header_timer(self, seconds: float) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(seconds, self._header_timeout, self.cycle)

    def _header_timeout(self, cycle_when_armed: object) -> None:
        """Close the connection unless a new request has begun since the timer was armed."""
        self._header_timer = None
        if self.cycle is not cycle_when_armed or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered (cannot happen for a timer armed at its end)
        self._close_idle()
        self.transport.close()

    def _close_idle(self) -> None:
        """Protocol bookkeeping before an idle connection is closed."""


class NoDelayH11Protocol(_Guards, H11Protocol):
    """uvicorn's h11 protocol (pure Python) with the guards."""

    def _close_idle(self) -> None:
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())


GuardedProtocol: Any = NoDelayH11Protocol
try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: h11 it is
    pass
else:

    class NoDelayHttpToolsProtocol(_Guards, HttpToolsProtocol):  # type: ignore[misc]
        """uvicorn's httptools protocol (llhttp, in C) with the guards."""

    GuardedProtocol = NoDelayHttpToolsProtocol
