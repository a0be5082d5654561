"""The draw-pad's "Look inside" view in Chromium, drawn on for real (the fixtures and helpers of test_browser.py),
and the three newcomer fixes: a refusal looks like one, a number opens on its first digit, the drawing downloads.

Screenshots land in artifacts/screenshots/; look-inside.png there is the README's docs/look-inside.png.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess

import pytest

from .browser_drawing import (
    CONTRAST_JS,
    DIGITS,
    NOT_DIGITS,
    SCREENSHOTS,
    draw_with_mouse,
    draw_with_touch,
    tap_with_touch,
)
from .browser_page import PHONE

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - test_browser.py skips the module then
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(expect is None, reason="Playwright for Python is not installed")

INSIDE = re.compile("inside", re.I)
WARM_PIXELS = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && d[i] - d[i + 2] > 60) n++; return n; }"""
BRIGHT_PIXELS = """img => { if (!img.complete || !img.naturalWidth) return 0;
  const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
  const x = c.getContext('2d'); x.drawImage(img, 0, 0); const d = x.getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 100) n++; return n; }"""


def explains(pad) -> list[str]:  # noqa: F811
    return [u for u in pad.requests if "/explain" in u]


def heat(pad) -> str:  # noqa: F811
    """The heatmap canvas as a data URL, once the latest /explain answer is shown."""
    expect(pad.page.locator("#inside")).to_have_attribute("aria-busy", "false")
    return pad.page.get_by_test_id("heatmap").evaluate("c => c.toDataURL()")


def open_inside(pad) -> None:  # noqa: F811
    toggle = pad.page.get_by_role("button", name=INSIDE)
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(pad.page.get_by_test_id("inside-status")).to_contain_text("looked for")


def check_pictures(pad) -> None:  # noqa: F811
    page = pad.page
    assert page.get_by_test_id("heatmap").evaluate(WARM_PIXELS) > 10, "the heatmap shows no heat"
    lit = {}
    for name in ("conv1", "conv2", "conv3", "dense"):
        img = page.get_by_test_id(f"layer-{name}").locator("img")
        expect(img).to_be_visible()
        lit[name] = img.evaluate(BRIGHT_PIXELS)
    assert sum(n > 20 for n in lit.values()) >= 2, f"layer views with pixels: {lit}"


def save_readme_picture(png: bytes) -> None:
    """The README's picture (docs/look-inside.png, copied from artifacts/screenshots/look-inside.png): the
    draw-pad's cards at 1000 px wide in 256 colours, as docs/draw-pad.png."""
    from PIL import Image

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = Image.open(io.BytesIO(png)).convert("RGB")
    small = shot.resize((1000, round(shot.height * 1000 / shot.width)), Image.Resampling.LANCZOS)
    small.quantize(256).save(SCREENSHOTS / "look-inside.png", optimize=True)


def test_look_inside_a_seven(pad) -> None:  # noqa: F811
    page = pad.page
    pad.draw("7")
    expect(pad.prediction).to_have_text("7")
    pad.settled()
    assert explains(pad) == [], "the closed view asked the server"
    open_inside(pad)
    check_pictures(pad)
    expect(page.get_by_test_id("inside-status")).to_contain_text("looked for 7")
    # The heat lies faintly over the drawing, on the digit's box.
    overlay = page.get_by_test_id("heat-overlay")
    expect(overlay).to_be_visible()
    assert overlay.evaluate(WARM_PIXELS) > 10
    box, field = pad.box(0).bounding_box(), overlay.bounding_box()
    middle = (field["x"] + field["width"] / 2, field["y"] + field["height"] / 2)
    assert box["x"] < middle[0] < box["x"] + box["width"] and box["y"] < middle[1] < box["y"] + box["height"]
    # A bar asks about its digit: by click, then by keyboard.
    before = heat(pad)
    page.locator(".bars li").nth(1).click()
    expect(page.get_by_test_id("inside-status")).to_contain_text("why not a 1?")
    assert heat(pad) != before, "the heatmap for 1 is the heatmap for 7"
    expect(page.locator(".bars li").nth(1)).to_have_attribute("aria-pressed", "true")
    page.locator(".bars li").nth(9).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("inside-status")).to_contain_text("why not a 9?")
    page.locator(".bars li").nth(7).focus()
    page.keyboard.press(" ")
    expect(page.get_by_test_id("inside-status")).to_contain_text("looked for 7, the digit read")
    assert heat(pad) == before
    # Live: more ink, a new look; closing stops asking.
    asked = len(explains(pad))
    draw_with_mouse(page, [[(0.3, 0.55), (0.7, 0.55)]])  # a bar across: a continental 7
    pad.settled()
    expect(page.locator("#inside")).to_have_attribute("aria-busy", "false")
    assert len(explains(pad)) > asked
    page.get_by_role("button", name=INSIDE).click()
    expect(page.locator("#inside")).to_be_hidden()
    expect(page.get_by_test_id("heat-overlay")).to_be_hidden()
    asked = len(explains(pad))
    draw_with_mouse(page, [[(0.5, 0.1), (0.5, 0.2)]])
    pad.settled()
    assert len(explains(pad)) == asked, "the closed view asked the server"
    pad.check_clean()


def test_look_inside_a_number_by_keyboard_with_the_readme_picture(pad) -> None:  # noqa: F811
    page = pad.page
    pad.draw("4", centre=0.32, size=0.8)
    pad.draw("7", centre=0.68, size=0.8)
    expect(pad.prediction).to_have_text("47")
    pad.settled()
    expect(page.get_by_test_id("digit-0")).to_have_attribute("aria-pressed", "true")  # opens on the first digit
    toggle = page.get_by_role("button", name=INSIDE)
    toggle.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("inside-status")).to_contain_text("Digit 1 of 2: where the network looked for 4")
    check_pictures(pad)
    first = page.get_by_test_id("heat-overlay").bounding_box()
    page.get_by_test_id("digit-1").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("inside-status")).to_contain_text("Digit 2 of 2: where the network looked for 7")
    second = page.get_by_test_id("heat-overlay").bounding_box()
    assert second["x"] > first["x"] + first["width"] / 2, (first, second)  # over the 7 now
    box = pad.box(1).bounding_box()
    assert box["x"] < second["x"] + second["width"] / 2 < box["x"] + box["width"]
    save_readme_picture(page.locator("main").screenshot())
    pad.check_clean()


def test_look_inside_on_a_phone(phone) -> None:  # noqa: F811
    page = phone.page
    draw_with_touch(page, phone.cdp, DIGITS["4"], centre=0.3, size=0.75)
    draw_with_touch(page, phone.cdp, DIGITS["7"], centre=0.7, size=0.75)
    expect(phone.prediction).to_have_text("47")
    phone.settled()
    assert explains(phone) == []
    toggle = page.get_by_role("button", name=INSIDE)
    toggle.scroll_into_view_if_needed()
    box = toggle.bounding_box()
    tap_with_touch(phone.cdp, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.get_by_test_id("inside-status")).to_contain_text("looked for 4")
    check_pictures(phone)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"], "wider than the phone"
    for locator in (page.get_by_test_id("heatmap"), *(page.get_by_test_id(f"layer-{n}") for n in ("conv1", "dense"))):
        b = locator.bounding_box()
        assert b["x"] >= 0 and b["x"] + b["width"] <= PHONE["width"], (locator, b)
    page.get_by_test_id("heatmap").scroll_into_view_if_needed()
    before = heat(phone)
    bar = page.locator(".bars li").nth(9)
    bar.scroll_into_view_if_needed()
    b = bar.bounding_box()
    tap_with_touch(phone.cdp, b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
    expect(page.get_by_test_id("inside-status")).to_contain_text("why not a 9?")
    assert heat(phone) != before
    phone.check_clean()


@pytest.mark.parametrize("drawing", [["star"], ["4", "star"]], ids=["star", "4-then-star"])
def test_a_refusal_looks_like_a_refusal(pad, drawing) -> None:  # noqa: F811
    page = pad.page
    for k, name in enumerate(drawing):
        strokes = DIGITS.get(name) or NOT_DIGITS[name]
        draw_with_mouse(page, strokes, centre=(k + 1) / (len(drawing) + 1), size=1.0 if len(drawing) == 1 else 0.75)
    answer = pad.answer()
    refused = next(i for i, d in enumerate(answer["digits"]) if not d["is_digit"])
    expect(page.get_by_test_id(f"digit-{refused}")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("bars")).to_have_class(re.compile(r"\brefused\b"))
    colours = page.evaluate("""() => {
        const top = getComputedStyle(document.querySelector('.bars li.top .fill'));
        const accent = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim();
        const probe = document.createElement('span'); probe.style.color = accent; document.body.append(probe);
        const rgb = getComputedStyle(probe).color; probe.remove();
        return [top.backgroundColor, top.backgroundImage, rgb]; }""")
    background, image, accent = colours
    assert background != accent and image != "none", colours  # hatched in the error colour, not the answer's
    # A digit read beside it still shows in the answer's colour.
    if len(drawing) > 1:
        page.get_by_test_id("digit-0").click()
        expect(page.get_by_test_id("bars")).not_to_have_class(re.compile(r"\brefused\b"))
    # Inside, the closest guess is named as one.
    page.get_by_test_id(f"digit-{refused}").click()
    open_inside(pad)
    expect(page.get_by_test_id("inside-status")).to_contain_text("closest guess")
    pad.check_clean()


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("bash")), reason="needs curl and bash")
def test_download_this_drawing_makes_the_footer_commands_work(pad, tmp_path) -> None:  # noqa: F811
    page = pad.page
    download = page.get_by_role("button", name="Download this drawing")
    page.get_by_text("Use the API").click()
    expect(download).to_be_disabled()
    pad.draw("3")
    expect(pad.prediction).to_have_text("3")
    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename == "drawing.png"
    info.value.save_as(tmp_path / "drawing.png")
    assert (tmp_path / "drawing.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for example in ("curl", "curl-file"):
        command = page.locator(f"#{example}").text_content()
        run = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        answer = json.loads(run.stdout)
        digit = answer["digits"][0] if example == "curl" else answer
        assert digit["digit"] == 3, answer
    pad.check_clean()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_inside_text_has_sufficient_contrast(pad, scheme) -> None:  # noqa: F811
    pad.page.emulate_media(color_scheme=scheme)
    pad.draw("0")
    expect(pad.prediction).to_have_text("0")
    open_inside(pad)
    selectors = ["#inside-toggle", ".inside-status", ".inside-help", ".looked figcaption", ".layer figcaption"]
    ratios = dict(pad.page.evaluate(CONTRAST_JS, selectors))
    low = {sel: round(r, 2) for sel, r in ratios.items() if r < 4.5}
    assert low == {}, f"contrast below 4.5:1 in {scheme} mode: {low}"
    pad.check_clean()
