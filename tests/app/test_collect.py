"""Collecting labelled drawings: ``GET /collect``, ``POST /collect?digit=D`` (off by default, atomic
writes, the folder cap, every bad input) and several workers writing at once through a real server."""

from __future__ import annotations

import base64
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app import collector
from app.main import create_app
from app.settings import Settings
from model.recipe.folders import read_folder
from tests.helpers import assert_error, encode, png, uvicorn_server


def drawing(size: int = 200, fmt: str = "PNG") -> bytes:
    """A 1 drawn dark on a white canvas, encoded as ``fmt``."""
    im = np.full((size, size), 255, np.uint8)
    im[size // 5 : size * 4 // 5, size // 2 - size // 30 : size // 2 + size // 30] = 0
    return encode(im, fmt)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "collected"


@pytest.fixture
def on(folder: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(collect_dir=folder))) as c:
        yield c


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_off_by_default_answers_404_and_writes_nothing(tmp_path: Path, seven: bytes) -> None:
    with TestClient(create_app(Settings())) as c:
        assert c.get("/collect").json() == {"enabled": False, "labels": [*map(str, range(10)), "not_digit"]}
        r = c.post("/collect?digit=7", content=seven, headers={"content-type": "image/png"})
        assert_error(r, 404, "off", "DIGITS_COLLECT_DIR")
    assert Settings.from_env({}).collect_dir is None


def test_saves_each_upload_way_as_png_in_the_folder_layout(on: TestClient, folder: Path) -> None:
    assert on.get("/collect").json()["enabled"] is True
    jpeg = drawing(fmt="JPEG")
    url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    answers = [
        on.post("/collect?digit=1", content=jpeg, headers={"content-type": "image/jpeg"}),
        on.post("/collect?digit=1", files={"file": ("one.jpg", jpeg, "image/jpeg")}),
        on.post("/collect?digit=not_digit", json={"image": url}),
    ]
    for r in answers:
        assert r.status_code == 201, r.text
    paths = [r.json()["path"] for r in answers]
    assert paths[0].startswith("1/") and paths[2].startswith("not_digit/")
    assert len(set(paths)) == 3
    for p in paths:
        saved = folder / p
        assert saved.name.endswith(".png")
        with Image.open(saved) as im:
            assert im.format == "PNG" and im.size == (200, 200)
    found = read_folder(folder)  # the folder is what scripts/finetune.py reads
    assert found.counts() == {"1": 2, "not_digit": 1} and not found.problems
    assert not [p for p in folder.rglob(".*")]  # no temporary file left behind


def test_the_client_chooses_no_path(on: TestClient, folder: Path) -> None:
    image = drawing()
    for label in ("../7", "7/../../x", "/etc", "10", "seven", "", "ÿ" * 300):
        r = on.post("/collect", params={"digit": label}, content=image, headers={"content-type": "image/png"})
        assert_error(r, 422, "digit")
    assert_error(on.post("/collect", content=image, headers={"content-type": "image/png"}), 422, "digit")
    assert files(folder) == []


@pytest.mark.parametrize(
    ("body", "kind", "status", "words"),
    [
        (b"", "image/png", 400, ("empty",)),
        (b"not an image", "image/png", 422, ("not a",)),
        (png(np.full((40, 40), 255, np.uint8)), "image/png", 422, ("no digit",)),
        (b"{}", "text/plain", 415, ("content-type",)),
        (b'{"image": "@@@"}', "application/json", 422, ("base64",)),
    ],
    ids=["empty", "not-an-image", "blank", "wrong-type", "bad-base64"],
)
def test_bad_uploads_are_4xx_and_save_nothing(
    on: TestClient, folder: Path, body: bytes, kind: str, status: int, words: tuple[str, ...]
) -> None:
    assert_error(on.post("/collect?digit=3", content=body, headers={"content-type": kind}), status, *words)
    assert files(folder) == []


def test_bounded_by_the_request_limits_and_the_folder_cap(folder: Path) -> None:
    image = drawing()
    size = len(collector.to_png(image, 10**7))
    settings = Settings(collect_dir=folder, collect_max_bytes=2 * size + size // 2, max_image_pixels=300 * 300,
                        max_upload_bytes=64 * 1024)
    with TestClient(create_app(settings)) as c:
        assert_error(c.post("/collect?digit=5", content=drawing(400), headers={"content-type": "image/png"}),
                     413, "pixels")
        assert_error(c.post("/collect?digit=5", content=os.urandom(70 * 1024), headers={"content-type": "image/png"}),
                     413)
        for _ in range(2):
            assert c.post("/collect?digit=5", content=image, headers={"content-type": "image/png"}).status_code == 201
        assert_error(c.post("/collect?digit=5", content=image, headers={"content-type": "image/png"}),
                     507, "DIGITS_COLLECT_MAX_BYTES")
    assert len(files(folder)) == 2


@pytest.mark.integration  # a real server with two workers
def test_concurrent_writers_through_two_workers(tmp_path: Path) -> None:
    folder = tmp_path / "collected"
    images = [drawing(120 + 8 * i) for i in range(24)]
    env = {"DIGITS_COLLECT_DIR": str(folder), "WEB_CONCURRENCY": "2"}
    with uvicorn_server(env=env, timeout=90.0) as url:
        start = threading.Barrier(len(images))
        answers: list[httpx2.Response] = []

        def send(i: int) -> None:
            with httpx2.Client(timeout=60) as client:
                start.wait()
                answers.append(client.post(f"{url}/collect?digit={i % 10}", content=images[i],
                                           headers={"content-type": "image/png"}))

        done = threading.Event()
        seen: list[int] = []

        def read() -> None:  # what a reader of the folder meets meanwhile: only whole PNGs
            while not done.is_set():
                for p in (q for q in folder.rglob("*.png") if not q.name.startswith(".")):
                    with Image.open(io.BytesIO(p.read_bytes())) as im:
                        im.load()
                    seen.append(1)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(images))]
        reader = threading.Thread(target=read)
        reader.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done.set()
        reader.join()
    assert sorted(r.status_code for r in answers) == [201] * len(images)
    saved = files(folder)
    assert len(saved) == len(images) == len({r.json()["path"] for r in answers})
    sizes = sorted(Image.open(io.BytesIO(p.read_bytes())).size[0] for p in saved)
    assert sizes == sorted(120 + 8 * i for i in range(24))  # every image whole, none written over another
