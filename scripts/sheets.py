"""The misread-digits sheet of a report: the digits a network got wrong, captioned with what they are
and what it read, for ``scripts/evaluate.py``'s MNIST report and ``scripts/folder_report.py``'s."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def gallery(images: np.ndarray, true: np.ndarray, pred: np.ndarray, conf: np.ndarray, cols: int = 10) -> Image.Image:
    """Grid of ``(N, 28, 28)`` uint8 digits, each scaled 3x and captioned ``true as pred conf%``."""
    cell_w, cell_h, scale = 92, 104, 3
    rows = max(1, -(-len(images) // cols))
    sheet = Image.new("RGB", (cols * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, img in enumerate(images):
        x0, y0 = (i % cols) * cell_w, (i // cols) * cell_h
        digit = Image.fromarray(255 - img).resize((28 * scale, 28 * scale), Image.Resampling.NEAREST)
        sheet.paste(digit, (x0 + 4, y0 + 2))
        draw.text((x0 + 4, y0 + 88), f"{true[i]} as {pred[i]} {conf[i]:.0%}", fill=(180, 0, 0))
    return sheet
