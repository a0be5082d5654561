"""Whole HTTP error responses written by the protocol itself, before any app sees the request."""

from __future__ import annotations

import json


def refusal(status: str, detail: str, retry_after: bool = False) -> bytes:
    """A JSON error response ``{"detail": ...}`` that closes the connection."""
    body = json.dumps({"detail": detail}).encode()
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    if retry_after:
        head += "retry-after: 1\r\n"
    return (head + "connection: close\r\n\r\n").encode() + body
