"""The draw-pad page in a real browser: Playwright for Python drives Debian's Chromium against a real uvicorn.

Skips, saying why, only where Playwright or Chromium is missing. Set DRAWPAD_BASE_URL to test a server that
is already running instead of starting one. Screenshots land in artifacts/screenshots/ on every run.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from .browser_drawing import (
    CHROMIUM,
    CONTRAST_JS,
    DIGITS,
    NOT_DIGITS,
    draw_with_mouse,
    draw_with_pen,
    draw_with_touch,
    tap_with_touch,
)
from .browser_page import (
    HTTP_STATUS_NOISE,
    NUMBER_ROUTE,
    PHONE,
    RECORD_POINTER_TYPES,
    REFUSAL_TEXT,
    WAIT_MS,
)

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="Playwright for Python is not installed"),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]

def test_blank_page_is_self_contained_and_invites_drawing(pad):
    page = pad.page
    pad.expect_blank()
    assert page.evaluate("document.querySelector('canvas') === document.querySelectorAll('canvas')[0]")
    assert pad.canvas.evaluate("c => getComputedStyle(c).touchAction") == "none"
    # High-DPI backing store: device pixels, not CSS pixels.
    width, client = pad.canvas.evaluate("c => [c.width, c.clientWidth]")
    assert client > 200 and width == round(client * 2)
    # Room for several digits: on a desktop the pad is twice as wide as it is tall.
    box = pad.canvas.bounding_box()
    assert box["width"] >= 560 and box["width"] >= 1.9 * box["height"], box
    # The curl equivalent is there but tucked away in a <details>.
    curl = page.locator("#curl")
    expect(curl).to_be_hidden()
    page.get_by_text("Use the API").click()
    expect(curl).to_contain_text(f"{pad.base_url}/predict")
    expect(curl).to_contain_text("Content-Type: application/json")
    assert not any("/predict" in u for u in pad.requests), "a blank canvas must not ask for a prediction"
    # Ready for a strict Content-Security-Policy: no inline script, style element, style attribute or handler.
    html = page.request.get(pad.base_url + "/").text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son\w+=", html, re.I) == []
    pad.check_clean()


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("bash")), reason="needs curl and bash")
@pytest.mark.parametrize("example", ["curl", "curl-file"])
def test_curl_examples_on_the_page_work(pad, tmp_path, example):
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (140, 140), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(72, 20), (68, 120)], fill=(17, 17, 17, 255), width=12)
    image.save(tmp_path / "drawing.png")  # what the page's "Download this drawing" saves
    command = pad.page.locator(f"#{example}").text_content()
    run = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    if example == "curl":  # the page's own call: a number
        assert answer["number"] == "1" and len(answer["digits"]) == 1
        answer = answer["digits"][0]
    assert answer["digit"] == 1 and answer["debug_image"].startswith("data:image/png;base64,")


def test_buttons_are_labelled_and_keyboard_reachable(pad):
    page = pad.page
    expect(page.get_by_role("button", name="Clear")).to_be_visible()
    expect(page.get_by_role("button", name="Undo")).to_be_visible()
    assert pad.canvas.get_attribute("aria-label")
    focused = []
    for _ in range(8):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert "Undo" in focused and "Clear" in focused, focused
    # Clear by keyboard alone: draw, tab to the button, press Enter.
    pad.draw("1")
    expect(pad.prediction).to_have_text("1")
    page.get_by_role("button", name="Clear").focus()
    page.keyboard.press("Enter")
    pad.expect_blank()
    pad.check_clean()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_has_sufficient_contrast(pad, scheme):
    pad.page.emulate_media(color_scheme=scheme)
    selectors = ["h1", ".lede", ".card-title", "#status", "#undo", "#clear", ".keys", "summary"]
    selectors.append(".bars .value")
    if scheme == "light":
        selectors.append(".hint")  # sits on the white paper of the canvas, whose parent is the card
    ratios = dict(pad.page.evaluate(CONTRAST_JS, selectors))
    low = {sel: round(r, 2) for sel, r in ratios.items() if r < 4.5}
    assert low == {}, f"contrast below 4.5:1 in {scheme} mode: {low}"


@pytest.mark.parametrize("digit", sorted(DIGITS))
def test_drawn_digit_is_predicted_with_bars_and_network_input(pad, digit):
    page = pad.page
    pad.draw(digit)
    expect(pad.prediction).to_have_text(digit)
    pad.settled()
    expect(pad.prediction).to_have_text(digit)
    expect(page.get_by_test_id("confidence")).to_have_text(re.compile(r"^\d{1,3}\.\d% confident$"))
    timing = r"^Model: \S+ · read in \d+\.\d ms on the server, \d+ ms round trip$"  # from Server-Timing
    expect(page.get_by_test_id("model")).to_have_text(re.compile(timing))
    bars = page.get_by_test_id("bars").locator("li")
    expect(bars).to_have_count(10)
    expect(page.locator(".bars li.top .label")).to_have_text(digit)
    values = [float(v.rstrip("%")) for v in bars.locator(".value").all_text_contents()]
    assert max(values) == values[int(digit)] and 95 <= sum(values) <= 105, values
    seen = page.get_by_test_id("network-input")
    expect(seen).to_be_visible()
    assert seen.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]") == [True, 28, 28]
    assert pad.ink_pixels() > 0
    pad.check_clean()


def test_request_is_a_small_png_with_dark_strokes_on_transparent(pad):
    from PIL import Image

    with pad.page.expect_request(lambda r: "/predict/number" in r.url and r.method == "POST") as caught:
        pad.draw("7")
    request = caught.value
    assert "debug=true" in request.url
    assert request.headers["content-type"].startswith("application/json")
    data_url = json.loads(request.post_data)["image"]
    prefix = "data:image/png;base64,"
    assert data_url.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(data_url[len(prefix) :]))).convert("RGBA")
    # As wide as the canvas in proportion, small enough to keep requests light.
    box = pad.canvas.bounding_box()
    assert 100 <= image.height <= 300 and abs(image.width / image.height - box["width"] / box["height"]) < 0.02
    pixels = np.asarray(image)
    assert pixels[0, 0, 3] == 0, "the background should be transparent"
    ink = pixels[pixels[..., 3] == 255]
    assert len(ink) > 100 and ink[:, :3].max() < 64, "strokes should be dark and opaque"
    expect(pad.prediction).to_have_text("7")
    pad.check_clean()


@pytest.mark.parametrize("how", ["button", "Escape", "Delete"])
def test_clear_returns_to_the_blank_state(pad, how):
    pad.draw("7")
    expect(pad.prediction).to_have_text("7")
    if how == "button":
        pad.page.get_by_role("button", name="Clear").click()
    else:
        pad.page.keyboard.press(how)
    pad.expect_blank()
    pad.settled()
    pad.expect_blank()  # nothing that was in flight brought a digit back
    pad.check_clean()


def test_undo_removes_the_last_stroke(pad):
    page = pad.page
    pad.draw("1")
    expect(pad.prediction).to_have_text("1")
    pad.settled()
    one_stroke = pad.canvas.evaluate("c => c.toDataURL()")
    draw_with_mouse(page, [[(0.15, 0.5), (0.85, 0.5)]])  # a crossing bar: a second stroke
    pad.settled()
    assert pad.canvas.evaluate("c => c.toDataURL()") != one_stroke
    page.get_by_role("button", name="Undo").click()
    assert pad.canvas.evaluate("c => c.toDataURL()") == one_stroke
    expect(pad.prediction).to_have_text("1")
    page.keyboard.press("Control+z")  # undo the first stroke too: back to blank
    pad.expect_blank()
    page.get_by_role("button", name="Undo").click()  # undo on a blank canvas is harmless
    pad.expect_blank()
    pad.check_clean()


def _next_held(page, held: list, index: int):
    for _ in range(WAIT_MS // 50):
        if len(held) > index:
            return held[index]
        page.wait_for_timeout(50)
    raise AssertionError(f"the page sent {len(held)} requests, expected a request number {index + 1}")


def test_answer_arriving_after_clear_is_ignored(pad):
    """A slow answer for an old drawing must never put a digit on a cleared pad.

    Requests sent while the 7 is still being drawn carry half a 7; they are let through. The request held is
    the one carrying the finished drawing: each request names the drawing it carries (X-Drawing-Version),
    and the canvas says which drawing is on it.
    """
    page = pad.page
    held: list = []
    page.route(NUMBER_ROUTE, lambda route: held.append(route))
    pad.draw("7")
    finished = pad.canvas.get_attribute("data-drawing-version")
    assert finished
    released = 0
    while (route := _next_held(page, held, released)).request.headers["x-drawing-version"] != finished:
        route.continue_()  # an answer for half a 7: the page shows it, then sends the finished drawing
        released += 1
    expect(pad.result).to_have_attribute("aria-busy", "true")
    page.get_by_role("button", name="Clear").click()
    pad.expect_blank()
    with page.expect_response(NUMBER_ROUTE) as answer:
        route.continue_()
    assert answer.value.json()["number"] == "7"  # the server did answer with the finished 7...
    pad.settled()
    pad.expect_blank()  # ...and the page ignored it
    assert len(held) == released + 1, "one request at a time, none after Clear"
    pad.check_clean()


@pytest.mark.parametrize(
    "status, detail, shown",
    [
        (503, "model is reloading, try again", "model is reloading, try again"),
        (422, [{"loc": ["body", "image"], "msg": "Field required", "type": "missing"}], "Field required"),
    ],
)
def test_api_errors_are_shown_in_the_page_not_as_alerts(pad, status, detail, shown):
    page = pad.page
    page.route(NUMBER_ROUTE, lambda route: route.fulfill(status=status, json={"detail": detail}))
    pad.draw("1")
    expect(pad.status).to_contain_text(shown)
    expect(pad.status).to_have_attribute("aria-live", "polite")
    expect(pad.prediction).to_have_text("")
    pad.settled()
    expect(pad.prediction).to_have_text("")
    # Once the API is back, drawing again works.
    page.unroute(NUMBER_ROUTE)
    page.get_by_role("button", name="Clear").click()
    pad.draw("1")
    expect(pad.prediction).to_have_text("1")
    pad.check_clean(ignore=HTTP_STATUS_NOISE)


def test_pen_strokes_draw(pad):
    cdp = pad.page.context.new_cdp_session(pad.page)
    pad.canvas.evaluate(RECORD_POINTER_TYPES)
    draw_with_pen(pad.page, cdp, DIGITS["0"])
    expect(pad.prediction).to_have_text("0")
    assert pad.page.evaluate("window.types") == ["pen"]
    pad.check_clean()


def test_phone_viewport_with_touch(phone):
    page = phone.page
    # The page fits a phone: no sideways scrolling, the canvas within the screen.
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    box = phone.canvas.bounding_box()
    assert 250 <= box["width"] <= 390
    width, client = phone.canvas.evaluate("c => [c.width, c.clientWidth]")
    assert width == round(client * 3)
    # The page is taller than the screen, so a finger on the canvas could scroll it: it must draw instead.
    assert page.evaluate("document.documentElement.scrollHeight > innerHeight")
    phone.canvas.scroll_into_view_if_needed()
    scroll_before = page.evaluate("scrollY")
    phone.canvas.evaluate(RECORD_POINTER_TYPES)
    draw_with_touch(page, phone.cdp, DIGITS["1"])
    expect(phone.prediction).to_have_text("1")
    assert page.evaluate("scrollY") == scroll_before
    assert page.evaluate("window.types") == ["touch"]
    assert phone.ink_pixels() > 0
    page.get_by_role("button", name="Clear").tap()
    phone.expect_blank()
    draw_with_touch(page, phone.cdp, DIGITS["7"])
    expect(phone.prediction).to_have_text("7")
    expect(page.get_by_test_id("network-input")).to_be_visible()
    phone.check_clean()


def test_bars_are_drawn_in_proportion_to_the_probabilities(pad):
    pad.draw("3")
    expect(pad.prediction).to_have_text("3")
    pad.settled()
    probabilities = pad.shown_probabilities()
    widths = pad.bar_widths()
    for d, ((bar, track), p) in enumerate(zip(widths, probabilities, strict=True)):
        assert track > 100, f"bar-{d}'s track is {track} px wide"
        # The value is shown to 0.1 %, the width is rendered to a fraction of a pixel.
        assert abs(bar - p * track) <= 0.002 * track + 1, (d, bar, p, track)
    top_bar, top_track = widths[3]
    assert top_bar >= 0.5 * top_track and pad.page.get_by_test_id("bar-3").bounding_box()["height"] >= 6
    pad.check_clean()


def _within_screen(page, locators) -> None:
    for locator in locators:
        box = locator.bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], (locator, box)


def test_phone_layout_fits_drawing_and_answer_in_one_screen(phone):
    page = phone.page
    assert page.evaluate("[innerWidth, innerHeight]") == [PHONE["width"], PHONE["height"]]
    canvas = phone.canvas.bounding_box()
    assert canvas["y"] >= 0 and canvas["y"] + canvas["height"] <= PHONE["height"], canvas
    assert canvas["height"] >= 200, f"too small to draw on: {canvas}"
    draw_with_touch(page, phone.cdp, DIGITS["4"])
    expect(phone.prediction).to_have_text("4")
    phone.settled()
    assert page.evaluate("scrollY") == 0, "drawing scrolled the page"
    answer = [phone.prediction, phone.status, page.get_by_test_id("confidence")]
    _within_screen(page, [phone.canvas, page.get_by_role("button", name="Clear"), *answer])
    status = phone.status.bounding_box()
    print(
        f"phone {PHONE}: canvas y {canvas['y']:.0f}-{canvas['y'] + canvas['height']:.0f}, "
        f"prediction y {phone.prediction.bounding_box()['y']:.0f}, status bottom {status['y'] + status['height']:.0f}"
    )
    # A two-digit number by finger: still one screen, chips included; a tap on a box shows that digit's bars.
    page.get_by_role("button", name="Clear").tap()
    draw_with_touch(page, phone.cdp, DIGITS["4"], centre=0.3, size=0.75)
    draw_with_touch(page, phone.cdp, DIGITS["7"], centre=0.7, size=0.75)
    expect(phone.prediction).to_have_text("47")
    phone.settled()
    assert page.evaluate("scrollY") == 0
    _within_screen(page, [phone.canvas, *answer, page.get_by_test_id("digit-1")])
    ink = phone.canvas.evaluate("c => c.toDataURL()")
    box = phone.box(0).bounding_box()
    tap_with_touch(phone.cdp, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.get_by_test_id("digit-0")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".bars li.top .label")).to_have_text("4")
    assert phone.canvas.evaluate("c => c.toDataURL()") == ink, "the tap left a dot"
    expect(page.get_by_test_id("bar-4")).to_be_in_viewport()  # scrolled to the bars, below the fold
    phone.check_clean()


def test_two_digit_number_is_read_boxed_and_each_digit_explained(pad):
    page = pad.page
    pad.draw("4", centre=0.32, size=0.8)
    pad.draw("7", centre=0.68, size=0.8)
    expect(pad.prediction).to_have_text("47")
    answer = pad.answer()
    assert answer["number"] == "47"
    expect(pad.status).not_to_have_text(REFUSAL_TEXT)
    expect(page.get_by_test_id("confidence")).to_have_text(re.compile(r"^\d{1,3}\.\d% confident$"))
    # A box over each digit, on the canvas, with its own reading.
    canvas = pad.canvas.bounding_box()
    boxes = [pad.box(i).bounding_box() for i in range(2)]
    expect(page.get_by_test_id("boxes").locator(".box")).to_have_count(2)
    for i, (box, centre, digit) in enumerate(zip(boxes, (0.32, 0.68), "47", strict=True)):
        assert box["x"] >= canvas["x"] - 8 and box["x"] + box["width"] <= canvas["x"] + canvas["width"] + 8
        middle = (box["x"] + box["width"] / 2 - canvas["x"]) / canvas["width"]
        assert abs(middle - centre) < 0.1, (i, box, canvas)
        assert box["height"] > 0.4 * canvas["height"]
        expect(page.get_by_test_id(f"box-tag-{i}")).to_have_text(digit)
    assert boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"] + 12
    # A chip per digit; choosing one shows its bars and the 28x28 image it was read from.
    chips = page.get_by_test_id("digits").get_by_role("button")
    expect(chips).to_have_text(["4", "7"])
    seen = page.get_by_test_id("network-input")
    asked = len(pad.requests)
    for i, how in ((0, "chip"), (1, "box"), (0, "tag"), (1, "keyboard")):
        if how == "chip":
            chips.nth(i).click()
        elif how == "tag":
            page.get_by_test_id(f"box-tag-{i}").click()
        elif how == "keyboard":
            chips.nth(i).focus()
            page.keyboard.press("Enter")
        else:  # a tap inside the box on the canvas: chooses the digit, leaves no dot
            before = pad.canvas.evaluate("c => c.toDataURL()")
            box = boxes[i]
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            assert pad.canvas.evaluate("c => c.toDataURL()") == before
        digit = answer["digits"][i]
        expect(chips.nth(i)).to_have_attribute("aria-pressed", "true")
        expect(chips.nth(1 - i)).to_have_attribute("aria-pressed", "false")
        expect(page.locator(".bars li.top .label")).to_have_text(str(digit["digit"]))
        expect(page.get_by_test_id("detail-title")).to_contain_text(f"Digit {i + 1} of 2")
        expect(seen).to_have_attribute("src", digit["debug_image"])
        assert seen.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]") == [True, 28, 28]
        shown = pad.shown_probabilities()
        assert all(abs(a - b) <= 0.0006 for a, b in zip(shown, digit["probabilities"], strict=True))
    assert len(pad.requests) == asked, "choosing a digit must not ask the server again"
    pad.check_clean()


@pytest.mark.parametrize(
    "drawing", [["star"], ["W"], ["arrow"], ["4", "star"]], ids=["star", "W", "arrow", "4-then-star"]
)
def test_a_drawing_that_is_not_a_digit_is_refused(pad, drawing):
    """Needs weights with a refusal output (the network of issue 11): older weights read these as digits.

    How many parts the API makes of a star is the API's business; the page must show every refused part as
    refused, and no number at all.
    """
    page = pad.page
    n = len(drawing)
    for k, name in enumerate(drawing):
        strokes = DIGITS.get(name) or NOT_DIGITS[name]
        draw_with_mouse(page, strokes, centre=(k + 1) / (n + 1), size=1.0 if n == 1 else 0.75)
    answer = pad.answer()
    read = [(d["digit"], d["is_digit"]) for d in answer["digits"]]
    assert answer["number"] is None, f"no part refused, the API read {answer['number']!r} ({read})"
    expect(pad.status).to_contain_text(REFUSAL_TEXT)
    expect(pad.status).not_to_have_class(re.compile("error"))
    if len(read) == 1:
        expect(pad.status).to_have_text("That does not look like a digit.")
    expect(pad.prediction).to_have_text("")  # no digit where the answer goes
    expect(page.get_by_test_id("confidence")).to_have_text("")
    for i, (digit, is_digit) in enumerate(read):
        expect(pad.box(i)).to_have_class(re.compile(r"\bbox\b" if is_digit else r"\brefused\b"))
        expect(page.get_by_test_id(f"box-tag-{i}")).to_have_text(str(digit) if is_digit else "?")
    # The closest guess is there, marked as a guess and not a reading.
    expect(page.get_by_test_id("detail-title")).to_contain_text(re.compile(r"not a digit.*closest guess: \d", re.I))
    if n > 1:
        assert read[0] == (4, True), f"the 4 before the star: {read}"
    pad.check_clean()
