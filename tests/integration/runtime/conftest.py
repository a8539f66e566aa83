"""A bundle per test over the shared busybox rootfs, driven through `berth runtime`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from berth.runtime.defaults import default_spec


class Bundle:
    def __init__(self, path: Path, rootfs: str, state: Path) -> None:
        self.path = path
        self.state = state
        self.spec: dict[str, Any] = default_spec(("true",), terminal=False, rootfs=rootfs).to_json()
        self.id = "t-" + uuid.uuid4().hex[:12]
        self.spec["linux"]["cgroupsPath"] = f"/berth-test/{self.id}"

    @property
    def process(self) -> dict[str, Any]:
        p: dict[str, Any] = self.spec["process"]
        return p

    def write(self) -> None:
        (self.path / "config.json").write_text(json.dumps(self.spec))

    def berth(self, *args: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run `berth runtime ARGS`. Output goes through files, not pipes: a container
        started by create or run -d inherits berth's stdio and would hold a pipe open."""
        cmd = [sys.executable, "-m", "berth", "runtime", "--root", str(self.state), *args]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            code = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout).returncode
            out.seek(0)
            err.seek(0)
            result = subprocess.CompletedProcess(cmd, code, out.read(), err.read())
        if check:
            result.check_returncode()
        return result

    def detach(self, *argv: str) -> None:
        """`run -d`: the container keeps running after berth returns."""
        if argv:
            self.process["args"] = list(argv)
        self.write()
        result = self.berth("run", "-d", "-b", str(self.path), self.id)
        assert result.returncode == 0, result.stderr

    def run(self, *argv: str, **kwargs: float) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` (or the spec's args) in a fresh container and wait for it."""
        if argv:
            self.process["args"] = list(argv)
        self.write()
        return self.berth("run", "-b", str(self.path), self.id, **kwargs)

    def sh(self, script: str, **kwargs: float) -> subprocess.CompletedProcess[str]:
        return self.run("sh", "-c", script, **kwargs)

    def cgroup_dirs(self) -> list[str]:
        found = []
        for hierarchy in os.listdir("/sys/fs/cgroup"):
            d = f"/sys/fs/cgroup/{hierarchy}/berth-test/{self.id}"
            if os.path.isdir(d):
                found.append(d)
        return found


@pytest.fixture
def bundle(tmp_path: Path, busybox_rootfs: str) -> Iterator[Bundle]:
    path = tmp_path / "bundle"
    path.mkdir()
    b = Bundle(path, busybox_rootfs, tmp_path / "state")
    yield b
    if (b.state / b.id).exists():
        b.berth("delete", "--force", b.id)
