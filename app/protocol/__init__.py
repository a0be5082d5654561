"""uvicorn's HTTP protocols with the guards a public server needs, one concern per module.

- :mod:`.nodelay`: ``TCP_NODELAY`` on every connection (keep-alive answers must not wait for the
  client's delayed ACK; docs/upstream.md);
- :mod:`.header_timeout`: a connection that has not completed a request's headers
  ``DIGITS_HEADER_TIMEOUT`` seconds after it opened (or after its last answer) is closed, so silent or
  dripping clients cannot hold descriptors (the body's own deadline is :mod:`app.limits`'s);
- :mod:`.header_cap`: request line and headers over 16 KiB get a 431, however the bytes arrive
  (llhttp has no such cap; docs/upstream.md);
- :mod:`.connection_cap`: past ``DIGITS_MAX_CONNECTIONS`` open connections in a worker (kept under the
  process's file limit), a new connection gets a JSON 503 and is closed;
- :mod:`.guards`: the mixin wiring them into uvicorn's engines, and :data:`GuardedProtocol`, the
  fastest installed one (httptools, llhttp in C, when the package is there, as with this project's
  dependencies; else h11, pure Python).

Use it wherever the service runs: ``uvicorn app.main:app --http app.protocol:GuardedProtocol``.
``digits-serve`` and the Docker image select it by themselves.
"""

from .guards import SPEC, GuardedH11Protocol, GuardedProtocol

__all__ = ["SPEC", "GuardedH11Protocol", "GuardedProtocol"]
