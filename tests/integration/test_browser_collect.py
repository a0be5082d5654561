"""The draw-pad's "wrong reading?" form in Chromium: the right digit chosen by keyboard, the drawing
downloaded as ``<digit>/<time>.png`` when the server does not collect, saved through ``POST /collect``
when it does. Driven as ``tests/test_browser.py`` drives the page (its fixtures and :class:`Pad`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from model.recipe import preprocess
from model.recipe.folders import read_folder
from tests.helpers import uvicorn_server

from .browser_drawing import CHROMIUM
from .browser_page import Pad

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="Playwright for Python is not installed"),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium at /usr/bin/chromium (apt-get install chromium)"),
]

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - skipped by pytestmark
    expect = None  # type: ignore[assignment]

STAMP = r"\d{8}T\d{6}Z\.png"


@pytest.fixture(scope="module")
def collecting(tmp_path_factory):
    folder = tmp_path_factory.mktemp("collected")
    with uvicorn_server(env={"DIGITS_COLLECT_DIR": str(folder)}, ready="/health", timeout=90.0) as url:
        yield url, folder


def open_pad(chromium, url: str) -> tuple[Pad, object]:  # noqa: F811
    context = chromium.new_context(viewport={"width": 1100, "height": 820}, accept_downloads=True)
    return Pad(context.new_page(), url), context


def choose_by_keyboard(pad: Pad, label: str) -> None:
    """Focus the labelled select, pick ``label`` with the keyboard, Tab to the button, press Enter."""
    page = pad.page
    select = page.get_by_label("Wrong reading? The right answer:")
    select.focus()
    select.select_option(label)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "correct-send"
    page.keyboard.press("Enter")


def test_the_form_appears_with_a_reading_and_asks_for_a_choice(chromium, server):  # noqa: F811
    pad, context = open_pad(chromium, server)
    form = pad.page.get_by_test_id("correct")
    expect(form).to_be_hidden()
    pad.draw("7")
    expect(pad.prediction).to_have_text("7")
    expect(form).to_be_visible()
    send = pad.page.get_by_role("button", name="Download drawing")
    expect(send).to_be_visible()
    send.click()
    expect(pad.page.get_by_test_id("correct-note")).to_have_text(re.compile("choose the right digit", re.I))
    assert pad.page.evaluate("document.activeElement.id") == "right-digit"
    pad.check_clean()
    context.close()


def test_download_when_the_server_does_not_collect(chromium, server, tmp_path: Path):  # noqa: F811
    pad, context = open_pad(chromium, server)
    pad.draw("7")
    expect(pad.prediction).to_have_text("7")
    with pad.page.expect_download() as info:
        choose_by_keyboard(pad, "1")
    download = info.value
    assert re.fullmatch(rf"1[/_]{STAMP}", download.suggested_filename), download.suggested_filename
    saved = tmp_path / "1" / "drawing.png"
    saved.parent.mkdir()
    download.save_as(saved)
    assert preprocess(saved.read_bytes()).shape == (28, 28)
    assert read_folder(tmp_path).counts() == {"1": 1}
    note = pad.page.get_by_test_id("correct-note")
    expect(note).to_have_text(re.compile(rf"^Downloaded as 1/{STAMP}: keep it in the folder 1/"))
    assert not [u for u in pad.requests if "/collect?" in u]
    pad.check_clean()
    context.close()


def test_saved_on_the_server_when_it_collects(chromium, collecting):  # noqa: F811
    url, folder = collecting
    pad, context = open_pad(chromium, url)
    pad.draw("7")
    expect(pad.prediction).to_have_text("7")
    expect(pad.page.get_by_role("button", name="Save drawing")).to_be_visible()
    choose_by_keyboard(pad, "not_digit")
    expect(pad.page.get_by_test_id("correct-note")).to_have_text(re.compile(r"^Saved as not_digit/\S+\.png"))
    found = read_folder(folder)
    assert found.counts() == {"not_digit": 1} and not found.problems
    pad.check_clean()
    context.close()
