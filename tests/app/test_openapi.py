"""The OpenAPI document served by a real server matches what the service does: every status it can
answer is documented where it can occur, with one line saying why; ``files`` needs one item; the JSON
``debug`` flag is a strict boolean."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from app.openapi import ANY_REQUEST, WITH_BODY
from app.protocol import SPEC
from tests.helpers import uvicorn_server

pytestmark = pytest.mark.integration  # the document served by a real server

EVERY_STATUS = {400, 408, 413, 415, 422, 431, 499, 503, 504, 500}  # what any route can answer, besides 200
ROUTE_STATUSES = {("post", "/explain"): {501}, ("post", "/collect"): {404, 507}}  # and what only some can


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with uvicorn_server(args=("--http", SPEC)) as url:
        yield url


@pytest.fixture(scope="module")
def spec(server: str) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(server + "/openapi.json", timeout=10).json()
    return document


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_status_is_documented_where_it_can_occur(spec: dict[str, Any]) -> None:
    assert set(ANY_REQUEST) | set(WITH_BODY) == EVERY_STATUS
    seen = set()
    for path, method, operation in operations(spec):
        expected = set(ANY_REQUEST) | (set(WITH_BODY) if method == "post" else set())
        expected |= ROUTE_STATUSES.get((method, path), set())
        documented = {int(s) for s in operation["responses"]} - {200, 201}
        assert documented == expected, (method, path)
        for status in documented:
            response = operation["responses"][str(status)]
            assert response["description"] and "\n" not in response["description"], (method, path, status)
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path, status)
        seen.add((method, path))
    assert {("post", "/predict"), ("post", "/predict/batch"), ("post", "/predict/number"), ("get", "/health")} <= seen


def test_a_batch_needs_one_file(spec: dict[str, Any], server: str) -> None:
    form = spec["paths"]["/predict/batch"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["files"]["minItems"] == 1 and form["required"] == ["files"]
    r = httpx.post(server + "/predict/batch", files={"note": ("n.txt", b"x", "text/plain")}, timeout=10)
    assert r.status_code == 422 and "no file" in r.json()["detail"]


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_debug_is_a_strict_boolean(spec: dict[str, Any], server: str, seven: bytes, path: str) -> None:
    body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["debug"]["type"] == "boolean"
    image = base64.b64encode(seven).decode()
    field = {"image": image} if path == "/predict" else {"images": [image]}
    for lenient in (0, 1, "yes", "true", None):
        r = httpx.post(server + path, json={**field, "debug": lenient}, timeout=10)
        assert r.status_code == 422 and "debug" in r.json()["detail"], (lenient, r.text)
    assert httpx.post(server + path, json={**field, "debug": True}, timeout=10).status_code == 200
