"""The digit styles MNIST never showed (``model/generators/styles.py``, ``.written``) and the folders
``scripts/style_sets.py`` writes from them: seeded, readable by the service, and drawn as described."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.generators import styles
from model.generators.written import FORMS, Writer, strokes, width_of, write
from model.recipe import preprocess
from model.recipe.folders import read_folder
from scripts import style_sets


@pytest.mark.parametrize("style", sorted(styles.STYLES))
def test_a_style_set_is_seeded_and_every_image_reaches_the_network(style: str) -> None:
    first = styles.style_set(style, per_digit=2, seed=5)
    assert first == styles.style_set(style, per_digit=2, seed=5)
    assert first != styles.style_set(style, per_digit=2, seed=6)
    assert [d for d, _ in first] == [d for d in range(10) for _ in range(2)]
    for _, data in first:
        image = Image.open(io.BytesIO(data))
        assert image.format in ("PNG", "JPEG") and styles.SIZES[0] <= image.height < styles.SIZES[1]
        out = preprocess(data)
        assert out.shape == (28, 28) and out.max() > 128  # ink found: the service reads it as a digit


@pytest.mark.parametrize("style", ["boxed", "own-pen"])
def test_style_sets_writes_the_new_styles_as_a_folder_finetune_reads(tmp_path: Path, style: str) -> None:
    assert style_sets.write(style, tmp_path / "train", per_digit=2, seed=1) == 20
    found = read_folder(tmp_path / "train")
    assert found.counts() == {str(d): 2 for d in range(10)} and not found.problems
    assert style_sets.main([style, str(tmp_path / "test"), "--per-digit", "1",
                            "--seed", str(style_sets.EVALUATION_SEEDS + 1)]) == 0


def test_a_style_s_own_non_digits_are_seeded_readable_and_leave_its_digits_as_they_were(tmp_path: Path) -> None:
    letters = styles.not_digit_set("seven-segment", 6, seed=5)
    assert letters == styles.not_digit_set("seven-segment", 6, seed=5) != styles.not_digit_set("seven-segment", 6, 6)
    assert all(preprocess(data).max() > 128 for data in letters)  # ink found, as for the digits
    assert not set(styles.LETTERS) & {form for forms in styles.SEGMENTS.values() for form in forms}
    assert style_sets.main(["seven-segment", str(tmp_path / "nd"), "--per-digit", "1", "--not-digits", "3"]) == 0
    assert read_folder(tmp_path / "nd").counts() == {**{str(d): 1 for d in range(10)}, "not_digit": 3}
    assert style_sets.write("seven-segment", tmp_path / "plain", per_digit=1, seed=0) == 10
    digits = sorted(p.read_bytes() for p in (tmp_path / "plain").rglob("*.*"))
    assert digits == sorted(p.read_bytes() for p in (tmp_path / "nd").glob("[0-9]/*.*"))
    with pytest.raises(SystemExit):  # boxed digits have no non-digits of their own
        style_sets.main(["boxed", str(tmp_path / "x"), "--not-digits", "3"])


def test_every_form_of_every_digit_is_one_unit_tall_and_loops_are_closed() -> None:
    for digit, forms in FORMS.items():
        for form in forms:
            ys = np.concatenate([p[:, 1] for p in form])
            assert ys.min() >= -0.01 and 0.95 <= ys.max() <= 1.01, digit
            assert all(len(p) >= 2 for p in form)
    zero, = FORMS[0][0]
    assert np.array_equal(zero[0], zero[-1])


def test_the_own_pen_writer_always_writes_the_same_forms_leaning_right() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        zero, one, seven = (strokes(d, styles.OWN_PEN, rng) for d in (0, 1, 7))
        assert len(zero) == 2 and len(seven) == 2  # a slashed 0, a 7 with its bar, every time
        stem, = one
        assert stem[0, 1] > 0.3  # a long flag
        assert stem[-1, 1] > stem[1, 1] and stem[1, 0] > stem[-1, 0] + 0.25  # its top far right of its bottom
    anyone = Writer()
    sevens = {len(strokes(7, anyone, rng)) for _ in range(40)}
    assert sevens == {1, 2}  # any writer: both forms


def test_written_ink_lands_in_its_box() -> None:
    rng = np.random.default_rng(1)
    paths = strokes(8, Writer(slant=(0.0, 0.0), aspect=(1.0, 1.0)), rng)
    ink = np.asarray(write(paths, Writer(), (200, 160), (50, 30, 100), rng))
    rows, cols = np.nonzero(ink > 128)
    assert rows.min() >= 20 and rows.max() <= 140
    assert cols.min() >= 40 and cols.max() <= 50 + width_of(paths)[1] * 100 + 10
    assert (ink[:25] == 0).all() and (ink[145:] == 0).all()


def test_boxed_digits_come_with_the_printed_lines_of_their_box() -> None:
    rng = np.random.default_rng(2)
    lines = np.asarray(styles._form_lines((200, 150), (50, 20, 100, 110), rng))
    bottom = lines[128:133].max(axis=0)
    assert (bottom > 128).mean() > 0.9  # the base line runs across the whole crop, through the neighbours
    assert (lines[40:110, 60:140] == 0).all()  # nothing printed inside the box
