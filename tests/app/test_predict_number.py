"""``POST /predict/number``: whole numbers on one canvas, every way of sending them, and every error."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

import model
from app.schemas import NumberResponse
from model.generators import canvas as cv
from model.generators import negatives as neg
from model.generators import pen
from model.recipe.number_reader import read_number
from model.recipe.number_tuning import TUNING
from model.steps import run
from scripts import drawn_sets
from tests.helpers import encode
from tests.helpers import write_number as write


def post(client: TestClient, data: bytes, **params: str) -> dict:
    r = client.post("/predict/number", content=data, headers={"content-type": "image/png"}, params=params)
    assert r.status_code == 200, r.text
    NumberResponse.model_validate(r.json())
    return r.json()


def test_a_spaced_number_is_read_left_to_right(client: TestClient, sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = sample
    for start in range(0, 40, 4):
        body = post(client, write(list(x[start : start + 4])))
        assert body["number"] == "".join(map(str, y[start : start + 4]))
        boxes = [d["box"] for d in body["digits"]]
        assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)
        assert all(0 <= b[0] < b[2] <= 800 and 0 <= b[1] < b[3] <= 300 for b in boxes)


def test_boxes_are_in_the_uploaded_images_pixels(client: TestClient, sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = sample
    small = post(client, write(list(x[:2]), size=(800, 300)))
    # the same drawing 4x larger is decoded reduced, but its boxes are still in its own pixels
    ink = Image.new("L", (800, 300))
    for i, d in enumerate(x[:2]):
        ink.paste(Image.fromarray(d).resize((180, 180), Image.Resampling.BICUBIC), (20 + int(i * 180 * 1.3 * 0.75), 60))
    big = ink.resize((3200, 1200), Image.Resampling.BICUBIC)
    large = post(client, cv.encode(cv.compose(big, cv.STYLES[0]), "PNG"))
    for a, b in zip(small["digits"], large["digits"], strict=True):
        assert np.allclose(np.array(b["box"]) / 4, a["box"], atol=6)


def test_touching_digits_are_split(client: TestClient, sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = sample
    right = 0
    for start in range(0, 30, 3):
        body = post(client, write(list(x[start : start + 3]), gap=0.05))
        right += body["number"] == "".join(map(str, y[start : start + 3]))
    assert right >= 8


def test_one_digit_reads_as_through_predict(client: TestClient, sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = sample
    for d in x[:20]:
        data = write([d])
        single = client.post("/predict", content=data, headers={"content-type": "image/png"}).json()
        number = post(client, data)
        assert len(number["digits"]) == 1
        assert number["digits"][0]["probabilities"] == single["probabilities"]


@pytest.mark.parametrize("way", ["multipart", "json"])
def test_every_way_of_sending(client: TestClient, sample: tuple[np.ndarray, np.ndarray], way: str) -> None:
    x, y = sample
    data = write(list(x[:3]))
    if way == "multipart":
        r = client.post("/predict/number", files={"file": ("n.png", data, "image/png")})
    else:
        url = "data:image/png;base64," + base64.b64encode(data).decode()
        r = client.post("/predict/number", json={"image": url, "debug": True})
    assert r.status_code == 200, r.text
    assert r.json()["number"] == "".join(map(str, y[:3]))
    if way == "json":
        assert all(d["debug_image"].startswith("data:image/png;base64,") for d in r.json()["digits"])


def test_debug_shows_each_parts_28x28_image(client: TestClient, sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = sample
    body = post(client, write(list(x[:2])), debug="true")
    import io

    for d in body["digits"]:
        im = Image.open(io.BytesIO(base64.b64decode(d["debug_image"].split(",", 1)[1])))
        assert im.size == (28, 28)


def test_a_part_that_is_not_a_digit_makes_the_number_null(
    client: TestClient, sample: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = sample
    rng = np.random.default_rng(0)
    ink = Image.new("L", (800, 300))
    ink.paste(Image.fromarray(x[0]).resize((180, 180), Image.Resampling.BICUBIC), (20, 60))
    dot = neg.draw_shape(neg.dot(rng), (800, 300), (420, 140, 0, 0), 60, rng, jitter=0)
    ink = Image.fromarray(np.maximum(np.asarray(ink), np.asarray(dot)))
    body = post(client, cv.encode(cv.compose(ink, cv.STYLES[0]), "PNG"))
    assert body["number"] is None
    seven, blot = body["digits"]
    assert seven["is_digit"] and seven["digit"] == 7
    assert not blot["is_digit"]


def test_blank_is_422(client: TestClient) -> None:
    r = client.post("/predict/number", content=encode(np.full((50, 80), 255, np.uint8)),
                    headers={"content-type": "image/png"})
    assert r.status_code == 422 and "no digit" in r.json()["detail"]


def test_too_many_parts_is_422_saying_the_cap(client: TestClient) -> None:
    img = np.full((200, 1600), 255, np.uint8)
    for i in range(TUNING.max_digits * 3 + 5):  # short vertical strokes, far apart
        x0 = 5 + i * 20
        img[80:120, x0 : x0 + 4] = 0
    r = client.post("/predict/number", content=encode(img), headers={"content-type": "image/png"})
    assert r.status_code == 422
    assert f"at most {TUNING.max_digits} digits" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "kind", "status"),
    [(b"not an image", "image/png", 422), (b"{}", "application/json", 422), (b"x", "text/plain", 415)],
)
def test_bad_inputs_are_clear_4xx(client: TestClient, body: bytes, kind: str, status: int) -> None:
    r = client.post("/predict/number", content=body, headers={"content-type": kind})
    assert r.status_code == status, r.text
    assert r.json()["detail"]


def test_documented_in_openapi(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()["paths"]["/predict/number"]["post"]
    assert {"multipart/form-data", "application/json"} <= set(spec["requestBody"]["content"])
    assert str(TUNING.max_digits) in spec["description"]


@pytest.mark.parametrize("shape", ["star", "cross", "arrow", "wave", "polygon"])
def test_a_lone_shape_is_refused_not_cut_into_digits(client: TestClient, shape: str) -> None:
    """Cut in two, a star's halves read as "88"; the whole star is refused, and so is the answer."""
    rng = np.random.default_rng(1)
    refused = 0
    for _ in range(3):
        ink = neg.draw_shape(neg.SHAPES[shape](rng), (600, 300), (200, 40, 220, 220), 16, rng)
        body = post(client, cv.encode(cv.compose(ink, cv.STYLES[2]), "PNG"))
        refused += body["number"] is None
    assert refused == 3


@pytest.mark.parametrize("stretch", [1.0, 1.3, 1.6])
def test_a_zigzag_is_not_read_as_ones(client: TestClient, stretch: float) -> None:
    """A W wider than a line height is cut finely, and each slice of it reads as a sure 1; ones are
    written as strokes of their own, so the whole W is refused instead of read as "1111". The W is the
    draw-pad test's, on a 200 px high canvas with the pad's pen, ``stretch`` times as wide."""
    ink = Image.new("L", (600, 200))
    points = [(0.2, 0.25), (0.35, 0.78), (0.5, 0.4), (0.65, 0.78), (0.8, 0.25)]
    pen.draw_polyline(ink, [(300 + (x - 0.5) * 200 * stretch, y * 200) for x, y in points], 14)
    body = post(client, cv.encode(cv.compose(ink, cv.STYLES[2]), "PNG"))
    assert body["number"] is None, body["digits"]


def test_a_large_photo_of_a_number_is_read_in_the_decoder_process(
    client: TestClient, sample: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = sample
    ink = Image.new("L", (800, 300))
    for i, d in enumerate(x[:3]):
        ink.paste(Image.fromarray(d).resize((180, 180), Image.Resampling.BICUBIC), (20 + i * 200, 60))
    big = cv.compose(ink.resize((2000, 750), Image.Resampling.BICUBIC), cv.STYLES[0])  # 1.5 MP: costly
    body = post(client, cv.encode(big, "JPEG", quality=90))
    assert body["number"] == "".join(map(str, y[:3]))
    assert body["digits"][0]["box"][2] > 300  # boxes in the photo's own pixels


def test_numbers_sent_together_read_as_the_scripts_read_them(
    client: TestClient, sample: tuple[np.ndarray, np.ndarray]
) -> None:
    # One road: the service's scheduler drives the same program as model.steps.run, batching the
    # candidate digits of numbers that come together.
    import concurrent.futures

    x, _ = sample
    net = model.load()
    numbers = [write(list(x[k : k + 3])) for k in range(0, 12, 3)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(lambda data: post(client, data), numbers))
    for data, body in zip(numbers, bodies, strict=True):
        alone = run(read_number(data, net.reject_threshold), net.predict)
        assert [d["box"] for d in body["digits"]] == [list(d.box) for d in alone.digits]
        np.testing.assert_allclose([d["probabilities"] for d in body["digits"]],
                                   [d.probabilities for d in alone.digits], atol=1e-6)


def test_a_number_over_the_pixel_limit_is_413_from_its_header(client: TestClient) -> None:
    huge = Image.new("L", (4000, 4000), 255)
    r = client.post("/predict/number", content=encode(huge), headers={"content-type": "image/png"})
    assert r.status_code == 413 and "pixels" in r.json()["detail"]


def _second_readings_kept(client: TestClient) -> float:
    """``digits_number_second_readings_total{kept="true"}`` from ``/metrics`` (0 before the first)."""
    line = 'digits_number_second_readings_total{kept="true"} '
    found = [r for r in client.get("/metrics").text.splitlines() if r.startswith(line)]
    return float(found[0][len(line) :]) if found else 0.0


def test_a_one_pressed_against_its_neighbour_is_read_through_http(
    client: TestClient, sample: tuple[np.ndarray, np.ndarray]
) -> None:
    # The 21st number of the generator above: a tight pen-drawn 84215 whose first reading refuses "21"
    # as one part; the second reading cuts it finely and reads every digit.
    x, y = sample
    rng = np.random.default_rng(7)
    s = [drawn_sets.number_sample(x, y, rng) for _ in range(21)][-1]
    assert s.number == "84215"
    net = model.load()
    assert run(read_number(s.data, net.reject_threshold), net.predict).recut  # kept: the finer cuts
    kept_before = _second_readings_kept(client)
    assert post(client, s.data)["number"] == "84215"
    assert _second_readings_kept(client) == kept_before + 1
    photo = Image.open(io.BytesIO(s.data)).convert("RGBA").resize((1548, 720), Image.Resampling.BICUBIC)
    body = post(client, cv.encode(photo, "PNG"))  # 1.1 MP: both readings in the decoder process
    assert body["number"] == "84215" and body["digits"][0]["box"][2] > 200


@pytest.mark.parametrize("wide", [1.0, 1.4, 1.6])
def test_a_wide_zero_is_read_whole(client: TestClient, wide: float) -> None:
    # A 0 drawn ``wide`` times as wide as tall beside a 1: wider than a line height, it is cut into up
    # to 10 slices; with 7 atoms to a digit at most, 1.4 and 1.6 were read as "631".
    im = Image.new("RGBA", (800, 300), (0, 0, 0, 0))
    draw, w = ImageDraw.Draw(im), int(200 * wide)
    draw.ellipse((60, 50, 60 + w, 250), outline=(0, 0, 0, 255), width=14)
    draw.line((140 + w, 50, 140 + w, 250), fill=(0, 0, 0, 255), width=14)
    assert post(client, cv.encode(im, "PNG"))["number"] == "01"


