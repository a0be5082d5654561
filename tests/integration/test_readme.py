"""README.md's console blocks are real: run top-down against ``digits-serve`` with the shipped weights,
in a temporary folder, each command prints the answer the README shows under it.

A hand-edited answer, or new weights without ``python scripts/readme_examples.py`` run after them,
fails here. JSON answers are compared as values (floats within 1e-6, PNG data URLs by their pixels).
"""

from __future__ import annotations

import base64
import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from scripts.readme_examples import README, examples, mismatch, run, workspace


def test_each_console_command_of_the_readme_prints_the_answer_shown_under_it() -> None:
    missing = [tool for tool in ("bash", "curl", "base64") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the README's examples need {', '.join(missing)} on PATH")
    found = examples(README.read_text())
    assert len(found) >= 10, "the README's console blocks were not found"
    with workspace() as (folder, port, env):
        for example in found:
            why = mismatch(example.shown, run(example.command, folder, port, env))
            assert why is None, (
                f"README.md line {example.line}: $ {example.command}\n{why}\n"
                "(after changing the weights or the service: python scripts/readme_examples.py)"
            )


def test_a_command_runs_on_while_bash_would_read_more_and_its_output_ends_at_a_blank_line() -> None:
    text = "\n".join([
        "```console",
        "$ curl -H 'a' \\",
        "       -d x localhost:8000/predict",
        '{"digit": 7}',
        "",
        '$ python -c "',
        'print(1)"',
        "```",
        "$ not in a block",
    ])
    first, second = examples(text)
    assert first.command == "curl -H 'a' \\\n       -d x localhost:8000/predict"
    assert first.shown == ['{"digit": 7}'] and first.line == 2
    assert second.command == 'python -c "\nprint(1)"' and second.shown == []


def answer(**changes: object) -> str:
    value = {"digit": 7, "confidence": 0.999234, "probabilities": [9.1e-05, 0.999234], "is_digit": True, **changes}
    return json.dumps(value)


def test_an_answer_edited_by_hand_is_a_mismatch_and_float_noise_is_not() -> None:
    assert mismatch([answer()], [answer(confidence=0.9992345)]) is None
    assert mismatch([answer()], [answer(confidence=0.999235)]) is None  # the 6th decimal rounded the other way
    assert mismatch([answer()], [answer(confidence=0.999236)]) is not None
    assert mismatch([answer()], [answer(digit=1)]) is not None
    assert mismatch([answer()], [answer(is_digit=1)]) is not None
    assert mismatch([answer()], [answer(), answer()]) is not None
    assert mismatch(["digits_predictions_total 1.0"], ["digits_predictions_total 2.0"]) is not None


def data_url(pixels: np.ndarray, **options: object) -> str:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG", **options)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_debug_images_are_compared_by_their_pixels_not_their_compression() -> None:
    digit = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    shown = answer(debug_image=data_url(digit, compress_level=9))
    assert data_url(digit, compress_level=1) != data_url(digit, compress_level=9)
    assert mismatch([shown], [answer(debug_image=data_url(digit, compress_level=1))]) is None
    other = digit.copy()
    other[14, 14] ^= 1
    assert mismatch([shown], [answer(debug_image=data_url(other))]) is not None
