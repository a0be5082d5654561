"""uvicorn's h11 HTTP protocol with Nagle's algorithm off, a header timeout and a connection cap.

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

Use it wherever the service runs::

    uvicorn app.main:app --workers 2 --http app.nodelay:NoDelayH11Protocol

``digits-serve`` and the Docker image select it by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import socket
from functools import cache

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .settings import Settings

SPEC = "app.nodelay:NoDelayH11Protocol"  # the value of uvicorn's --http option
in_use = False  # set by the first connection this protocol serves in this process
FD_RESERVE = 64  # descriptors kept free beside the connections (listener, logs, weights, pipes)


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
    settings = Settings.from_env()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = settings.max_connections
    if soft != resource.RLIM_INFINITY:
        cap = max(1, min(cap, soft - FD_RESERVE))
    return settings.header_timeout, cap


def _busy_response(open_connections: int) -> bytes:
    body = json.dumps(
        {"detail": f"the server has {open_connections} open connections (DIGITS_MAX_CONNECTIONS); retry shortly"}
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nretry-after: 1\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class NoDelayH11Protocol(H11Protocol):
    """``H11Protocol`` that sends each response as soon as it is written, closes connections slow to
    send their headers, and refuses connections past the cap."""

    _header_timer: asyncio.TimerHandle | None = None

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

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer(connection_limits()[0])

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

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
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()
