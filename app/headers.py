"""Security headers on every answer (pure ASGI middleware), and the Content-Security-Policy of each page.

Every response: ``X-Content-Type-Options: nosniff`` (a JSON error is never sniffed as HTML),
``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY`` with CSP ``frame-ancestors 'none'`` (no
clickjacking through a frame). HTML pages get a full policy from :data:`PAGE_CSP` or, for ``/docs``
whose inline start-up script is allowed by its hash, from :func:`docs_csp`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The draw-pad (app/static): same-origin script, stylesheet and fetch; images from data: and blob: URLs.
PAGE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP: Final = "default-src 'none'; frame-ancestors 'none'"  # JSON and text answers load nothing
COMMON: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


def docs_csp(html: str) -> str:
    """The policy of the Swagger UI page ``html``: its own assets, and its inline scripts by hash."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware:
    """Add the common headers to every HTTP response, and ``PAGE_CSP`` (or the policy a page set
    itself) to HTML, ``API_CSP`` to the rest."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                headers.extend(h for h in COMMON if h[0] not in names)
                if b"content-security-policy" not in names:
                    html = any(n.lower() == b"content-type" and v.startswith(b"text/html") for n, v in headers)
                    headers.append((b"content-security-policy", (PAGE_CSP if html else API_CSP).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
