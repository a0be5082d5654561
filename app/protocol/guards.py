"""The guards of :mod:`app.protocol` mixed into uvicorn's h11 and httptools protocols.

The limits come from the settings' one door (:func:`~app.settings.environment_settings`), read at a
class's first connection; a server built in code may set ``limits`` on a subclass instead. Each
connection marks uvicorn's per-app ``state`` (``scope["state"][GUARDED]``), so :mod:`app.limits` can
tell a server run without the guards.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, ClassVar, Final

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..settings import environment_settings
from .connection_cap import ConnectionLimits, busy_response
from .header_cap import HEADERS_TOO_LARGE, HeaderCounter
from .header_timeout import HeaderTimer
from .nodelay import set_nodelay

SPEC: Final = "app.protocol:GuardedProtocol"  # the value of uvicorn's --http option
GUARDED: Final = "digits.guarded_protocol"  # the key each guarded connection sets in uvicorn's app state


if TYPE_CHECKING:  # the mixin's view of the uvicorn protocol it is mixed into
    _Base = H11Protocol
else:
    _Base = object


class _Guards(_Base):
    """The guards, for any uvicorn HTTP protocol that has ``cycle``, ``connections``, ``transport``,
    ``loop``, ``app_state``, ``data_received`` and ``on_response_complete`` (h11's and httptools')."""

    limits: ClassVar[ConnectionLimits | None] = None  # None: from the settings, at the first connection
    _timer: HeaderTimer | None = None
    _headers: HeaderCounter

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)
        self.app_state[GUARDED] = True
        limits = self._limits()
        self._headers = HeaderCounter()
        if len(self.connections) > limits.max_connections:
            transport.write(busy_response(len(self.connections) - 1))
            transport.close()
            return
        self._timer = HeaderTimer(self.loop, self._header_timeout)
        self._timer.arm(limits.header_timeout, self.cycle)

    @classmethod
    def _limits(cls) -> ConnectionLimits:
        if cls.limits is None:
            cls.limits = ConnectionLimits.from_settings(environment_settings())
        return cls.limits

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers() and not self.transport.is_closing() and self._headers.over(data):
            self.transport.write(HEADERS_TOO_LARGE)  # before the parser sees them, however they arrived
            self.transport.close()
            return
        super().data_received(data)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._headers.reset()
        if not self.transport.is_closing() and self._timer is not None:
            self._timer.arm(self._limits().header_timeout, self.cycle)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        super().connection_lost(exc)

    def _awaiting_headers(self) -> bool:
        """No request's headers are complete since the last answer (or the connection's start)."""
        return self.cycle is None or self.cycle.response_complete

    def _header_timeout(self, cycle_when_armed: object) -> None:
        """Close the connection unless a new request has begun since the timer was armed."""
        if self.cycle is not cycle_when_armed or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered (cannot happen for a timer armed at its end)
        self._close_idle()
        self.transport.close()

    def _close_idle(self) -> None:
        """Protocol bookkeeping before an idle connection is closed."""


class GuardedH11Protocol(_Guards, H11Protocol):
    """uvicorn's h11 protocol (pure Python) with the guards."""

    def _close_idle(self) -> None:
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())


GuardedProtocol: Any = GuardedH11Protocol
try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: h11 it is
    pass
else:

    class GuardedHttpToolsProtocol(_Guards, HttpToolsProtocol):  # type: ignore[misc]
        """uvicorn's httptools protocol (llhttp, in C) with the guards."""

    GuardedProtocol = GuardedHttpToolsProtocol
