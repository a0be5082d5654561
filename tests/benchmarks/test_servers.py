"""bench_peers' servers: choosing them, and ours from another revision (``--against REV``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from benchmarks.peers.build import revision_tree
from benchmarks.peers.processes import server_env
from benchmarks.peers.servers import ROOT, SERVERS, add_revision, environments_needed, select


def test_only_keeps_the_tables_order_and_refuses_unknown_servers() -> None:
    assert select("decode-only, ours") == ["ours", "decode-only"]
    assert select(None) == list(SERVERS)
    with pytest.raises(SystemExit, match="unknown servers \\['nginx'\\]"):
        select("ours,nginx")


def test_a_network_peer_brings_the_torch_environment_that_exports_the_onnx_file() -> None:
    assert environments_needed(["ours", "decode-only"]) == ["decode-only"]
    assert environments_needed(["ours", "fastapi-ort"]) == ["fastapi-ort", "fastapi-torch"]


def test_ours_at_a_revision_runs_from_its_own_tree_with_its_own_thread_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    name = add_revision("abc1234", tmp_path)
    try:
        server = SERVERS[name]
        assert name == "ours@abc1234" and server.root == tmp_path
        assert server.command(Path("/venv"), 8000) == SERVERS["ours"].command(Path("/venv"), 8000)
        env = server_env(server, tmp_path / "export")
        assert env["PYTHONPATH"] == str(tmp_path) and "OMP_NUM_THREADS" not in env
        assert server_env(SERVERS["ours"], tmp_path)["PYTHONPATH"] == str(ROOT)
        assert server_env(SERVERS["fastapi-ort"], tmp_path)["OMP_NUM_THREADS"] == "1"
    finally:
        del SERVERS[name]


@pytest.mark.skipif(
    shutil.which("git") is None
    or subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True).returncode != 0,
    reason="not a git checkout",
)
def test_a_revision_is_unpacked_once_with_the_service_and_its_weights(tmp_path: Path) -> None:
    short, tree = revision_tree("HEAD", tmp_path)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert head.startswith(short) and tree == tmp_path / "revisions" / head
    assert (tree / "app" / "cli.py").exists() and any((tree / "weights").iterdir())
    (tree / "marker").write_text("kept")
    assert revision_tree(head, tmp_path) == (short, tree) and (tree / "marker").exists()  # not unpacked again
    with pytest.raises(SystemExit, match="git rev-parse"):
        revision_tree("no-such-revision", tmp_path)
