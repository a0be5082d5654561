"""The shape the design asks for, checked: the floors (scripts/ and model/ never import app/), small
modules in app/ and model/, and short functions everywhere we write code (radon's cyclomatic
complexity)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from radon.complexity import cc_visit

from tests.helpers import ROOT

MAX_MODULE_LINES = 350
MAX_COMPLEXITY = 15


def modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """The top-level packages ``path`` imports (absolute imports only: relative ones stay inside)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("floor", ["model", "scripts"])
def test_the_library_and_the_scripts_never_import_the_service(floor: str) -> None:
    assert [p.relative_to(ROOT).as_posix() for p in modules(floor) if "app" in imported(p)] == []


def test_no_module_of_the_service_or_the_library_is_over_the_line_budget() -> None:
    long = {p.relative_to(ROOT).as_posix(): n for p in modules("app", "model")
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_no_function_is_over_the_complexity_budget() -> None:
    complex_ = {f"{p.relative_to(ROOT).as_posix()}:{block.name}": block.complexity
                for p in modules("app", "model", "scripts") for block in cc_visit(p.read_text())
                if block.complexity > MAX_COMPLEXITY}
    assert complex_ == {}
