"""uvicorn's h11 HTTP protocol with Nagle's algorithm turned off on every connection.

With ``--workers N`` (N > 1) uvicorn binds the listening socket itself, with ``proto`` left at 0, and
passes it to the workers. Accepted sockets inherit that ``proto``, and asyncio sets ``TCP_NODELAY``
only on sockets whose ``proto`` is TCP. So each keep-alive response waits for the client's delayed
ACK, about 40 ms on Linux (Kludex/uvicorn#3149, still open in uvicorn 0.54).

Measured here, 2 workers at 16 connections: 313-362 req/s at a p50 of 44-51 ms, for this app and for an
app that only decodes the PNG alike; 1,379-1,459 req/s at 10-11 ms with this protocol; 563-703 req/s
with 1 worker, which is not affected (asyncio builds its listener from ``getaddrinfo`` then). Use this protocol wherever
there is more than one worker::

    uvicorn app.main:app --workers 2 --http app.nodelay:NoDelayH11Protocol

``digits-serve`` and the Docker image select it by themselves.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

SPEC = "app.nodelay:NoDelayH11Protocol"  # the value of uvicorn's --http option


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


class NoDelayH11Protocol(H11Protocol):
    """``H11Protocol`` that sends each response as soon as it is written."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)
