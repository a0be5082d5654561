"""An ASGI app for the upstream canaries of ``test_upstream.py``."""

from __future__ import annotations

from typing import Any


async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app whose start-up always fails."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "cannot start"})
