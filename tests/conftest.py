"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.testing.rootfs import make_busybox_rootfs

ROOT = os.geteuid() == 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="needs root (namespaces, mounts, cgroups)")
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.root)
        if item.get_closest_marker("root") and not ROOT:
            item.add_marker(skip)


@pytest.fixture
def berth_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private BERTH_ROOT and BERTH_RUN for one test."""
    root, run = tmp_path / "root", tmp_path / "run"
    root.mkdir()
    run.mkdir()
    monkeypatch.setenv("BERTH_ROOT", str(root))
    monkeypatch.setenv("BERTH_RUN", str(run))
    env = dict(os.environ)
    return env


@pytest.fixture(scope="session")
def busybox_rootfs() -> Iterator[str]:
    """A read-only-by-convention busybox root file system shared by a test session."""
    folder = tempfile.mkdtemp(prefix="berth-busybox-")
    os.chmod(folder, 0o755)  # a user-namespaced root (an unprivileged host uid) must reach it
    try:
        yield make_busybox_rootfs(os.path.join(folder, "rootfs"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
