"""The request-body cap, enforced while the body is read (pure ASGI middleware).

Every ``receive()`` the application makes goes through a counter: a declared ``Content-Length`` over
the limit fails on the first read, before any byte is taken in, and a body without one (chunked) fails
as soon as the bytes read pass the limit. Raw bodies, multipart uploads and JSON are all read this way,
so none can hold more than the limit in memory. The failure is a :class:`~app.errors.PayloadTooLargeError`
raised inside the endpoint, which the error handlers turn into a JSON 413.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PayloadTooLargeError


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length`` in bytes, or None if absent or unreadable."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    """Cap every HTTP request body at ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"request body is larger than {self.max_bytes} bytes (DIGITS_MAX_UPLOAD_BYTES); "
            "send a smaller image (a 28x28 to 1000x1000 PNG is plenty) or fewer images per batch"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared is not None and declared > self.max_bytes:
                raise self.too_large()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self.too_large()
            return message

        await self.app(scope, limited_receive, send)
