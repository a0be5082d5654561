"""The yardstick for ``/predict/number``: a plain connected-components splitter in front of ``/predict``.

What a developer builds first (OpenCV's ``connectedComponents`` and a crop per blob): every 8-connected
blob of ink that holds at least ``MIN_SHARE`` of the ink is one digit, read left to right by the
centre of its columns, each through ``/predict``'s own recipe and network (the closest digit, never a
refusal). It cannot join the strokes of a 4 or a 5's flag, nor split digits that touch. Issue 11 gives
its score on the acceptance canvases (92 %, 88 % on pen strokes); the same score on our sets says how
hard they are beside those.
"""

from __future__ import annotations

import numpy as np

from model.inference import InferenceNetwork
from model.recipe import ImageError, fit_digit, ink_map, load_pixels, normalize_ink, open_image, to_uint8
from model.recipe.segmentation import INK_LEVEL, label_components

MIN_SHARE = 0.02  # a blob with less of the ink than this is noise, not a digit


def split_components(ink: np.ndarray) -> list[np.ndarray]:
    """Normalized ``(H, W)`` ink in ``[0, 1]`` -> each blob's own ink (same shape, the rest zeroed),
    left to right."""
    labels, n = label_components(ink >= INK_LEVEL)
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    kept = [k + 1 for k in range(n) if areas[k] >= MIN_SHARE * areas.sum()]
    centres = [float(np.flatnonzero((labels == k).any(axis=0)).mean()) for k in kept]
    return [np.where(labels == kept[i], ink, 0).astype(np.float32) for i in np.argsort(centres)]


def read_by_components(data: bytes, net: InferenceNetwork) -> str | None:
    """The number the splitter reads in encoded image ``data``, or None when the image is rejected."""
    try:
        ink = normalize_ink(ink_map(load_pixels(open_image(data))))
    except ImageError:
        return None
    digits = [to_uint8(fit_digit(blob)) for blob in split_components(ink)]
    if not digits:
        return None
    probabilities, _ = net.classify(np.stack(digits))
    return "".join(str(int(d)) for d in probabilities.argmax(axis=1))
