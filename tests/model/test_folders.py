"""Reading a folder of labelled images (``model/recipe/folders.py``) and what ``scripts/finetune.py``
does with a bad one: clear messages, and nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.checksums import sha256_file
from model.recipe import preprocess
from model.recipe.folders import FolderError, read_folder
from model.serialization import DEFAULT_WEIGHTS
from scripts import finetune
from tests.helpers import encode

FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def digit_image(x: np.ndarray, fmt: str = "PNG") -> bytes:
    """A 28x28 MNIST digit enlarged 4x, dark on white, as ``fmt``."""
    big = np.kron(255 - x, np.ones((4, 4), np.uint8))
    return encode(big, fmt)


def test_reads_every_format_and_class_in_order(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = sample
    expected = []
    for i in range(12):
        fmt = FORMATS[i % len(FORMATS)]
        path = write(tmp_path / str(y[i]) / f"img{i:02d}.{fmt.lower()}", digit_image(x[i], fmt))
        expected.append((str(y[i]), path))
    shape = np.zeros((112, 112), np.uint8)
    shape[20:90, 20:90] = 255
    write(tmp_path / "not_digit" / "square.png", encode(255 - shape))
    write(tmp_path / "notes.txt", b"files beside the class folders are left out")
    write(tmp_path / "3" / ".DS_Store", b"hidden files too")
    write(tmp_path / ".cache" / "x.png", b"and hidden folders")

    found = read_folder(tmp_path)
    assert found.problems == []
    assert len(found.labels) == 13 and found.images.shape == (13, 28, 28) and found.images.dtype == np.uint8
    assert found.labels[-1] == 10 and found.paths[-1].name == "square.png"
    assert sorted(zip(found.labels[:-1].tolist(), found.paths[:-1], strict=True)) == sorted(
        (int(label), path) for label, path in expected
    )
    first = found.paths.index(expected[0][1])
    assert np.array_equal(found.images[first], preprocess(expected[0][1].read_bytes()))  # the service's recipe
    assert found.counts()["not_digit"] == 1 and sum(found.counts().values()) == 13
    assert set(found.few(2)) == {str(d) for d in range(10)} - {k for k, v in found.counts().items() if v >= 2}


def test_unreadable_and_blank_images_are_listed_with_their_paths(tmp_path: Path, seven: bytes) -> None:
    good = write(tmp_path / "7" / "a.png", seven)
    broken = write(tmp_path / "7" / "broken.png", seven[: len(seven) // 2])
    text = write(tmp_path / "1" / "readme.png", b"this is not an image")
    empty = write(tmp_path / "1" / "empty.jpg", b"")
    blank = write(tmp_path / "2" / "blank.png", encode(np.full((50, 50), 255, np.uint8)))
    found = read_folder(tmp_path)
    assert found.paths == [good]
    reasons = {p.path: p.reason for p in found.problems}
    assert set(reasons) == {broken, text, empty, blank}
    assert reasons[blank].startswith("blank") and reasons[text].startswith("unreadable")
    assert str(broken) in str(next(p for p in found.problems if p.path == broken))
    assert found.few(5) == {**{str(d): 0 for d in range(10)}, "7": 1}


@pytest.mark.parametrize(
    ("layout", "words"),
    [
        ("missing", ("does not exist", "DIR/0/")),
        ("file", ("is not a folder",)),
        ("empty", ("no class folder",)),
        ("bad-class", ("'seven'", "'10'", "0 to 9 and not_digit")),
        ("no-images", ("no readable image", "unreadable")),
    ],
)
def test_bad_folders_are_refused_with_the_layout(tmp_path: Path, seven: bytes, layout: str, words: tuple) -> None:
    folder = tmp_path / "digits"
    if layout == "file":
        write(folder, b"x")
    elif layout == "empty":
        folder.mkdir()
        write(folder / "x.png", seven)  # an image beside the class folders is not a class
    elif layout == "bad-class":
        write(folder / "7" / "a.png", seven)
        write(folder / "seven" / "a.png", seven)
        write(folder / "10" / "a.png", seven)
    elif layout == "no-images":
        write(folder / "7" / "a.png", b"GIF89a broken")
    with pytest.raises(FolderError) as info:
        read_folder(folder)
    for word in words:
        assert word in str(info.value), str(info.value)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = finetune.main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_finetune_refuses_bad_folders_and_writes_nothing(
    tmp_path: Path, seven: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine.npz"
    code, text = run([str(tmp_path / "nothing"), "--export", str(out)], capsys)
    assert code == 2 and "does not exist" in text
    write(tmp_path / "d" / "7" / "a.png", seven)
    write(tmp_path / "d" / "7" / "b.png", b"not an image")
    code, text = run([str(tmp_path / "d"), "--export", str(out), "--strict", "--keep", "none"], capsys)
    assert code == 2 and "b.png: unreadable" in text and "--strict" in text
    code, text = run([str(tmp_path / "d"), "--export", str(tmp_path / "mine.weights")], capsys)
    assert code == 2 and "must end in .npz" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_finetune_will_not_overwrite_the_shipped_weights(
    tmp_path: Path, seven: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = sha256_file(DEFAULT_WEIGHTS)
    write(tmp_path / "7" / "a.png", seven)
    code, text = run([str(tmp_path), "--export", str(DEFAULT_WEIGHTS)], capsys)
    assert code == 2 and "would overwrite the shipped weights" in text and "--force" in text
    assert sha256_file(DEFAULT_WEIGHTS) == digest


def test_few_images_are_a_warning_with_the_counts(
    tmp_path: Path, sample: tuple[np.ndarray, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    x, y = sample
    for i in range(6):
        write(tmp_path / "d" / str(y[i]) / f"{i}.png", digit_image(x[i]))
    args = finetune.parse_args([str(tmp_path / "d"), "--export", str(tmp_path / "m.npz"), "--min-per-class", "3"])
    found = finetune.read_images(args)
    out = capsys.readouterr().out
    assert "warning: fewer than 3 images" in out
    for digit, count in found.few(3).items():
        assert f"'{digit}': {count}" in out
