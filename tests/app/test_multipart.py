"""``app.multipart``: multipart/form-data bodies read in memory, whatever the chunking."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.multipart import MultipartError, TooManyFilesError, read_parts

BOUNDARY = "----b0undary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def body(*parts: tuple[str, bytes, bool]) -> bytes:
    """``(name, data, is_file)`` parts as one body, the way curl -F builds it."""
    out = b""
    for name, data, is_file in parts:
        filename = f'; filename="{name}.png"' if is_file else ""
        kind = "Content-Type: image/png\r\n" if is_file else ""
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"{filename}\r\n{kind}\r\n'.encode()
        out += data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def parse(data: bytes, size: int = 65536, max_files: int = 4, max_fields: int = 2, kind: str = CONTENT_TYPE) -> list:
    return asyncio.run(read_parts(kind, chunks_of(data, size), max_files, max_fields))


IMAGE = bytes(range(256)) * 3 + b"\r\n--not-the-boundary\r\n"  # binary, with CR LF and dashes inside


@pytest.mark.parametrize("size", [1, 7, 65536])
def test_parts_come_back_whole_and_in_order_whatever_the_chunking(size: int) -> None:
    parts = parse(body(("files", IMAGE, True), ("note", b"hello", False), ("files", b"\x89PNG", True)), size)
    assert [(p.name, None if p.data is None else bytes(p.data)) for p in parts] == [
        ("files", IMAGE),
        ("note", None),
        ("files", b"\x89PNG"),
    ]


def test_an_empty_file_is_an_empty_part() -> None:
    assert [p.data for p in parse(body(("file", b"", True)))] == [bytearray()]


def test_too_many_files_and_fields_are_refused() -> None:
    with pytest.raises(TooManyFilesError, match="more than 1 files"):
        parse(body(("file", b"a", True), ("file", b"b", True)), max_files=1)
    with pytest.raises(MultipartError, match="more than 2 text fields"):
        parse(body(*[(f"t{i}", b"x", False) for i in range(3)]))


@pytest.mark.parametrize(
    ("data", "kind", "why"),
    [
        (body(("file", b"a", True)), "multipart/form-data", "no boundary"),
        (body(("file", b"a", True)).replace(b'; name="file"', b""), CONTENT_TYPE, "name"),
        (b"garbage without any boundary line\r\n", CONTENT_TYPE, "framing"),
    ],
)
def test_broken_bodies_say_what_is_wrong(data: bytes, kind: str, why: str) -> None:
    with pytest.raises(MultipartError, match=why):
        parse(data, kind=kind)
