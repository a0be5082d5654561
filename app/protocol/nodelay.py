"""``TCP_NODELAY`` on a connection: an answer goes out at once, not after the client's delayed ACK."""

from __future__ import annotations

import asyncio
import socket


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
