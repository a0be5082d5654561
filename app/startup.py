"""Loading the weights at start-up, and failing start-up cleanly: one line naming the file and the
reason, not a traceback.

A missing, corrupt, empty or non-finite weights file raises :class:`~app.errors.StartupError`;
:class:`CleanStartupMiddleware` trims uvicorn's start-up failure message to its one line.
"""

from __future__ import annotations

from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model import WeightsError, load

from .errors import StartupError
from .network import Network


def load_network(path: Path | None) -> Network:
    """The weights at ``path`` (None: the shipped ``weights/default.npz``) as an inference network."""
    try:
        return load(path)
    except WeightsError as exc:
        raise StartupError(f"cannot start: {exc} (set DIGITS_WEIGHTS to a valid weights file)") from None


class CleanStartupMiddleware:
    """Pure ASGI: report a start-up failure caused by :class:`StartupError` as its message alone."""

    prefix = f"{StartupError.__module__}.{StartupError.__qualname__}: "

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_trimmed(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                lines = str(message.get("message", "")).strip().splitlines()
                if lines and lines[-1].startswith(self.prefix):
                    message = {**message, "message": lines[-1][len(self.prefix) :]}
            await send(message)

        await self.app(scope, receive, send_trimmed)
