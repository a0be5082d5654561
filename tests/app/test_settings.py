"""Settings have one door (``app.settings``), and every list of them outside the code is its output."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from app.settings import PREFIX, Settings, markdown_table, variables
from model.recipe import DEFAULT_MAX_PIXELS
from tests.helpers import ROOT


def test_the_deployment_lists_every_setting_at_its_default() -> None:
    manifest = yaml.safe_load((ROOT / "deploy" / "k8s" / "deployment.yaml").read_text())
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    listed = {e["name"]: e["value"] for e in container["env"] if e["name"].startswith(PREFIX)}
    assert listed == {name: default for name, default, _ in variables()}


def test_compose_sets_only_settings_that_exist() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = compose["services"]["web"]["environment"]
    names = {name for name, _, _ in variables()}
    assert {k for k in env if k.startswith(PREFIX)} <= names


def test_the_readme_table_is_the_settings_output() -> None:
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_python_m_app_settings_prints_every_variable_without_warnings() -> None:
    out = subprocess.run([sys.executable, "-W", "error", "-m", "app.settings"], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stderr == "" and [line.split()[0] for line in out.stdout.splitlines()] == [n for n, _, _ in variables()]


def test_the_recipes_default_pixel_limit_is_the_services() -> None:
    assert Settings().max_image_pixels == DEFAULT_MAX_PIXELS


def test_no_module_reads_the_environment_for_a_setting_but_the_settings() -> None:
    reads = re.compile(r"os\.environ|getenv|from_env\(")
    modules = [p for p in (ROOT / "app").rglob("*.py") if p.parent.name != "settings"]
    assert [p.name for p in modules if reads.search(p.read_text())] == []
