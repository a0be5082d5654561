"""Fixtures of the integration tests: a real server and a real Chromium for the draw-pad tests."""

from __future__ import annotations

import os

import pytest

from tests.helpers import uvicorn_server

from .browser_drawing import CHROMIUM, CHROMIUM_ARGS
from .browser_page import PHONE, Pad, screenshot

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]


@pytest.fixture(scope="module")
def server():
    if url := os.environ.get("DRAWPAD_BASE_URL"):
        yield url.rstrip("/")
        return
    with uvicorn_server(ready="/health", timeout=90.0) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def pad(chromium, server, request):
    context = chromium.new_context(viewport={"width": 1100, "height": 820}, device_scale_factor=2)
    pad = Pad(context.new_page(), server)
    yield pad
    screenshot(pad.page, request)
    context.close()


@pytest.fixture
def phone(chromium, server, request):
    context = chromium.new_context(viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True)
    pad = Pad(context.new_page(), server)
    pad.cdp = context.new_cdp_session(pad.page)
    yield pad
    screenshot(pad.page, request)
    context.close()
