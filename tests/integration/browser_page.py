"""The draw-pad page as the browser tests see it: :class:`Pad` (one page and everything the tests look
at), the constants they share, and screenshots under artifacts/screenshots/."""

from __future__ import annotations

import re
from typing import Any

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - depends on the machine
    expect = None  # type: ignore[assignment]

from .browser_drawing import DIGITS, SCREENSHOTS, draw_with_mouse

WAIT_MS = 20_000  # generous: the machine may be busy; nothing here is judged on speed
if expect is not None:
    expect.set_options(timeout=WAIT_MS)
BLANK_TEXT = re.compile("draw a digit", re.I)
REFUSAL_TEXT = re.compile("does not look like a digit", re.I)
NUMBER_ROUTE = "**/predict/number*"  # what the page calls
PHONE = {"width": 390, "height": 700}
RECORD_POINTER_TYPES = "c => { window.types = []; c.addEventListener('pointerdown', e => types.push(e.pointerType)) }"
# Chromium logs every non-2xx fetch as a console error; the error-path test provokes those on purpose.
HTTP_STATUS_NOISE = re.compile(r"Failed to load resource: the server responded with a status of (422|503)")


class Pad:
    """One page of the draw-pad with everything the tests look at."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.console_errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.answers: dict[str, Any] = {}  # /predict/number responses by the drawing they carried
        self.cdp: Any = None  # a CDP session, for touch input
        page.on("console", self._on_console)
        page.on("pageerror", lambda e: self.console_errors.append(f"uncaught: {e}"))
        page.on("dialog", self._on_dialog)
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("response", self._on_response)
        page.set_default_timeout(WAIT_MS)
        page.goto(base_url + "/")
        self.canvas = page.locator("canvas").first
        self.prediction = page.get_by_test_id("prediction")
        self.status = page.get_by_test_id("status")
        self.result = page.locator("#result")
        expect(self.status).to_have_text(BLANK_TEXT)

    def _on_console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _on_dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _on_response(self, response) -> None:
        if "/predict/number" in response.url and (version := response.request.headers.get("x-drawing-version")):
            self.answers[version] = response

    def answer(self) -> dict:
        """The API's answer for the drawing now on the canvas (once settled)."""
        self.settled()
        return self.answers[self.canvas.get_attribute("data-drawing-version")].json()

    def draw(self, digit: str, centre: float = 0.5, size: float = 1.0) -> None:
        draw_with_mouse(self.page, DIGITS[digit], centre, size)

    def box(self, i: int):
        return self.page.get_by_test_id(f"box-{i}")

    def bar_widths(self) -> list[tuple[float, float]]:
        """Each bar's rendered width and its track's, in CSS px, once the bars have stopped moving."""
        js = "b => [b.getBoundingClientRect().width, b.parentElement.getBoundingClientRect().width]"
        previous = None
        for _ in range(100):
            widths = [self.page.get_by_test_id(f"bar-{d}").evaluate(js) for d in range(10)]
            if widths == previous:
                return widths
            previous = widths
            self.page.wait_for_timeout(100)
        raise AssertionError(f"the bars never stopped moving: {widths}")

    def shown_probabilities(self) -> list[float]:
        values = self.page.get_by_test_id("bars").locator(".value").all_text_contents()
        return [float(v.rstrip("%")) / 100 for v in values]

    def settled(self) -> None:
        """Wait until no prediction request is in flight (the result region's aria-busy)."""
        expect(self.result).to_have_attribute("aria-busy", "false")

    def expect_blank(self) -> None:
        expect(self.prediction).to_have_text("")
        expect(self.status).to_have_text(BLANK_TEXT)
        expect(self.page.get_by_test_id("confidence")).to_have_text("")
        expect(self.page.get_by_test_id("network-input")).to_be_hidden()
        assert self.ink_pixels() == 0

    def ink_pixels(self) -> int:
        alpha = "c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((v, i) => i % 4 === 3)"
        return self.canvas.evaluate(f"c => {alpha}.filter(Boolean).length")

    def check_clean(self, ignore: re.Pattern | None = None) -> None:
        errors = [e for e in self.console_errors if not (ignore and ignore.search(e))]
        assert errors == [], f"console errors: {errors}"
        assert self.dialogs == [], f"the page opened dialogs: {self.dialogs}"
        foreign = [u for u in self.requests if not u.startswith((self.base_url, "data:"))]
        assert foreign == [], f"the page fetched from elsewhere: {foreign}"


def screenshot(page, request) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
