"""Image headers are walked in bounded steps: a file of a few megabytes made of tiny blocks is refused
before Pillow walks them one by one; real images, with their metadata, pass."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from benchmarks.hostile_inputs import _chunk, padded_gif, padded_jpeg, padded_png
from model.recipe import UnsupportedImageError, preprocess
from model.recipe.decode import read_header
from model.recipe.structure import MAX_GIF_STEPS, MAX_JPEG_STEPS, MAX_PNG_CHUNKS, MAX_PNG_DATA_CHUNKS, check_structure
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
