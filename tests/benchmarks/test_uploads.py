"""bench_peers' two uploads: the cases they make, the bodies it sends, and the peers that take a raw body."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from benchmarks.peers import decode_only
from benchmarks.peers.payloads import BOUNDARY, CASES, case, multipart, request_body, split_case, title
from benchmarks.peers.servers import SERVERS, takes_raw_body


def test_multipart_cases_keep_the_payloads_names_and_raw_ones_add_a_suffix() -> None:
    assert CASES == ("28x28", "canvas", "28x28-raw", "canvas-raw")
    assert [split_case(c) for c in CASES] == [
        ("28x28", "multipart"),
        ("canvas", "multipart"),
        ("28x28", "raw"),
        ("canvas", "raw"),
    ]
    assert all(case(*split_case(c)) == c for c in CASES)
    assert title("canvas") == "280x280 transparent canvas PNG"  # the heading it always had
    assert title("canvas-raw").endswith("raw body (Content-Type: image/png)")


def test_the_raw_upload_is_the_png_itself_and_multipart_wraps_it_in_one_file_field(seven: bytes) -> None:
    assert request_body("raw", seven) == ("image/png", seven)
    content_type, body = request_body("multipart", seven)
    assert content_type == f"multipart/form-data; boundary={BOUNDARY}" and body == multipart(seven)
    assert body.startswith(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"'.encode())
    assert seven in body and body.endswith(f"\r\n--{BOUNDARY}--\r\n".encode())


@pytest.mark.parametrize("upload", ["multipart", "raw"])
def test_the_fastapi_peers_take_either_upload(upload: str, seven: bytes) -> None:
    content_type, body = request_body(upload, seven)
    with TestClient(decode_only.app) as c:
        r = c.post("/predict", content=body, headers={"content-type": content_type})
    assert r.status_code == 200 and r.json() == decode_only.CONSTANT


def test_the_fastapi_peers_say_what_they_accept_when_given_neither_upload() -> None:
    with TestClient(decode_only.app) as c:
        r = c.post("/predict", json={"image": "..."})
    assert r.status_code == 422 and "raw body with an image/* Content-Type" in r.json()["detail"]


def test_only_litserve_and_bentoml_are_left_out_of_the_raw_tables_and_each_says_why() -> None:
    left_out = [n for n in SERVERS if not takes_raw_body(n)]
    assert left_out == ["litserve", "bentoml"]
    assert all(SERVERS[n].raw_body for n in left_out)
