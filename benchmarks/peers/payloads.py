"""The request every server gets, its two images and its two kinds of upload.

The same request everywhere: ``POST /predict`` (``benchmarks/http/upload.lua``), uploaded two ways:

- ``multipart``: multipart/form-data, one field ``file`` (what ``curl -F file=@x.png`` sends);
- ``raw``: the PNG as the whole body with ``Content-Type: image/png`` (what ``curl --data-binary @x.png
  -H 'Content-Type: image/png'`` sends), to every server that takes one (``Server.raw_body``).

Each with two payloads: a 28x28 PNG of MNIST test digit #0 (white on black, as ``bench_http.sh``
sends) and a 280x280 transparent canvas like the draw-pad's (anti-aliased dark round-pen strokes 0.07
of the canvas height wide, as ``app/static/app.js`` paints them, tracing test digit #1 off-centre;
seeded, so the same bytes every run; both written to the cache). A payload and an upload make a
*case*, named by :func:`case`: ``28x28`` and ``canvas`` (multipart, the names they always had),
``28x28-raw`` and ``canvas-raw``.
"""

from __future__ import annotations

import http.client
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.peers.servers import ROOT

SAMPLE = ROOT / "tests" / "data" / "mnist_test_sample.npz"
PEN_WIDTH = 0.07  # app/static/app.js LINE_WIDTH: the draw-pad's stroke width, a fraction of the canvas height
DRAW_PAD_INK = (17, 17, 17)  # app/static/app.js INK = "#111111", on a transparent canvas
PAYLOADS = ("28x28", "canvas")
UPLOADS = ("multipart", "raw")
TITLES = {"28x28": "28x28 PNG (MNIST test digit #0)", "canvas": "280x280 transparent canvas PNG"}
BOUNDARY = "----benchpeers7MA4YWxkTrZu0gW"
MULTIPART_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
RAW_TYPE = "image/png"


def case(payload: str, upload: str) -> str:
    """The name of ``payload`` sent as ``upload``: the payload's own for multipart, ``-raw`` after it."""
    return payload if upload == "multipart" else f"{payload}-{upload}"


def split_case(name: str) -> tuple[str, str]:
    """:func:`case`'s inverse: ``(payload, upload)``."""
    payload, _, upload = name.partition("-")
    return payload, upload or "multipart"


CASES = tuple(case(p, u) for u in UPLOADS for p in PAYLOADS)  # the tables' order


def title(name: str) -> str:
    """A case's table heading (the multipart ones keep the headings they always had)."""
    payload, upload = split_case(name)
    return TITLES[payload] + ("" if upload == "multipart" else ", raw body (Content-Type: image/png)")


def make_payloads(directory: Path) -> dict[str, Path]:
    """The 28x28 PNG and the draw-pad canvas PNG, deterministic, written to ``directory``.

    The canvas is drawn the way the draw-pad's ``paint()`` does: dark ink, round pen 0.07 of the canvas
    height wide, anti-aliased (drawn 4x larger, then area-averaged), on a transparent canvas whose empty
    pixels are (0, 0, 0, 0) as a browser's ``canvas.toDataURL('image/png')`` leaves them.
    """
    from model.generators import canvas as cv
    from model.generators.pen import pen_redraw

    directory.mkdir(parents=True, exist_ok=True)
    with np.load(SAMPLE) as f:
        x = f["x"]
    small = directory / "digit-28x28.png"
    Image.fromarray(x[0], mode="L").save(small)  # test digit #0 (a 7), as bench_http.sh sends it
    side, up = 280, 4
    rng = np.random.default_rng(2026)
    box = cv.random_box(rng, (side, side), (0.45, 0.6))  # the digit's ink 45-60 % of the height, off-centre
    big = pen_redraw(x[1], (side * up, side * up), (box[0] * up, box[1] * up, box[2] * up), PEN_WIDTH * side * up)
    alpha = np.asarray(big.resize((side, side), Image.Resampling.BOX))  # test digit #1 (a 2), anti-aliased
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[alpha > 0, :3] = DRAW_PAD_INK
    rgba[..., 3] = alpha
    canvas = directory / "canvas-280x280.png"
    canvas.write_bytes(cv.encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    return {"28x28": small, "canvas": canvas}


def multipart(data: bytes) -> bytes:
    """The body ``upload.lua`` sends for multipart (same boundary and headers)."""
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="digit.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def request_body(upload: str, data: bytes) -> tuple[str, bytes]:
    """The Content-Type and body that send the image ``data`` as ``upload`` (as ``upload.lua`` does)."""
    return (MULTIPART_TYPE, multipart(data)) if upload == "multipart" else (RAW_TYPE, data)


def post(port: int, body: bytes, timeout: float = 10.0, content_type: str = MULTIPART_TYPE) -> tuple[int, bytes]:
    """``POST /predict`` with ``body`` (multipart unless told): the status and the response's bytes."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/predict", body, {"Content-Type": content_type})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()
