"""The cap on open connections of a worker, kept under the process's file-descriptor limit."""

from __future__ import annotations

import resource
from dataclasses import dataclass
from typing import Final

from ..settings import Settings
from .refusals import refusal

FD_RESERVE: Final = 64  # descriptors kept free beside the connections (listener, logs, weights, pipes)


@dataclass(frozen=True)
class ConnectionLimits:
    """What the guards enforce on one worker's connections."""

    header_timeout: float  # seconds a connection may take to complete a request's headers
    max_connections: int  # open connections; past it, a new one gets a 503

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        """The settings' limits, the connection cap kept ``FD_RESERVE`` under the soft file limit."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        cap = settings.max_connections
        if soft != resource.RLIM_INFINITY:
            cap = max(1, min(cap, soft - FD_RESERVE))
        return cls(settings.header_timeout, cap)


def busy_response(open_connections: int) -> bytes:
    """The 503 for a connection over the cap."""
    return refusal(
        "503 Service Unavailable",
        f"the server has {open_connections} open connections (DIGITS_MAX_CONNECTIONS); retry shortly",
        retry_after=True,
    )
