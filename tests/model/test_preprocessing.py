"""The preprocessing module on images as people send them: formats, modes, ink polarity, limits, and the
MNIST recipe itself (20x20 box, centre of mass at 14,14)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFilter

from model import recipe
from model.recipe import fit as pp
from tests.helpers import encode


@pytest.fixture(scope="module")
def seven_ink(sample: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The first sample digit (a 7), uint8 (28, 28), white on black."""
    x, y = sample
    assert y[0] == 7
    return x[0]


def upscale(digit: np.ndarray, factor: int) -> np.ndarray:
    """(28, 28) uint8 -> (28 f, 28 f) uint8, bicubic: a smooth, canvas-sized drawing of the digit."""
    side = 28 * factor
    return np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC))


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    w = a.astype(np.float64)
    idx = np.arange(28)
    return float((w.sum(1) * idx).sum() / w.sum()), float((w.sum(0) * idx).sum() / w.sum())


# --- the MNIST recipe ---------------------------------------------------------------------------


def test_an_mnist_digit_comes_back_almost_unchanged(sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = sample
    out = np.stack([pp.preprocess(encode(Image.fromarray(d))) for d in x[:100]])
    assert out.shape == (100, 28, 28) and out.dtype == np.uint8
    assert mean_abs_diff(out, x[:100]) < 4  # only the noise floor moves (MNIST is 0..255)


def test_output_is_centred_by_mass_and_fits_the_20_pixel_box(seven_ink: np.ndarray) -> None:
    canvas = np.zeros((300, 500), np.uint8)
    canvas[40:236, 250:446] = upscale(seven_ink, 7)  # far off-centre, 7x the size
    out = pp.preprocess(encode(Image.fromarray(canvas)))
    cy, cx = centre_of_mass(out)
    assert abs(cy - pp.CENTRE) < 0.3 and abs(cx - pp.CENTRE) < 0.3
    rows = np.flatnonzero((out >= 0.3 * 255).any(axis=1))
    cols = np.flatnonzero((out >= 0.3 * 255).any(axis=0))
    assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) in (19, 20, 21)


def test_aspect_ratio_is_kept() -> None:
    bar = np.zeros((200, 200), np.uint8)
    bar[20:180, 90:110] = 255  # a 1-like bar, 8:1
    out = pp.preprocess(encode(Image.fromarray(bar)))
    cols = np.flatnonzero((out > 128).any(axis=0))
    rows = np.flatnonzero((out > 128).any(axis=1))
    assert rows[-1] - rows[0] + 1 >= 18
    assert cols[-1] - cols[0] + 1 <= 4


def test_no_binarisation_grey_levels_survive(seven_ink: np.ndarray) -> None:
    out = pp.preprocess(encode(Image.fromarray(255 - upscale(seven_ink, 10))))
    assert len(np.unique(out)) > 50


def one_bit_png(digit: np.ndarray, side: int = 28) -> bytes:
    """(28, 28) uint8 white-on-black digit -> a ``side`` x ``side`` 1-bit black-on-white PNG: resized
    (bicubic), then thresholded at 128, as a paint program's pencil draws."""
    grey = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC))
    buf = io.BytesIO()
    Image.fromarray(np.where(grey >= 128, 0, 255).astype(np.uint8)).convert("1").save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("side", [20, 28, 36])  # enlarged, placed as it is, reduced less than 2x
def test_a_one_bit_digit_gets_soft_edges(seven_ink: np.ndarray, side: int, monkeypatch: pytest.MonkeyPatch) -> None:
    out = pp.preprocess(one_bit_png(seven_ink, side))
    greys = np.count_nonzero((out > 25) & (out < 230))
    monkeypatch.setattr(pp, "_soften", lambda field: field)
    hard = pp.preprocess(one_bit_png(seven_ink, side))
    assert greys > 2 * np.count_nonzero((hard > 25) & (hard < 230))  # soft edges, where there were few
    assert abs(int(out.sum(dtype=np.int64)) - int(hard.sum(dtype=np.int64))) < 0.02 * hard.sum()  # no ink added
    cy, cx = centre_of_mass(out)
    assert abs(cy - pp.CENTRE) < 0.5 and abs(cx - pp.CENTRE) < 0.5


def test_only_one_bit_digits_not_reduced_2x_are_softened(
    sample: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(field: np.ndarray) -> np.ndarray:
        raise AssertionError("softened")

    monkeypatch.setattr(pp, "_soften", refuse)
    x, _ = sample
    for d in x[:20]:
        pp.preprocess(encode(Image.fromarray(d)))  # grey MNIST digits, placed as they are
        pp.preprocess(encode(Image.fromarray(255 - upscale(d, 10))))  # grey canvases
        pp.preprocess(one_bit_png(d, 84))  # 1-bit, reduced about 3x: the resize anti-aliases it


@pytest.mark.parametrize(("height", "softened"), [(39, True), (40, False)])
def test_softening_stops_where_the_resize_averages_2x2_pixels(
    height: int, softened: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(pp, "_soften", lambda field: calls.append(1) or field)
    bar = np.zeros((height + 20, 40), bool)
    bar[10 : 10 + height, 15:25] = True  # 1-bit, a box ``height`` px tall: scale 20 / height
    pp.fit_digit(bar.astype(np.float32))
    assert bool(calls) is softened


@pytest.mark.parametrize(("side", "floor"), [(20, 0.975), (28, 0.985)])  # hard edges: 95 %, 96 %
def test_the_shipped_network_reads_one_bit_digits(
    sample: tuple[np.ndarray, np.ndarray], side: int, floor: float
) -> None:
    from model import load

    x, y = sample
    digits, is_digit = load().classify(np.stack([pp.preprocess(one_bit_png(d, side)) for d in x]))
    acc = float(np.mean(is_digit & (digits.argmax(axis=1) == y)))
    assert acc >= floor, f"{side} px 1-bit PNGs of the sample read at {acc:.2%}"


def test_thick_marker_strokes_are_thinned_towards_mnist_width(seven_ink: np.ndarray) -> None:
    thick = np.asarray(Image.fromarray(upscale(seven_ink, 10)).filter(ImageFilter.MaxFilter(15)))
    plain = pp.preprocess(encode(Image.fromarray(upscale(seven_ink, 10))))
    out = pp.preprocess(encode(Image.fromarray(thick)))
    assert pp.stroke_width(out / 255) < pp.stroke_width(plain / 255) + 0.6


# --- ink by content -----------------------------------------------------------------------------


def rgba(colour: tuple[int, int, int], alpha: np.ndarray) -> Image.Image:
    a = np.zeros((*alpha.shape, 4), np.uint8)
    a[..., :3] = colour
    a[..., 3] = alpha
    return Image.fromarray(a)


def blend(ink: np.ndarray, pen: tuple[int, int, int], paper: tuple[int, int, int]) -> Image.Image:
    t = ink[..., None].astype(np.float32) / 255
    rgb = np.asarray(paper, np.float32) * (1 - t) + np.asarray(pen, np.float32) * t
    return Image.fromarray(np.round(rgb).astype(np.uint8))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda ink: Image.fromarray(ink), id="light-on-dark"),
        pytest.param(lambda ink: Image.fromarray(255 - ink), id="dark-on-light"),
        pytest.param(lambda ink: rgba((0, 0, 0), ink), id="black-on-transparent"),
        pytest.param(lambda ink: rgba((255, 255, 255), ink), id="white-on-transparent"),
        pytest.param(lambda ink: rgba((200, 30, 30), ink), id="red-on-transparent"),
        pytest.param(lambda ink: blend(ink, (20, 40, 160), (250, 245, 225)), id="blue-on-cream"),
        pytest.param(lambda ink: blend(ink, (250, 220, 0), (30, 30, 30)), id="yellow-on-charcoal"),
        pytest.param(lambda ink: blend(ink, (0, 128, 0), (255, 255, 255)).convert("CMYK"), id="cmyk"),
    ],
)
def test_ink_is_decided_by_content(seven_ink: np.ndarray, make: object) -> None:
    reference = pp.preprocess(encode(Image.fromarray(upscale(seven_ink, 5))))
    im = make(upscale(seven_ink, 5))  # type: ignore[operator]
    fmt = "TIFF" if im.mode == "CMYK" else "PNG"
    assert mean_abs_diff(pp.preprocess(encode(im, fmt)), reference) < 6


def test_opaque_rgba_screenshot_reads_colours_not_alpha(seven_ink: np.ndarray) -> None:
    im = Image.fromarray(255 - upscale(seven_ink, 3)).convert("RGBA")  # alpha 255 everywhere
    reference = pp.preprocess(encode(Image.fromarray(upscale(seven_ink, 3))))
    assert mean_abs_diff(pp.preprocess(encode(im)), reference) < 6


def test_rgba_with_an_opaque_border_is_read_as_flattened_over_white(seven_ink: np.ndarray) -> None:
    rgb = blend(upscale(seven_ink, 3), (20, 40, 160), (250, 245, 225))
    opaque = rgb.convert("RGBA")
    np.testing.assert_array_equal(recipe.ink_map(opaque), recipe.ink_map(rgb))
    alpha = np.full(opaque.size[::-1], 255, np.uint8)
    alpha[20:40, 10:50] = 90  # a see-through patch inside: flattened over white, not ignored
    patched = Image.fromarray(np.dstack([np.asarray(rgb), alpha]))
    flat = Image.alpha_composite(Image.new("RGBA", patched.size, (255, 255, 255, 255)), patched).convert("RGB")
    np.testing.assert_allclose(recipe.ink_map(patched), recipe.ink_map(flat), atol=1e-6)
    assert not np.allclose(recipe.ink_map(patched), recipe.ink_map(rgb))


# --- formats and modes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mode", "options"),
    [
        ("PNG", "L", {}),
        ("PNG", "RGB", {}),
        ("PNG", "RGBA", {}),
        ("PNG", "LA", {}),
        ("PNG", "P", {}),
        ("PNG", "1", {}),
        ("PNG", "I;16", {}),
        ("JPEG", "L", {"quality": 90}),
        ("JPEG", "RGB", {"quality": 90}),
        ("JPEG", "CMYK", {"quality": 90}),
        ("WEBP", "RGB", {"lossless": True}),
        ("WEBP", "RGBA", {"quality": 90}),
        ("GIF", "P", {}),
        ("BMP", "RGB", {}),
        ("BMP", "L", {}),
        ("TIFF", "L", {}),
        ("TIFF", "I;16", {}),
        ("TIFF", "RGB", {"compression": "tiff_lzw"}),
        ("TIFF", "CMYK", {}),
    ],
)
def test_every_accepted_format_and_mode(seven_ink: np.ndarray, fmt: str, mode: str, options: dict) -> None:
    drawing = 255 - upscale(seven_ink, 4)  # dark on light
    im = Image.fromarray(drawing)
    if mode == "I;16":
        im = Image.fromarray(drawing.astype(np.uint16) * 257)
        assert im.mode == "I;16"
    elif mode in ("RGBA", "LA"):
        im = Image.fromarray(drawing).convert(mode)
        im.putalpha(Image.fromarray(255 - drawing))  # alpha is the ink, colour is irrelevant
    else:
        im = im.convert(mode)
    reference = pp.preprocess(encode(Image.fromarray(255 - drawing)))
    assert mean_abs_diff(pp.preprocess(encode(im, fmt, **options)), reference) < 12


def test_palette_image_with_a_transparent_background(seven_ink: np.ndarray) -> None:
    ink = upscale(seven_ink, 3)
    im = rgba((0, 0, 0), np.where(ink > 127, 255, 0).astype(np.uint8)).convert("RGBA")
    pal = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    transparent = pal.getpixel((0, 0))
    out = pp.preprocess(encode(pal, "GIF", transparency=transparent))
    reference = pp.preprocess(encode(Image.fromarray(np.where(ink > 127, 255, 0).astype(np.uint8))))
    assert mean_abs_diff(out, reference) < 6


def test_animated_gif_uses_the_first_frame(sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = sample
    first, second = (Image.fromarray(255 - upscale(d, 3)).convert("P") for d in (x[0], x[1]))
    data = encode(first, "GIF", save_all=True, append_images=[second], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    reference = pp.preprocess(encode(Image.fromarray(upscale(x[0], 3))))
    assert mean_abs_diff(pp.preprocess(data), reference) < 6


def test_exif_orientation_is_applied(seven_ink: np.ndarray) -> None:
    upright = Image.fromarray(255 - upscale(seven_ink, 4))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera writes, with orientation 6
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to display
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    reference = pp.preprocess(encode(upright, "PNG"))
    assert mean_abs_diff(pp.preprocess(data), reference) < 8


def test_large_photos_are_reduced_before_analysis(seven_ink: np.ndarray) -> None:
    big = Image.fromarray(255 - upscale(seven_ink, 100))  # 2800x2800
    reference = pp.preprocess(encode(Image.fromarray(255 - upscale(seven_ink, 10))))
    for data in (encode(big, "PNG"), encode(big.convert("RGB"), "JPEG", quality=90)):
        assert mean_abs_diff(pp.preprocess(data, max_pixels=2800 * 2800), reference) < 8


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_large_16_bit_greys_are_reduced_too(seven_ink: np.ndarray, fmt: str) -> None:
    """Pillow cannot ``reduce()`` 16-bit modes: a 2240x2240 16-bit scan must still be read, not crash."""
    drawing = 255 - upscale(seven_ink, 80)
    im = Image.fromarray(drawing.astype(np.uint16) * 257)
    assert im.mode == "I;16"
    reference = pp.preprocess(encode(Image.fromarray(255 - upscale(seven_ink, 10))))
    assert mean_abs_diff(pp.preprocess(encode(im, fmt), max_pixels=2240 * 2240), reference) < 8


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_images_with_nan_or_infinite_pixels_are_corrupt(seven_ink: np.ndarray, bad: float) -> None:
    for pixels in (np.full((30, 30), bad, np.float32), upscale(seven_ink, 4).astype(np.float32)):
        pixels[5, 5] = bad
        data = encode(Image.fromarray(pixels), "TIFF")
        with pytest.raises(recipe.CorruptImageError, match="NaN or infinite"):
            pp.preprocess(data)


def test_tiny_images_work(seven_ink: np.ndarray) -> None:
    small = np.asarray(Image.fromarray(seven_ink).resize((14, 14), Image.Resampling.LANCZOS))
    out = pp.preprocess(encode(Image.fromarray(small)))
    assert out.shape == (28, 28) and out.max() == 255


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"hello, world", b"\x00" * 100, b"%PDF-1.4 not an image", b'{"image": 1}'],
    ids=["text", "zeros", "pdf", "json"],
)
def test_bytes_that_are_not_an_image_are_unsupported(data: bytes) -> None:
    with pytest.raises(recipe.UnsupportedImageError, match="not a PNG, JPEG, WebP, GIF, BMP or TIFF image"):
        pp.preprocess(data)


@pytest.mark.parametrize("fmt", ["PPM", "ICO", "TGA", "PCX"])
def test_formats_outside_the_list_are_refused(seven_ink: np.ndarray, fmt: str) -> None:
    data = encode(Image.fromarray(seven_ink).convert("RGB"), fmt)
    assert Image.open(io.BytesIO(data)).format == fmt  # Pillow could read it; we must not
    with pytest.raises(recipe.UnsupportedImageError):
        pp.preprocess(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"])
def test_truncated_files_are_corrupt(seven_ink: np.ndarray, fmt: str) -> None:
    data = encode(Image.fromarray(255 - upscale(seven_ink, 4)).convert("RGB"), fmt)
    with pytest.raises((recipe.CorruptImageError, recipe.UnsupportedImageError)):
        pp.preprocess(data[: len(data) // 2])


def test_corrupt_png_data_is_corrupt(seven_ink: np.ndarray) -> None:
    data = bytearray(encode(Image.fromarray(upscale(seven_ink, 4))))
    idat = data.index(b"IDAT")
    data[idat + 10 : idat + 40] = b"\xff" * 30
    with pytest.raises(recipe.CorruptImageError):
        pp.preprocess(bytes(data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` pixels, with almost no data: a decompression bomb's
    calling card."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [5000, 30000, 100_000])  # over our limit; the last two over Pillow's guard
def test_images_over_the_pixel_limit_are_refused_from_the_header(side: int) -> None:
    with pytest.raises(recipe.ImageTooLargeError) as caught:
        pp.preprocess(png_header_only(side, side), max_pixels=4096 * 4096)
    message = str(caught.value)
    assert f"{side * side} pixels" in message and "the limit is 16777216 pixels" in message
    assert "178956970" not in message  # Pillow's own limit would only confuse: ours is the one that counts


def test_the_pixel_limit_is_configurable(seven_ink: np.ndarray) -> None:
    data = encode(Image.fromarray(upscale(seven_ink, 4)))  # 112 x 112
    assert pp.preprocess(data, max_pixels=112 * 112).shape == (28, 28)
    with pytest.raises(recipe.ImageTooLargeError, match="112x112 = 12544 pixels; the limit is 12543"):
        pp.preprocess(data, max_pixels=112 * 112 - 1)


def test_a_real_compressed_bomb_is_refused_before_decoding() -> None:
    data = encode(Image.new("L", (6000, 6000)))  # 36 Mpixel of zeros in a few tens of KB
    assert len(data) < 200_000
    with pytest.raises(recipe.ImageTooLargeError):
        pp.preprocess(data)


@pytest.mark.parametrize(
    "im",
    [
        pytest.param(Image.new("L", (280, 280), 255), id="white"),
        pytest.param(Image.new("RGB", (280, 280), (30, 90, 200)), id="uniform-colour"),
        pytest.param(Image.new("RGBA", (280, 280), (0, 0, 0, 0)), id="transparent"),
        pytest.param(Image.new("RGBA", (280, 280), (255, 255, 255, 255)), id="opaque-white-rgba"),
        pytest.param(
            Image.fromarray(np.random.default_rng(0).integers(250, 256, (280, 280)).astype(np.uint8)),
            id="faint-noise",
        ),
        pytest.param(Image.new("L", (1, 1), 0), id="one-pixel"),
    ],
)
def test_no_ink_is_no_digit_never_a_guess(im: Image.Image) -> None:
    with pytest.raises(recipe.NoDigitError, match="no digit found"):
        pp.preprocess(encode(im))


def test_errors_are_value_errors_with_a_message() -> None:
    for cls in (recipe.UnsupportedImageError, recipe.CorruptImageError, recipe.ImageTooLargeError, recipe.NoDigitError):
        assert issubclass(cls, recipe.ImageError) and issubclass(cls, ValueError)


def test_to_png_round_trips(seven_ink: np.ndarray) -> None:
    im = Image.open(io.BytesIO(pp.to_png(seven_ink)))
    assert im.format == "PNG" and im.size == (28, 28)
    assert np.array_equal(np.asarray(im), seven_ink)
