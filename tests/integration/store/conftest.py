"""Integration tests of the store: real overlay mounts (each made inside a private mount
namespace of a child process, so nothing can stay mounted on the host), the berth CLI
as a subprocess, skopeo interop. Every test gets its own BERTH_ROOT."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from berth.oci.mount import Mount
from berth.state import open_database
from berth.store import Store, open_store

SRC = str(Path(__file__).resolve().parents[3] / "src")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes minutes (debootstrap); run with BERTH_SLOW=1")


@pytest.fixture(autouse=True)
def _root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (overlay mounts, mount namespaces)")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    root = tmp_path / "root"
    root.mkdir()
    return {**os.environ, "BERTH_ROOT": str(root), "BERTH_RUN": str(tmp_path / "run"),
            "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.fixture
def store(env: dict[str, str]) -> Iterator[Store]:
    db = open_database(env["BERTH_ROOT"])
    try:
        yield open_store(env["BERTH_ROOT"], db)
    finally:
        db.close()


def berth(env: dict[str, str], *args: str, input: bytes | None = None, check: bool = True,
          ) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run([sys.executable, "-m", "berth", *args], env=env, input=input, capture_output=True,
                          timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"berth {' '.join(args)} exited {done.returncode}: {done.stderr.decode()}")
    return done


_IN_NAMESPACE = r"""
import json, os, subprocess, sys
from berth.oci.mount import Mount
from berth.store.mounting import mount_all
import berth.sys.overlay as overlay
spec = json.loads(sys.argv[1])
if spec["legacy"]:
    overlay._new_api = False
mount_all([Mount(m["type"], m["source"], options=tuple(m["options"])) for m in spec["mounts"]], spec["target"])
os.chdir(spec["target"])
sys.exit(subprocess.run(spec["command"], shell=True).returncode)
"""


def in_mount(mounts: Sequence[Mount], target: str, command: str, *, legacy: bool = False,
             chroot: bool = False) -> subprocess.CompletedProcess[str]:
    """Mount ``mounts`` at ``target`` in a new private mount namespace and run a shell
    command there (inside the mounted tree with ``chroot``); the namespace and its
    mounts end with the child."""
    os.makedirs(target, exist_ok=True)
    spec = {"mounts": [{"type": m.type, "source": m.source, "options": list(m.options)} for m in mounts],
            "target": target, "legacy": legacy,
            "command": f"chroot . /bin/sh -c {shlex.quote(command)}" if chroot else command}
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c", _IN_NAMESPACE,
                           json.dumps(spec)], env=env, capture_output=True, text=True, timeout=60)


def host_mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path)]
