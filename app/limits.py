"""What one request may take from a worker, enforced around the app (pure ASGI middleware).

For every HTTP request, :class:`LimitsMiddleware`:

- caps the body at ``max_upload_bytes``: a declared ``Content-Length`` over it fails on the first read,
  before any byte is taken in; a chunked body fails as soon as the bytes read pass it (413);
- reserves the body's bytes from the worker's :class:`ByteBudget` (``max_buffered_bytes``) before the
  first byte is read; a body that does not fit within ``ADMISSION_WAIT`` seconds is a 503 with
  ``Retry-After``, so a burst of large uploads waits in the kernel's socket buffers, not in our memory
  (small bodies never wait behind large ones);
- gives the body ``body_timeout`` seconds to arrive (408), then the answer ``request_timeout``
  seconds (a JSON 504); a bodiless request has ``request_timeout`` from its start;
- once the body is in, watches the connection: a client that disconnects cancels its request, so the
  predictor drops its images before decoding them (the answer is only counted, as 499).

Errors of the body phase are raised inside the app's ``receive()`` as :class:`~app.errors.ApiError` and
answered by the app's handlers, with ``Connection: close`` (the rest of the body is never read). After a
large body, freed heap memory goes back to the system
(:func:`~app.memory.release_free_memory`, a second after the last large body is let go).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections import deque
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import BodyTimeoutError, PayloadTooLargeError, ServiceBusyError
from .memory import HEAVY_BYTES, TRIM_DELAY, release_free_memory
from .protocol.guards import GUARDED, SPEC

SMALL_BODY: Final = 64 * 1024  # bytes: bodies this small never queue behind large ones
ADMISSION_WAIT: Final = 2.0  # seconds a body may wait for room in the byte budget before a 503
CLOSE: Final = {"Connection": "close"}  # on errors raised before the whole body was read
logger = logging.getLogger("app")


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length`` in bytes, or None if absent or unreadable."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class ByteBudget:
    """Request body bytes one worker holds at once: reserved before reading, released after answering.

    Large bodies queue first come, first served for all but an eighth of the budget; bodies up to
    ``SMALL_BODY`` never queue behind them and may use that last eighth, so a burst of 8 MB uploads
    does not make a 300-byte digit wait. A body larger than the large bodies' share (but under the
    upload cap) may still have that share to itself.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.large_limit = limit - limit // 8
        self.held = 0
        self.peak = 0  # most held since the last trim
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._trim: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> int:
        """Bodies queued for room."""
        return len(self._waiters)

    def share(self, size: int) -> int:
        """The bytes a body of ``size`` reserves (capped at what its kind may ever hold)."""
        return size if size <= SMALL_BODY else min(size, self.large_limit)

    async def acquire(self, size: int, wait: float) -> int:
        """Reserve ``share(size)`` bytes, waiting up to ``wait`` seconds: the bytes reserved (to give
        back to :meth:`release`), 0 if they never fitted."""
        size = self.share(size)
        if size <= SMALL_BODY and self.held + size <= self.limit:
            self._take(size)
            return size
        if not self._waiters and self.held + size <= self.large_limit:
            self._take(size)
            return size
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (size, future)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(future), wait)
            return size
        except (TimeoutError, asyncio.CancelledError):
            if future.done():  # granted just as we gave up: hand it on
                self.release(size)
            else:
                future.cancel()
                self._waiters.remove(entry)
                self._wake()
            if isinstance(sys.exc_info()[1], asyncio.CancelledError):
                raise
            return 0

    def release(self, size: int) -> None:
        """Give back bytes that :meth:`acquire` reserved."""
        self.held -= size
        self._wake()
        if self.held == 0 and self.peak >= HEAVY_BYTES:
            loop = asyncio.get_running_loop()
            if self._trim is not None:
                self._trim.cancel()
            self._trim = loop.call_later(TRIM_DELAY, self._start_trim, loop)

    def _take(self, size: int) -> None:
        self.held += size
        self.peak = max(self.peak, self.held)
        if self._trim is not None:
            self._trim.cancel()
            self._trim = None

    def _wake(self) -> None:
        while self._waiters and self.held + self._waiters[0][0] <= self.large_limit:
            size, future = self._waiters.popleft()
            self._take(size)
            future.set_result(None)

    def _start_trim(self, loop: asyncio.AbstractEventLoop) -> None:
        self._trim = None
        if self.held == 0:
            self.peak = 0
            loop.run_in_executor(None, release_free_memory)


class LimitsMiddleware:
    """Body cap, byte budget, body and answer deadlines, and disconnect detection (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        budget: ByteBudget,
        body_timeout: float,
        request_timeout: float,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.budget = budget
        self.body_timeout = body_timeout
        self.request_timeout = request_timeout
        self.checked_protocol = False  # warned (once) if the server's protocol is not app.protocol's

    def too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"request body is larger than {self.max_bytes} bytes (DIGITS_MAX_UPLOAD_BYTES); "
            "send a smaller image (a 28x28 to 1000x1000 PNG is plenty) or fewer images per batch",
            CLOSE,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.checked_protocol:
            self.checked_protocol = True
            client = scope.get("client")
            if not scope.get("state", {}).get(GUARDED) and client is not None and client[0] != "testclient":
                logger.warning(
                    "served without %s: no header timeout and no connection cap (slow clients can hold "
                    "connections); start with digits-serve or uvicorn --http %s", SPEC, SPEC
                )
        await _Request(self, scope, receive, send).run()


class _Request:
    """The state of one request under :class:`LimitsMiddleware`."""

    def __init__(self, limits: LimitsMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
        self.limits = limits
        self.scope = scope
        self.receive = receive
        self.send = send
        self.declared = declared_length(scope)
        self.received = 0
        self.reserved = 0
        self.reading = False  # the body phase has begun (the app asked for it)
        self.watcher: asyncio.Task[Message] | None = None
        self.started = False  # the response has begun
        self.disconnected = False
        self.deadline: asyncio.Timeout | None = None

    async def run(self) -> None:
        try:
            async with asyncio.timeout(self.limits.request_timeout) as self.deadline:
                await self.limits.app(self.scope, self.limited_receive, self.send_tracked)
        except TimeoutError:
            if self.disconnected:
                await self.answer(499, "the client disconnected")
            elif not self.started:
                seconds = self.limits.request_timeout
                await self.answer(504, f"no answer within {seconds:g} s (DIGITS_REQUEST_TIMEOUT); retry, or "
                                  "send fewer or smaller images per request")
        finally:
            if self.watcher is not None:
                self.watcher.cancel()
            if self.reserved:
                self.limits.budget.release(self.reserved)

    async def send_tracked(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)

    async def answer(self, status: int, detail: str) -> None:
        """A JSON error sent by the middleware itself (the app was cancelled)."""
        body = json.dumps({"detail": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 504 and self.reading and self.watcher is None:
            headers.append((b"connection", b"close"))
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})

    async def limited_receive(self) -> Message:
        if self.watcher is not None:  # the body is in: the next message is the disconnect
            return await asyncio.shield(self.watcher)
        if not self.reading:
            await self.begin_body()
        try:
            message = await self.receive()
        except asyncio.CancelledError:
            if self.deadline is not None and self.deadline.expired() and not self.disconnected:
                raise BodyTimeoutError(
                    f"the request body did not arrive within {self.limits.body_timeout:g} s "
                    "(DIGITS_BODY_TIMEOUT); send it at once",
                    CLOSE,
                ) from None
            raise
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limits.max_bytes:
                raise self.limits.too_large()
            if self.declared is None and self.received > self.reserved:
                await self.reserve(self.received - self.reserved)
            if not message.get("more_body", False):
                self.end_body()
        return message

    async def begin_body(self) -> None:
        """The app wants the body: check the declared size, reserve it, start the body clock."""
        self.reading = True
        if self.declared is not None and self.declared > self.limits.max_bytes:
            raise self.limits.too_large()
        assert self.deadline is not None
        self.deadline.reschedule(asyncio.get_running_loop().time() + self.limits.body_timeout)
        if self.declared:
            await self.reserve(self.declared)

    async def reserve(self, size: int) -> None:
        granted = await self.limits.budget.acquire(size, ADMISSION_WAIT)
        if not granted:
            raise ServiceBusyError(
                f"the service is holding {self.limits.budget.held} bytes of other uploads "
                "(DIGITS_MAX_BUFFERED_BYTES); retry in a few seconds",
                retry_after=2,
                headers=CLOSE,
            )
        self.reserved += granted

    def end_body(self) -> None:
        """The body is in: the answer's clock starts, and a disconnect now cancels the request."""
        loop = asyncio.get_running_loop()
        assert self.deadline is not None
        self.deadline.reschedule(loop.time() + self.limits.request_timeout)
        self.watcher = loop.create_task(self.watch())

    async def watch(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.disconnect" and not self.started and self.deadline is not None:
            self.disconnected = True
            self.deadline.reschedule(asyncio.get_running_loop().time())
        return message
