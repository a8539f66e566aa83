"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.testing.netenv import teardown_networks
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
def berth_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A private BERTH_ROOT and BERTH_RUN for one test, and host-wide network names of its
    own (bridge, nft table, link prefixes) so containers it starts never meet another
    root's; whatever networks it brought up are taken down after it."""
    root, run = tmp_path / "root", tmp_path / "run"
    root.mkdir()
    run.mkdir()
    tag = uuid.uuid4().hex[:6]
    values = {"BERTH_ROOT": str(root), "BERTH_RUN": str(run), "BERTH_NET_DEFAULT_BRIDGE": f"bt{tag}",
              "BERTH_NET_TABLE": f"bt_{tag}", "BERTH_NET_BRIDGE_PREFIX": f"b{tag[:4]}-",
              "BERTH_NET_VETH_PREFIX": f"v{tag[:4]}"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    env = dict(os.environ)
    yield env
    if ROOT and (root / "berth.db").exists():
        teardown_networks(env)


@pytest.fixture(scope="session")
def busybox_rootfs() -> Iterator[str]:
    """A read-only-by-convention busybox root file system shared by a test session."""
    folder = tempfile.mkdtemp(prefix="berth-busybox-")
    os.chmod(folder, 0o755)  # a user-namespaced root (an unprivileged host uid) must reach it
    try:
        yield make_busybox_rootfs(os.path.join(folder, "rootfs"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
