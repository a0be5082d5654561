"""The header timeout: a connection must complete each request's headers in time, or it is closed.

uvicorn times out idle keep-alive connections, but not one that sends nothing, or drips its request
headers (or the unread rest of a body after its answer): each would hold a file descriptor for good,
and a thousand of them lock everybody out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class HeaderTimer:
    """One connection's timer: :meth:`arm` at the connection's start and at each answer's end; when it
    fires, ``expire(cycle_when_armed)`` decides whether a request began since (then nothing happens)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, expire: Callable[[object], None]) -> None:
        self._loop = loop
        self._expire = expire
        self._handle: asyncio.TimerHandle | None = None

    def arm(self, seconds: float, cycle: object) -> None:
        self.cancel()
        self._handle = self._loop.call_later(seconds, self._fire, cycle)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self, cycle: object) -> None:
        self._handle = None
        self._expire(cycle)
