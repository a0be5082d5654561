"""``POST /explain`` through the real app: what /predict accepts, the same reading, what the network saw and
where it looked, its layers as pictures, the target asked for, and /predict's answer to every bad input."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import httpx2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.inside import grid_shape
from app.main import create_app
from app.schemas import Explanation
from app.settings import Settings
from model import load
from model.generators import canvas as cv
from model.generators.pen import pen_redraw
from model.recipe import preprocess
from tests.helpers import LIMIT, assert_error, data_url, png, raw, sample_digits

Send = Callable[[TestClient, str], httpx2.Response]


def canvas_png(digit: np.ndarray) -> bytes:
    """A 28x28 digit traced with a pen on a 280x280 transparent canvas, as the draw-pad sends it."""
    ink = pen_redraw(digit, (280, 280), (30.0, 20.0, 230.0), 18.0)
    return cv.encode(cv.compose(ink, cv.STYLES[2]), "PNG")


def picture(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def test_the_three_ways_and_the_same_reading_as_predict(client: TestClient) -> None:  # noqa: F811
    x, _ = sample_digits()
    images = [png(d) for d in x[:6]] + [canvas_png(d) for d in x[6:10]]
    for data in images:
        predicted = raw(client, data).json()
        answers = [
            raw(client, data, url="/explain"),
            client.post("/explain", files={"file": ("d.png", data, "image/png")}),
            client.post("/explain", json={"image": data_url(data)}),
        ]
        bodies = [a.json() for a in answers]
        assert all(a.status_code == 200 for a in answers), [a.text[:200] for a in answers]
        assert bodies[0] == bodies[1] == bodies[2]
        body = bodies[0]
        assert np.abs(np.subtract(body["probabilities"], predicted["probabilities"])).max() <= 1e-4
        for key in ("digit", "is_digit", "model"):
            assert body[key] == predicted[key]
        assert body["target"] == body["digit"]


def test_a_large_photo_goes_through_the_decoder_process(client: TestClient) -> None:  # noqa: F811
    """Over a megapixel: decoded in the predictor's decoder process, like /predict's costly images."""
    ink = pen_redraw(sample_digits()[0][1], (1200, 1000), (200.0, 100.0, 800.0), 60.0)
    data = cv.encode(cv.compose(ink, cv.STYLES[0]), "JPEG")
    predicted, explained = raw(client, data, "image/jpeg").json(), raw(client, data, "image/jpeg", "/explain").json()
    assert explained["digit"] == predicted["digit"] == 2
    assert np.abs(np.subtract(explained["probabilities"], predicted["probabilities"])).max() <= 1e-4


def test_what_the_network_saw_and_where_it_looked(client: TestClient) -> None:  # noqa: F811
    digit = sample_digits()[0][0]
    body = raw(client, png(digit), url="/explain").json()
    Explanation.model_validate(body)
    seen = np.array(body["input"])
    assert seen.shape == (28, 28) and seen.min() >= 0 and seen.max() == 255
    assert np.array_equal(seen, preprocess(png(digit)))  # the service's preprocessing of the upload
    heat = np.array(body["heatmap"])
    assert heat.shape == (28, 28) and heat.min() >= 0 and heat.max() == 1
    assert heat[seen == 0].max() == 0, "the heatmap is on the ink"
    layers = {layer["name"]: layer for layer in body["layers"]}
    assert list(layers) == ["conv1", "conv2", "conv3", "dense"]
    for name, shape in (("conv1", [32, 28, 28]), ("conv2", [64, 14, 14]), ("conv3", [64, 7, 7])):
        assert layers[name]["shape"] == shape
        rows, columns = grid_shape(shape[0])
        tiles = picture(layers[name]["image"])
        assert tiles.shape == (rows * (shape[1] + 1) - 1, columns * (shape[2] + 1) - 1)
        first = tiles[: shape[1], : shape[2]]
        assert first.max() == 255, "the strongest channel comes first, scaled to its own largest value"
    assert layers["dense"]["shape"] == [128]
    dense = picture(layers["dense"]["image"])
    units = load().explain(preprocess(png(digit))[None]).layers[-1].values[0]
    assert dense.shape == (8, 16) and dense.max() == 255
    assert np.array_equal(dense.ravel() > 0, units > units.max() / 510), "units in their order, scaled together"


def test_target_asks_why_not_another_digit(client: TestClient) -> None:  # noqa: F811
    data = png(sample_digits()[0][0])  # a 7
    read = raw(client, data, url="/explain").json()
    runner_up = int(np.argsort(read["probabilities"])[-2])
    other = raw(client, data, url=f"/explain?target={runner_up}").json()
    assert other["target"] == runner_up and other["digit"] == read["digit"]
    assert other["probabilities"] == read["probabilities"] and other["layers"] == read["layers"]
    assert other["heatmap"] != read["heatmap"]
    assert raw(client, data, url="/explain?target=7").json()["heatmap"] == read["heatmap"]
    for bad in ("10", "-1", "seven", "3.5"):
        assert_error(raw(client, data, url=f"/explain?target={bad}"), 422, "target")


def _same_error(client: TestClient, send: Send) -> None:  # noqa: F811
    predicted, explained = send(client, "/predict"), send(client, "/explain")
    assert predicted.status_code >= 400
    assert (explained.status_code, explained.json()) == (predicted.status_code, predicted.json())


BAD: dict[str, Send] = {
    "empty body": lambda c, url: c.post(url, content=b"", headers={"content-type": "image/png"}),
    "not an image": lambda c, url: c.post(url, content=b"GIF89a but not", headers={"content-type": "image/png"}),
    "blank": lambda c, url: c.post(url, content=png(Image.new("L", (280, 280), 255)),
                                   headers={"content-type": "image/png"}),
    "text/plain": lambda c, url: c.post(url, content=b"7", headers={"content-type": "text/plain"}),
    "invalid JSON": lambda c, url: c.post(url, content=b'{"image": ', headers={"content-type": "application/json"}),
    "JSON of the wrong shape": lambda c, url: c.post(url, json={"picture": "abc"}),
    "bad base64": lambda c, url: c.post(url, json={"image": "not*base64"}),
    "wrong multipart field": lambda c, url: c.post(url, files={"image": ("a.png", b"x", "image/png")}),
}


@pytest.mark.parametrize("mistake", BAD)
def test_bad_input_gets_predicts_answer(client: TestClient, mistake: str) -> None:  # noqa: F811
    _same_error(client, BAD[mistake])


def test_limits_are_predicts(small: TestClient) -> None:  # noqa: F811
    seven = png(sample_digits()[0][0])
    _same_error(small, lambda c, url: raw(c, seven + b"\0" * LIMIT, url=url))  # over the body cap
    _same_error(small, lambda c, url: raw(c, png(Image.new("L", (400, 400), 255)), url=url))  # over the pixels


def test_counted_documented_and_refused_by_other_networks(client: TestClient) -> None:  # noqa: F811
    raw(client, png(sample_digits()[0][0]), url="/explain")
    raw(client, b"nope", url="/explain")
    text = client.get("/metrics").text
    assert 'digits_http_requests_total{method="POST",route="/explain",status="200"}' in text
    assert 'digits_http_requests_total{method="POST",route="/explain",status="422"}' in text
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/explain"]["post"]
    assert {"multipart/form-data", "image/png", "application/json"} <= op["requestBody"]["content"].keys()
    assert {"200", "400", "413", "415", "422"} <= op["responses"].keys()
    target = next(p for p in op["parameters"] if p["name"] == "target")
    assert target["schema"]["anyOf"][0] == {"type": "integer", "maximum": 9, "minimum": 0}
    schema = spec["components"]["schemas"]["Explanation"]
    assert {"input", "heatmap", "layers", "target", "probabilities"} <= schema["properties"].keys()
    assert schema["properties"]["target"]["examples"] == [7]


class ReadsOnly:
    """The shipped network, less its ``explain``: a model that can read but not explain."""

    def __init__(self) -> None:
        self.net = load()
        self.metadata: dict[str, Any] = self.net.metadata

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.net.predict(images)


def test_a_network_that_cannot_explain_says_so() -> None:
    with TestClient(create_app(Settings(), loader=lambda path: ReadsOnly())) as c:
        data = png(sample_digits()[0][0])
        assert raw(c, data).status_code == 200
        assert_error(raw(c, data, url="/explain"), 501, "cannot explain")
