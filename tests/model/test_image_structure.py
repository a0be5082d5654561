"""Image headers are walked in bounded steps: a file of a few megabytes made of tiny blocks is refused
before Pillow walks them one by one; real images, with their metadata, pass."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from benchmarks.hostile_inputs import _chunk, padded_gif, padded_jpeg, padded_png
from model.recipe import UnsupportedImageError, preprocess
from model.recipe.decode import read_header
from model.recipe.structure import (
    MAX_GIF_STEPS,
    MAX_JPEG_STEPS,
    MAX_PNG_CHUNKS,
    MAX_PNG_DATA_CHUNKS,
    MAX_TIFF_TAGS,
    check_structure,
    tiff_tags,
)
from tests.helpers import encode


@pytest.fixture(scope="module")
def stroke() -> np.ndarray:
    a = np.zeros((28, 28), np.uint8)
    a[5:23, 12:16] = 255
    return a


def _after_data(png: bytes, chunks: int) -> bytes:
    end = png.index(b"IEND") - 4
    return png[:end] + _chunk(b"tEXt", b"a\x00") * chunks + png[end:]


def _empty_data_chunks(png: bytes, chunks: int) -> bytes:
    first = png.index(b"IDAT") - 4
    return png[:first] + _chunk(b"IDAT", b"") * chunks + png[first:]


def test_png_padded_with_text_chunks_is_refused_before_pillow(stroke: np.ndarray) -> None:
    data = padded_png(encode(stroke, "PNG"), 559_000)  # the 8 MB file of issue 31
    assert len(data) > 7_800_000
    with pytest.raises(UnsupportedImageError, match="more than 1024 metadata chunks"):
        read_header(data)


@pytest.mark.parametrize("where", ["before", "after"])
def test_png_metadata_chunks_are_counted_wherever_they_are(stroke: np.ndarray, where: str) -> None:
    png = encode(stroke, "PNG")  # IHDR and IEND are metadata chunks too
    pad = padded_png if where == "before" else _after_data
    assert read_header(pad(png, MAX_PNG_CHUNKS - 2)).size == (28, 28)
    with pytest.raises(UnsupportedImageError, match="metadata chunks"):
        check_structure(pad(png, MAX_PNG_CHUNKS - 1))


def test_png_image_data_chunks_are_counted(stroke: np.ndarray) -> None:
    png = encode(stroke, "PNG")  # one IDAT of its own
    assert preprocess(_empty_data_chunks(png, MAX_PNG_DATA_CHUNKS - 1)).shape == (28, 28)
    with pytest.raises(UnsupportedImageError, match=r"image data \(IDAT\) chunks"):
        check_structure(_empty_data_chunks(png, MAX_PNG_DATA_CHUNKS))


def test_jpeg_padded_with_comments_is_refused(stroke: np.ndarray) -> None:
    jpeg = encode(stroke, "JPEG")
    with pytest.raises(UnsupportedImageError, match="JPEG has more than 1024 markers"):
        read_header(padded_jpeg(jpeg, 1_300_000))
    steps = len(_jpeg_segments(jpeg))  # the steps a plain JPEG takes before its scan
    assert read_header(padded_jpeg(jpeg, MAX_JPEG_STEPS - steps)).size == (28, 28)
    with pytest.raises(UnsupportedImageError):
        check_structure(padded_jpeg(jpeg, MAX_JPEG_STEPS - steps + 1))


def _jpeg_segments(jpeg: bytes) -> list[int]:
    """The markers of a plain JPEG from its second to its first scan (SOS), by their lengths."""
    pos, found = 2, []
    while jpeg[pos + 1] != 0xDA:
        found.append(jpeg[pos + 1])
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
    return found + [0xDA]


@pytest.mark.parametrize("padding", [b"\xff" * 2000, b"\x00" * 2000])
def test_jpeg_fill_and_stray_bytes_count_as_steps(stroke: np.ndarray, padding: bytes) -> None:
    jpeg = encode(stroke, "JPEG")
    at = 4 + int.from_bytes(jpeg[4:6], "big")  # after the first segment (APP0)
    with pytest.raises(UnsupportedImageError):
        check_structure(jpeg[:at] + padding + jpeg[at:])
    assert read_header(jpeg[:at] + padding[:100] + jpeg[at:]).size == (28, 28)


def test_gif_padded_with_comments_is_refused(stroke: np.ndarray) -> None:
    gif = encode(stroke, "GIF")
    with pytest.raises(UnsupportedImageError, match="GIF has more than 4096 blocks"):
        read_header(padded_gif(gif, 1_600_000))
    comments = MAX_GIF_STEPS // 3  # a comment is three steps: the block, its byte, its end
    assert read_header(padded_gif(gif, comments - 4)).size == (28, 28)
    with pytest.raises(UnsupportedImageError):
        check_structure(padded_gif(gif, comments + 1))


def test_gif_one_comment_of_many_sub_blocks_is_refused(stroke: np.ndarray) -> None:
    gif = encode(stroke, "GIF")
    start = padded_gif(gif, 1).index(b"\x21\xfe\x01a\x00")  # where padded_gif puts its comments
    comment = b"\x21\xfe" + b"\x01a" * (MAX_GIF_STEPS + 1) + b"\x00"
    with pytest.raises(UnsupportedImageError):
        check_structure(gif[:start] + comment + gif[start:])


def test_real_images_with_metadata_pass() -> None:
    """Photos with EXIF and ICC, progressive JPEG, animated GIF with a loop and comments, a large PNG in
    many data chunks, a PNG with text: none comes near a limit."""
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (600, 800, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "camera"
    icc = b"\x00" * 3000
    frames = [Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)) for _ in range(30)]
    files = [
        encode(photo, "JPEG", exif=exif, icc_profile=icc, quality=90),
        encode(photo, "JPEG", progressive=True, exif=exif, comment=b"a comment"),
        _gif(frames),
        encode(Image.fromarray(rng.integers(0, 256, (1500, 1500, 3), dtype=np.uint8)), "PNG", compress_level=1),
        _png_with_text(photo),
    ]
    for data in files:
        check_structure(data)
        read_header(data)


def _gif(frames: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], loop=0, comment=b"hello")
    return buf.getvalue()


def _png_with_text(im: Image.Image) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for i in range(50):
        info.add_text(f"key{i}", "value " * 20)
    buf = io.BytesIO()
    im.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def _exif(tags: int, order: str = "II") -> bytes:
    """TIFF-structured EXIF data whose first directory has ``tags`` private SHORT entries."""
    e = "<" if order == "II" else ">"
    entries = b"".join(struct.pack(e + "HHII", 32768 + i, 3, 1, 0) for i in range(tags))
    magic = b"*\x00" if order == "II" else b"\x00*"
    return order.encode() + magic + struct.pack(e + "I", 8) + struct.pack(e + "H", tags) + entries + b"\0\0\0\0"


def _tiff_with_tags(stroke: np.ndarray, extra: int) -> bytes:
    """A 28x28 TIFF whose first directory is rewritten with ``extra`` private tags after its own."""
    data = encode(stroke, "TIFF")
    first = struct.unpack_from("<I", data, 4)[0]
    count = struct.unpack_from("<H", data, first)[0]
    own = [data[first + 2 + 12 * i : first + 14 + 12 * i] for i in range(count)]
    added = [struct.pack("<HHII", 50000 + i, 3, 1, 0) for i in range(extra)]
    at = len(data) + len(data) % 2
    out = bytearray(data + b"\0" * (len(data) % 2))
    out[4:8] = struct.pack("<I", at)
    return bytes(out) + struct.pack("<H", count + extra) + b"".join(own + added) + b"\0\0\0\0"


def test_tiff_with_many_tags_is_refused(stroke: np.ndarray) -> None:
    assert preprocess(_tiff_with_tags(stroke, 100)).shape == (28, 28)
    with pytest.raises(UnsupportedImageError, match=f"TIFF has more than {MAX_TIFF_TAGS} tags"):
        read_header(_tiff_with_tags(stroke, MAX_TIFF_TAGS))


@pytest.mark.parametrize("order", ["II", "MM"])
def test_exif_with_many_tags_is_refused_wherever_it_is(stroke: np.ndarray, order: str) -> None:
    png = encode(stroke, "PNG")
    before, after = png[:33], png[33:]
    assert preprocess(before + _chunk(b"eXIf", _exif(100, order)) + after).shape == (28, 28)
    with pytest.raises(UnsupportedImageError, match=f"EXIF data has more than {MAX_TIFF_TAGS} tags"):
        preprocess(before + _chunk(b"eXIf", _exif(MAX_TIFF_TAGS + 1, order)) + after)
    end = png.index(b"IEND") - 4  # after the image data: read as the pixels are
    with pytest.raises(UnsupportedImageError, match="EXIF data"):
        preprocess(png[:end] + _chunk(b"eXIf", _exif(MAX_TIFF_TAGS + 1, order)) + png[end:])
    with pytest.raises(UnsupportedImageError, match="EXIF data"):
        preprocess(encode(stroke, "JPEG", exif=b"Exif\x00\x00" + _exif(MAX_TIFF_TAGS + 1, order)))


def test_tiff_tags_reads_classic_and_big_tiff() -> None:
    assert tiff_tags(_exif(7)) == 7 and tiff_tags(_exif(7, "MM")) == 7
    big = b"II+\x00" + struct.pack("<HHQ", 8, 0, 16) + struct.pack("<Q", 5000)
    assert tiff_tags(big) == 5000
    assert tiff_tags(b"II*\x00" + struct.pack("<I", 999)) is None  # a directory past the end
    assert tiff_tags(b"not tiff") is None
