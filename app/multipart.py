"""multipart/form-data bodies read in memory, with python-multipart's parser.

Starlette's form parser (what ``UploadFile`` uses) spools every file part into a temporary file and
wraps it in an ``UploadFile``, several times the parser's own cost for a small image. The
service only needs the bytes of a few small images, and the body is already capped by
:mod:`app.limits`, so the parts are kept as bytes. Same rules as Starlette's parser: every part needs a
``Content-Disposition`` ``name``; a part with a ``filename`` is a file; the counts of files and of other
fields are bounded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

# RFC 2046 allows boundaries of 1 to 70 characters; a few more are tolerated for sloppy clients, and
# the limit is ours (below python-multipart's own 256), so the refusal says what is accepted.
MAX_BOUNDARY = 200


class MultipartError(ValueError):
    """The body is not multipart/form-data this service can read; the message says why."""


class TooManyFilesError(MultipartError):
    """More file parts than allowed."""


@dataclass
class Part:
    """One part: its field name, and its bytes if it is a file (None for a text field)."""

    name: str
    data: bytearray | None = None


@dataclass
class _Collector:
    """python-multipart callbacks that keep the parts in memory."""

    max_files: int
    max_fields: int
    parts: list[Part] = field(default_factory=list)
    files: int = 0
    fields: int = 0
    header_name: bytes = b""
    header_value: bytes = b""
    disposition: bytes = b""

    def on_part_begin(self) -> None:
        self.disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if b"name" not in options:
            raise MultipartError('every part needs a Content-Disposition header with a "name"')
        name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            self.files += 1
            if self.files > self.max_files:
                raise TooManyFilesError(f"more than {self.max_files} files")
            self.parts.append(Part(name, bytearray()))
        else:
            self.fields += 1
            if self.fields > self.max_fields:
                raise MultipartError(f"more than {self.max_fields} text fields")
            self.parts.append(Part(name))  # a text field's value is not needed: only that it is text

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.parts[-1] if self.parts else None
        if part is not None and part.data is not None:
            part.data += data[start:end]


async def read_parts(content_type: str, chunks: AsyncIterator[bytes], max_files: int, max_fields: int) -> list[Part]:
    """The parts of a multipart/form-data body arriving as ``chunks``, in order.

    Raises :class:`TooManyFilesError` past ``max_files`` file parts, :class:`MultipartError` for
    anything else wrong (no boundary, a part without a name, too many text fields, broken framing).
    """
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise MultipartError("no boundary in the Content-Type")
    if len(boundary) > MAX_BOUNDARY:
        raise MultipartError(
            f"the boundary is {len(boundary)} characters long; at most {MAX_BOUNDARY} are accepted (RFC 2046 allows 70)"
        )
    collector = _Collector(max_files, max_fields)
    callbacks = {
        name: getattr(collector, name)
        for name in (
            "on_part_begin",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_part_data",
        )
    }
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        async for chunk in chunks:
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise MultipartError(f"broken multipart framing: {exc}") from None
    return collector.parts
