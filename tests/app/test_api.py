"""The HTTP API through FastAPI's TestClient: every path, every way of sending an image, every error."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.errors import StartupError
from app.main import create_app
from app.schemas import BatchResponse, ModelInfo, Prediction
from app.settings import Settings
from model.recipe import preprocess
from tests.helpers import LIMIT, MAX_BATCH, ROOT, assert_error, data_url, encode, png, raw

# --- POST /predict, three ways ------------------------------------------------------------------


def check_prediction(body: dict, digit: int, version: str) -> Prediction:
    prediction = Prediction.model_validate(body)
    assert prediction.digit == digit
    assert len(prediction.probabilities) == 10
    assert abs(sum(prediction.probabilities) - 1) < 1e-4
    assert prediction.confidence == max(prediction.probabilities)
    assert prediction.probabilities.index(prediction.confidence) == digit
    assert prediction.model == version
    return prediction


@pytest.fixture(scope="module")
def version(client: TestClient) -> str:
    return str(client.get("/model").json()["version"])


def test_predict_raw_body(client: TestClient, digits: tuple[list[bytes], np.ndarray], version: str) -> None:
    images, labels = digits
    for data, label in zip(images, labels, strict=True):
        r = raw(client, data)
        assert r.status_code == 200, r.text
        check_prediction(r.json(), int(label), version)
        assert "debug_image" not in r.json()


def test_predict_multipart(client: TestClient, seven: bytes, version: str) -> None:
    r = client.post("/predict", files={"file": ("seven.png", seven, "image/png")})
    assert r.status_code == 200, r.text
    check_prediction(r.json(), 7, version)


@pytest.mark.parametrize("encode", [lambda d: base64.b64encode(d).decode(), data_url], ids=["base64", "data-url"])
def test_predict_json(client: TestClient, seven: bytes, version: str, encode: object) -> None:
    r = client.post("/predict", json={"image": encode(seven)})  # type: ignore[operator]
    assert r.status_code == 200, r.text
    check_prediction(r.json(), 7, version)


def test_the_three_ways_give_the_same_answer(client: TestClient, seven: bytes) -> None:
    answers = [
        raw(client, seven).json(),
        client.post("/predict", files={"file": ("a.png", seven, "image/png")}).json(),
        client.post("/predict", json={"image": data_url(seven)}).json(),
    ]
    assert answers[0] == answers[1] == answers[2]


def test_base64_with_line_breaks_and_octet_stream(client: TestClient, seven: bytes) -> None:
    wrapped = base64.encodebytes(seven).decode()  # MIME style, a newline every 76 characters
    assert client.post("/predict", json={"image": wrapped}).json()["digit"] == 7
    assert raw(client, seven, "application/octet-stream").json()["digit"] == 7


def debug_pixels(body: dict) -> np.ndarray:
    url = body["debug_image"]
    assert url.startswith("data:image/png;base64,")
    im = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert im.format == "PNG" and im.size == (28, 28) and im.mode == "L"
    return np.asarray(im)


def test_debug_returns_the_28x28_the_network_saw(client: TestClient, sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = sample
    canvas = np.full((280, 280), 255, np.uint8)  # dark on light, 10x: very unlike what the network sees
    canvas[:] = 255 - np.asarray(Image.fromarray(x[0]).resize((280, 280), Image.Resampling.BICUBIC))
    seen = debug_pixels(client.post("/predict?debug=true", content=png(canvas),
                                    headers={"content-type": "image/png"}).json())
    assert seen.max() == 255 and seen[0].max() == 0  # white on black, margins empty
    assert np.abs(seen.astype(int) - x[0].astype(int)).mean() < 12


def test_debug_as_a_json_field(client: TestClient, seven: bytes) -> None:
    r = client.post("/predict", json={"image": data_url(seven), "debug": True})
    assert r.status_code == 200
    assert np.array_equal(debug_pixels(r.json()), preprocess(seven))


# --- POST /predict/batch ------------------------------------------------------------------------


def test_batch_multipart_in_order(client: TestClient, digits: tuple[list[bytes], np.ndarray], version: str) -> None:
    images, labels = digits
    files = [("files", (f"{i}.png", data, "image/png")) for i, data in enumerate(images)]
    r = client.post("/predict/batch", files=files)
    assert r.status_code == 200, r.text
    body = BatchResponse.model_validate(r.json())
    assert [p.digit for p in body.predictions] == [int(v) for v in labels]  # type: ignore[union-attr]


def test_batch_json_with_a_bad_item(client: TestClient, digits: tuple[list[bytes], np.ndarray]) -> None:
    images, labels = digits
    blank = png(np.zeros((28, 28), np.uint8))
    items = [data_url(images[0]), "not base64!", base64.b64encode(blank).decode(), data_url(images[1])]
    r = client.post("/predict/batch?debug=true", json={"images": items})
    assert r.status_code == 200, r.text
    first, bad_base64, no_digit, last = r.json()["predictions"]
    assert first["digit"] == labels[0] and last["digit"] == labels[1]
    assert first["debug_image"].startswith("data:image/png;base64,")
    assert bad_base64["status"] == 422 and "base64" in bad_base64["error"]
    assert no_digit["status"] == 422 and "no digit found" in no_digit["error"]


def test_batch_multipart_with_a_bad_item(client: TestClient, seven: bytes) -> None:
    files = [("files", ("a.png", seven, "image/png")), ("files", ("b.txt", b"hello", "text/plain")),
             ("files", ("c.png", b"", "image/png"))]
    predictions = client.post("/predict/batch", files=files).json()["predictions"]
    assert predictions[0]["digit"] == 7
    assert predictions[1] == {"error": "not a PNG, JPEG, WebP, GIF, BMP or TIFF image", "status": 422}
    assert predictions[2]["status"] == 422 and "empty" in predictions[2]["error"]


def test_batch_over_the_cap_is_413(small: TestClient, seven: bytes) -> None:
    ok = small.post("/predict/batch", json={"images": [data_url(seven)] * MAX_BATCH})
    assert ok.status_code == 200 and len(ok.json()["predictions"]) == MAX_BATCH
    assert_error(small.post("/predict/batch", json={"images": [data_url(seven)] * (MAX_BATCH + 1)}),
                 413, f"limit of {MAX_BATCH}", "DIGITS_MAX_BATCH")
    files = [("files", (f"{i}.png", seven, "image/png")) for i in range(MAX_BATCH + 1)]
    assert_error(small.post("/predict/batch", files=files), 413, f"limit of {MAX_BATCH}")


def test_batch_errors(client: TestClient) -> None:
    assert_error(client.post("/predict/batch", json={"images": []}), 422, "images")
    assert_error(client.post("/predict/batch", json={"image": "x"}), 422, "images")
    assert_error(client.post("/predict/batch", files={"file": ("a.png", b"x", "image/png")}), 422, "files")
    assert_error(raw(client, b"\x89PNG", url="/predict/batch"), 415, "multipart/form-data", "json")


# --- bad input: 400, 413, 415, 422, never 500 ---------------------------------------------------


def test_unsupported_content_types_are_415(client: TestClient, seven: bytes) -> None:
    for kind in ("text/plain", "image/svg+xml", "application/x-www-form-urlencoded", "image/heic"):
        assert_error(raw(client, seven, kind), 415, kind, "multipart/form-data", "image/", "json")
    r = client.post("/predict", content=seven, headers={"content-type": ""})
    assert_error(r, 415, "without content-type")


def test_empty_and_invalid_bodies_are_400(client: TestClient) -> None:
    assert_error(raw(client, b""), 400, "empty body")
    assert_error(raw(client, b"", "application/json"), 400, "empty body")
    assert_error(raw(client, b'{"image": ', "application/json"), 400, "not valid JSON")
    r = client.post("/predict", content=b"--x\r\n", headers={"content-type": "multipart/form-data"})
    assert_error(r, 400, "multipart", "boundary")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"image": 7}, ["image", "string"]),
        ({"picture": "abc"}, ["image", "required"]),
        ([1, 2, 3], ["object"]),
        ({"image": ""}, ["image"]),
        ({"image": "abc", "debug": "maybe"}, ["debug"]),
        ({"image": "not*base64"}, ["base64"]),
        ({"image": "data:image/png,iVBORw0KGgo="}, ["base64"]),
        ({"image": "data:text/plain;base64,aGVsbG8="}, ["text/plain"]),
        ({"image": "data:image/png;base64,"}, ["empty"]),
    ],
)
def test_wrong_json_is_422(client: TestClient, body: object, words: list[str]) -> None:
    assert_error(client.post("/predict", json=body), 422, *words)


def test_multipart_mistakes_are_422(client: TestClient, seven: bytes) -> None:
    assert_error(client.post("/predict", files={"image": ("a.png", seven, "image/png")}), 422, "'file'")
    text_field = client.post("/predict", data={"file": "iVBORw0KGgo="}, files={"note": ("n.txt", b"", "text/plain")})
    assert_error(text_field, 422, "file upload")
    assert_error(client.post("/predict", files={"file": ("a.png", b"", "image/png")}), 422, "empty")
    two = [("file", ("a.png", seven, "image/png")), ("file", ("b.png", seven, "image/png"))]
    assert_error(client.post("/predict", files=two), 422, "more than one file", "/predict/batch")


def test_images_that_cannot_be_read_are_422(client: TestClient, seven: bytes) -> None:
    assert_error(raw(client, b"GIF89a but not really"), 422, "not a PNG, JPEG, WebP, GIF, BMP or TIFF")
    assert_error(raw(client, seven[: len(seven) // 2]), 422, "truncated or corrupt")
    assert_error(raw(client, encode(Image.new("L", (28, 28)), "PPM")), 422, "not a PNG")


def test_blank_images_are_422_no_digit_found(client: TestClient) -> None:
    for im in (Image.new("L", (280, 280), 255), Image.new("RGBA", (280, 280), (0, 0, 0, 0))):
        assert_error(raw(client, png(im)), 422, "no digit found")


def test_bodies_over_the_cap_are_413_however_sent(small: TestClient, seven: bytes) -> None:
    big = seven + b"\0" * LIMIT
    assert_error(raw(small, big), 413, str(LIMIT), "DIGITS_MAX_UPLOAD_BYTES")

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for _ in range(8):
            yield b"\0" * (LIMIT // 4)

    assert_error(small.post("/predict", content=chunks(), headers={"content-type": "image/png"}), 413, "larger")
    assert_error(small.post("/predict", files={"file": ("a.png", big, "image/png")}), 413, "larger")
    assert_error(small.post("/predict", json={"image": base64.b64encode(big).decode()}), 413, "larger")
    assert_error(small.post("/predict/batch", json={"images": [data_url(seven)] * 2 + ["A" * LIMIT]}), 413)


def test_a_lying_content_length_is_refused_before_reading(small: TestClient) -> None:
    r = small.post("/predict", content=b"tiny", headers={"content-type": "image/png", "content-length": "999999999"})
    assert_error(r, 413, "larger")


def test_images_over_the_pixel_limit_are_413(small: TestClient) -> None:
    data = png(Image.new("L", (400, 400), 255))  # 160,000 pixels > 90,000, compresses to almost nothing
    assert len(data) < LIMIT
    assert_error(raw(small, data), 413, "400x400", "90000")


def test_bad_query_parameter_is_422(client: TestClient, seven: bytes) -> None:
    body = assert_error(client.post("/predict?debug=maybe", content=seven,
                                    headers={"content-type": "image/png"}), 422, "debug")
    assert "boolean" in body


def test_random_bodies_never_give_a_500(client: TestClient) -> None:
    rng = np.random.default_rng(0)
    kinds = ["image/png", "image/jpeg", "application/json", "multipart/form-data; boundary=x", "text/plain", ""]
    for i in range(60):
        body = rng.integers(0, 256, int(rng.integers(0, 2000))).astype(np.uint8).tobytes()
        if i % 3 == 0:
            body = b"\x89PNG\r\n\x1a\n" + body  # a PNG signature, then garbage
        r = client.post(("/predict", "/predict/batch")[i % 2], content=body,
                        headers={"content-type": kinds[i % len(kinds)]})
        assert r.status_code < 500, (r.status_code, r.text)
        assert "detail" in r.json()


# --- service endpoints --------------------------------------------------------------------------


def test_health_and_ready(client: TestClient, version: str) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready", "model": version}


def test_ready_is_503_until_the_model_is_loaded(seven: bytes) -> None:
    c = TestClient(create_app(Settings()))  # no `with`: the lifespan has not run
    assert c.get("/health").status_code == 200
    assert_error(c.get("/ready"), 503, "not loaded")
    assert_error(raw(c, seven), 503, "not loaded")
    assert_error(c.get("/model"), 503)


def test_start_up_objects_are_frozen_out_of_the_collector_while_serving(seven: bytes) -> None:
    """Full collections would otherwise rescan every module, route and schema (~40 ms pauses under load).
    One app shutting down does not thaw another that still serves."""
    import gc

    with TestClient(create_app(Settings())) as first:
        assert gc.get_freeze_count() > 10_000
        with TestClient(create_app(Settings())) as second:
            assert raw(second, seven).json()["digit"] == 7
        assert gc.get_freeze_count() > 10_000
        assert raw(first, seven).json()["digit"] == 7


def test_model_describes_the_shipped_weights(client: TestClient) -> None:
    meta = json.loads((ROOT / "weights" / "default.json").read_text())
    info = ModelInfo.model_validate(client.get("/model").json())
    assert info.parameters > 0 and info.architecture and info.architecture[0]["type"] == "Conv2d"
    assert len(info.sha256) == 64 and info.version.endswith(info.sha256[:12])
    assert info.input["shape"] == [28, 28] and info.labels == [*(str(d) for d in range(10)), "not a digit"]
    assert info.sha256 == meta["sha256"] and info.test_accuracy == meta["test_accuracy"]
    assert info.calibration == meta["calibration"] and 0 < info.calibration["reject_threshold"] < 1
    assert info.second_look == {"below": 0.8, "shifts": [[-1, 0], [1, 0], [0, -1], [0, 1]]}


def test_every_answer_says_its_server_time(client: TestClient, seven: bytes) -> None:
    """``Server-Timing: app;dur=<ms>``, on answers and errors alike, and no longer than the client waited."""
    for ask in (lambda: raw(client, seven), lambda: raw(client, b"nope"), lambda: client.get("/nowhere")):
        started = time.perf_counter()
        answer = ask()
        waited_ms = (time.perf_counter() - started) * 1000
        name, _, duration = answer.headers["server-timing"].partition(";dur=")
        assert name == "app" and 0 < float(duration) <= waited_ms


def test_metrics(client: TestClient, seven: bytes) -> None:
    raw(client, seven)
    raw(client, b"nope")
    client.get("/nowhere")
    text = client.get("/metrics").text
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")
    assert 'digits_http_requests_total{method="POST",route="/predict",status="200"}' in text
    assert 'digits_http_requests_total{method="POST",route="/predict",status="422"}' in text
    assert 'digits_http_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert 'digits_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/predict",status="200"}' in text
    assert 'digits_predictions_total{digit="7"}' in text
    assert 'digits_rejected_images_total{reason="UnsupportedImageError"}' in text
    assert "digits_inference_batch_size_count" in text
    assert 'digits_model_info{name="default"' in text
    assert "process_resident_memory_bytes" in text


def test_page_and_static_files(client: TestClient) -> None:
    static = ROOT / "app" / "static"
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.text == (static / "index.html").read_text()
    any_file = next(p for p in static.iterdir() if p.is_file())
    assert client.get(f"/static/{any_file.name}").content == any_file.read_bytes()
    assert_error(client.get("/static/no-such-file.js"), 404)


def test_docs_and_openapi_describe_the_three_ways(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    single = spec["paths"]["/predict"]["post"]
    kinds = single["requestBody"]["content"]
    assert {"multipart/form-data", "image/png", "image/jpeg", "application/json"} <= kinds.keys()
    assert kinds["multipart/form-data"]["schema"]["required"] == ["file"]
    assert "image" in kinds["application/json"]["schema"]["properties"]
    assert {"200", "400", "413", "415", "422"} <= single["responses"].keys()
    assert any(p["name"] == "debug" for p in single["parameters"])
    batch = spec["paths"]["/predict/batch"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= batch.keys()
    for path in ("/health", "/ready", "/model", "/metrics"):
        assert path in spec["paths"]


def test_unknown_paths_and_methods(client: TestClient) -> None:
    assert_error(client.get("/nowhere"), 404, "/nowhere", "/docs")
    assert_error(client.get("/predict"), 405, "GET", "/predict")
    assert_error(client.delete("/model"), 405)


# --- CORS, settings, start-up -------------------------------------------------------------------


def test_no_cors_by_default(client: TestClient) -> None:
    r = client.options("/predict", headers={"origin": "https://elsewhere.example",
                                            "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_when_configured(seven: bytes) -> None:
    with TestClient(create_app(Settings(cors_origins=("https://pad.example",)))) as c:
        r = c.post("/predict", content=seven, headers={"content-type": "image/png", "origin": "https://pad.example"})
        assert r.headers["access-control-allow-origin"] == "https://pad.example"
        r = c.post("/predict", content=seven, headers={"content-type": "image/png", "origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_missing_weights_stop_start_up_with_the_file_and_reason(tmp_path: Path) -> None:
    app = create_app(Settings(weights=tmp_path / "nope.npz"))
    with pytest.raises(StartupError, match=r"nope\.npz does not exist"), TestClient(app):
        pass


def test_corrupt_weights_stop_start_up(tmp_path: Path) -> None:
    root = ROOT / "weights"
    (tmp_path / "w.json").write_text((root / "default.json").read_text())
    data = bytearray((root / "default.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "w.npz").write_bytes(bytes(data))
    app = create_app(Settings(weights=tmp_path / "w.npz"))
    with pytest.raises(StartupError, match=r"w\.npz.*SHA-256"), TestClient(app):
        pass


def test_settings_from_the_environment() -> None:
    s = Settings.from_env({
        "DIGITS_WEIGHTS": "/w/x.npz", "DIGITS_MAX_UPLOAD_BYTES": "1_000", "DIGITS_MAX_IMAGE_PIXELS": "500",
        "DIGITS_MAX_BATCH": "4", "DIGITS_CORS_ORIGINS": "https://a.example/, https://b.example",
        "DIGITS_LOG_LEVEL": "WARNING", "DIGITS_THREADS": "2",
    })
    assert s == Settings(Path("/w/x.npz"), 1000, 500, 4, ("https://a.example", "https://b.example"), "warning", 2)
    assert Settings.from_env({}) == Settings()
    assert Settings().cors_origins == () and Settings().weights is None


@pytest.mark.parametrize(
    ("name", "value"),
    [("DIGITS_MAX_BATCH", "zero"), ("DIGITS_MAX_UPLOAD_BYTES", "-5"), ("DIGITS_LOG_LEVEL", "loud")],
)
def test_bad_settings_name_the_variable(name: str, value: str) -> None:
    from app.settings import SettingsError

    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_blas_threads_are_set_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.settings import BLAS_THREAD_VARIABLES, configure_blas_threads

    for variable in BLAS_THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")  # set by the operator: left alone
    configure_blas_threads({"DIGITS_THREADS": "2"})
    import os

    assert os.environ["OMP_NUM_THREADS"] == "2" and os.environ["MKL_NUM_THREADS"] == "2"
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"
