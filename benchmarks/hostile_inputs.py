"""Small inputs that were costly to process (issue 31), built the way an attacker would send them.

Shared by ``benchmarks/bench_hostile.py`` (which measures them against a real server) and
``tests/test_bounded_inputs.py`` (which checks each is answered with a bounded amount of work).
"""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
from PIL import Image


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def speck_canvas(width: int, height: int, every: int, dot: int = 4) -> bytes:
    """A ``width x height`` PNG, black on white: a bar as tall as the canvas's middle half (it sets the
    line height, so every dot is a speck near other specks) and a grid of ``dot``-pixel dots every
    ``every`` pixels. Compresses to a few kilobytes whatever its size."""
    a = np.full((height, width), 255, np.uint8)
    for y in range(every // 2, height, every):
        for x in range(every // 2, width, every):
            a[y : y + dot, x : x + dot] = 0
    a[height // 4 : 3 * height // 4, 8:20] = 0  # the bar
    return _png(Image.fromarray(a))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def padded_png(image: bytes, chunks: int) -> bytes:
    """The PNG ``image`` with ``chunks`` tiny ``tEXt`` chunks (15 bytes each) inserted before its image
    data: still a valid PNG, whose header read walks every chunk."""
    ihdr_end = 8 + 25  # signature, then IHDR (4 length + 4 type + 13 data + 4 CRC)
    return image[:ihdr_end] + _chunk(b"tEXt", b"a\x00") * chunks + image[ihdr_end:]


def padded_jpeg(image: bytes, markers: int) -> bytes:
    """The JPEG ``image`` with ``markers`` tiny COM segments (6 bytes each) after its SOI marker."""
    return image[:2] + b"\xff\xfe\x00\x04ab" * markers + image[2:]


def padded_gif(image: bytes, blocks: int) -> bytes:
    """The GIF ``image`` with ``blocks`` tiny comment extensions (6 bytes each) before its first image
    descriptor (after the header, the logical screen descriptor and any global colour table)."""
    flags = image[10]
    table = 3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0
    start = 13 + table
    return image[:start] + b"\x21\xfe\x01a\x00" * blocks + image[start:]


def many_keys_json(keys: int) -> bytes:
    """A JSON object with ``keys`` unknown short keys (no ``image``)."""
    return json.dumps({f"k{i}": 0 for i in range(keys)}).encode()


def multipart_body(boundary: str, image: bytes) -> tuple[bytes, str]:
    """One ``files`` part holding ``image`` under ``boundary``: ``(body, content type)``."""
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + image
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def big_headers_request(path: str, body: bytes, content_type: str, header_bytes: int) -> bytes:
    """A whole HTTP/1.1 POST whose header block holds about ``header_bytes`` bytes of ``X-Pad`` headers
    (each under 1 KB), to be sent in one piece."""
    pad = "".join(f"X-Pad-{i}: {'a' * 1000}\r\n" for i in range(header_bytes // 1012 + 1))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{pad}\r\n"
    )
    return head.encode() + body
