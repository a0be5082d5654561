"""Helpers for the browser tests: Chromium's path, digit strokes, mouse and touch drawing.

Strokes are drawn in square slots of the (wide) canvas: a shape's points run 0..1 across the slot, the slot is
as tall as ``size`` canvas heights and centred at ``centre`` (a fraction of the canvas width).
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"  # artifacts/ is gitignored
_CANDIDATES = (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium"))
CHROMIUM = next((p for p in _CANDIDATES if p and Path(p).exists()), None)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Synthetic touch moves arrive all at once: lifting the finger straight after would be a very fast swipe, a
# fling, and Chromium swallows the next tap (the one that would stop the fling). People pause; so do we.
LIFT_PAUSE_MS = 100
Stroke = list[tuple[float, float]]  # points in a square slot: (0, 0) top left, (1, 1) bottom right


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 28) -> Stroke:
    # Starts at the top and goes a little past it, as people close a 0.
    angles = [2 * math.pi * i / n for i in range(n + 2)]
    return [(cx + rx * math.sin(a), cy - ry * math.cos(a)) for a in angles]


def _arc(cx: float, cy: float, r: float, start: float, end: float, n: int = 14) -> Stroke:
    """Degrees clockwise from 12 o'clock."""
    angles = [math.radians(start + (end - start) * i / n) for i in range(n + 1)]
    return [(cx + r * math.sin(a), cy - r * math.cos(a)) for a in angles]


def _star(cx: float, cy: float, r: float) -> Stroke:
    """A five-pointed star drawn in one stroke, the way people doodle it (every second point)."""
    angles = [math.radians(144 * k) for k in range(6)]
    return [(cx + r * math.sin(a), cy - r * math.cos(a)) for a in angles]


# Shapes that the placeholder model and the real one both read reliably.
DIGITS: dict[str, list[Stroke]] = {
    "0": [_ellipse(0.5, 0.5, 0.2, 0.32)],
    "1": [[(0.52, 0.14), (0.5, 0.5), (0.48, 0.86)]],
    "3": [_arc(0.47, 0.33, 0.17, -70, 180) + _arc(0.47, 0.67, 0.19, 0, 230)],
    "4": [[(0.58, 0.14), (0.26, 0.62), (0.76, 0.62)], [(0.6, 0.36), (0.6, 0.88)]],
    "7": [[(0.27, 0.2), (0.73, 0.2), (0.45, 0.86)]],
}
# Shapes that are not digits: what a refusal is tested with.
NOT_DIGITS: dict[str, list[Stroke]] = {
    "star": [_star(0.5, 0.52, 0.36)],
    "W": [[(0.2, 0.25), (0.35, 0.78), (0.5, 0.4), (0.65, 0.78), (0.8, 0.25)]],
    "arrow": [[(0.15, 0.5), (0.85, 0.5)], [(0.65, 0.32), (0.85, 0.5), (0.65, 0.68)]],  # pointing right
}


def to_page(box: dict, point: tuple[float, float], centre: float = 0.5, size: float = 1.0) -> tuple[float, float]:
    """A slot point on the page: the slot is ``size`` canvas heights square, centred at ``centre`` of the width."""
    side = size * box["height"]
    left = box["x"] + centre * box["width"] - side / 2
    top = box["y"] + (box["height"] - side) / 2
    return left + point[0] * side, top + point[1] * side


def draw_with_mouse(page, strokes: list[Stroke], centre: float = 0.5, size: float = 1.0) -> None:
    box = page.locator("canvas").first.bounding_box()
    for stroke in strokes:
        page.mouse.move(*to_page(box, stroke[0], centre, size))
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*to_page(box, point, centre, size), steps=4)
        page.mouse.up()


def _interpolate(stroke: Stroke, steps: int = 4) -> Stroke:
    out = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
        out += [(x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps) for k in range(1, steps + 1)]
    return out


def draw_with_touch(page, cdp, strokes: list[Stroke], centre: float = 0.5, size: float = 1.0) -> None:
    """Finger strokes through Chromium's touch input (pointerType "touch" on the page)."""
    box = page.locator("canvas").first.bounding_box()
    for stroke in strokes:
        points = [to_page(box, p, centre, size) for p in _interpolate(stroke)]
        x, y = points[0]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
        for x, y in points[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        page.wait_for_timeout(LIFT_PAUSE_MS)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def tap_with_touch(cdp, x: float, y: float) -> None:
    """A finger tap at page coordinates (CSS px)."""
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def draw_with_pen(page, cdp, strokes: list[Stroke]) -> None:
    """Stylus strokes through Chromium's mouse input with pointerType "pen"."""
    box = page.locator("canvas").first.bounding_box()

    def send(kind: str, p: tuple[float, float], buttons: int) -> None:
        x, y = to_page(box, p)
        cdp.send(
            "Input.dispatchMouseEvent",
            {
                "type": kind,
                "x": x,
                "y": y,
                "button": "left",
                "buttons": buttons,
                "clickCount": 1,
                "pointerType": "pen",
                "force": 0.5,
            },
        )

    for stroke in strokes:
        points = _interpolate(stroke)
        send("mousePressed", points[0], 1)
        for p in points[1:]:
            send("mouseMoved", p, 1)
        send("mouseReleased", points[-1], 0)


# WCAG contrast of an element's text against the first opaque background behind it.
CONTRAST_JS = """(selectors) => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return selectors.map((sel) => {
    const el = document.querySelector(sel);
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    return [sel, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
  });
}"""
