"""The size cap on a request's line and headers, counted however the bytes arrive."""

from __future__ import annotations

import re
from typing import Final

from .refusals import refusal

MAX_HEADER_BYTES: Final = 16 * 1024  # request line and headers of one request, as h11's default limit
_BLANK_LINE: Final = re.compile(rb"\n\r?\n")  # the end of a request's headers
HEADERS_TOO_LARGE: Final = refusal(
    "431 Request Header Fields Too Large",
    f"the request line and headers exceed {MAX_HEADER_BYTES} bytes; send a shorter URL and fewer headers",
)


class HeaderCounter:
    """The bytes of one request's line and headers seen so far, fed the connection's data as it comes;
    :meth:`reset` at each answer's end."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count = 0  # bytes of the current request's line and headers
        self._started = False  # a byte other than CR or LF has come
        self._tail = b""  # the last two bytes seen (an end of headers split across two reads)

    def over(self, data: bytes) -> bool:
        """Count the header bytes of ``data``; is the cap passed?"""
        self.count += self._header_part(data)
        return self.count > MAX_HEADER_BYTES

    def _header_part(self, data: bytes) -> int:
        """How many bytes of ``data`` belong to the current request's line and headers: up to and
        including the empty line that ends them (CR LF, or a bare LF, as both parsers accept), or all of
        it. Empty lines before the request line, which the parsers skip, count as header bytes."""
        start = 0
        if not self._started:
            start = len(data) - len(data.lstrip(b"\r\n"))
            self._started = start < len(data)
            if not self._started:
                return len(data)
        seen = self._tail + data[start:]
        end = _BLANK_LINE.search(seen)
        if end is None:
            self._tail = seen[-2:]
            return len(data)
        return start + end.end() - len(self._tail)
