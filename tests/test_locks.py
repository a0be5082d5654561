"""The locked dependency sets (requirements.lock for the image, requirements-dev.lock for CI) pin every
dependency pyproject.toml declares, and agree with each other."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import ROOT


def pins(name: str) -> dict[str, str]:
    lines = (ROOT / name).read_text().splitlines()
    found = (re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip()) for line in lines if not line.startswith("#"))
    return {canonicalize_name(m.group(1)): m.group(2) for m in found if m}


def declared(*groups: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"]) + [s for g in groups for s in project["optional-dependencies"][g]]
    requirements = [Requirement(s) for s in specs]
    return {canonicalize_name(r.name) for r in requirements if r.marker is None or r.marker.evaluate()}


def test_the_image_lock_pins_every_runtime_dependency_and_nothing_of_the_extras() -> None:
    runtime = pins("requirements.lock")
    assert declared() <= set(runtime)
    assert not {"pytest", "ruff", "mypy", "torch"} & set(runtime)


def test_the_ci_lock_pins_every_dev_dependency_at_the_images_versions() -> None:
    dev, runtime = pins("requirements-dev.lock"), pins("requirements.lock")
    assert declared("dev") <= set(dev)
    assert {name: dev.get(name) for name in runtime} == runtime
