"""Each test gets its own BERTH_ROOT/BERTH_RUN with a busybox image imported into it,
and drives berth through its command line, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def busybox_tar(busybox_rootfs: str) -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="berth-busybox-tar-")
    path = os.path.join(folder, "busybox.tar")
    with tarfile.open(path, "w") as tar:
        tar.add(busybox_rootfs, arcname=".")
    yield path
    os.unlink(path)
    os.rmdir(folder)


class Berth:
    def __init__(self, env: dict[str, str], tmp: Path, command: list[str] | None = None) -> None:
        self.env = env
        self.tmp = tmp
        self.command = command or [sys.executable, "-m", "berth"]

    def __call__(self, *args: str, check: bool = False, timeout: float = 60, input: str | None = None,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run berth; output through files, since detached containers' shims never hold
        our pipes but a failed test should still never hang on one."""
        cmd = [*self.command, *args]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            stdin = subprocess.PIPE if input is not None else subprocess.DEVNULL
            proc = subprocess.run(cmd, input=input, stdin=None if input is not None else stdin, stdout=out,
                                  stderr=err, timeout=timeout, env={**self.env, **(env or {})}, text=True)
            out.seek(0)
            err.seek(0)
            result = subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())
        if check and result.returncode != 0:
            raise AssertionError(f"berth {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def ok(self, *args: str, **kwargs: Any) -> str:
        return self(*args, check=True, **kwargs).stdout.strip()

    def until(self, predicate: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    def inspect(self, ref: str, template: str) -> str:
        return self.ok("inspect", "-f", template, ref)


@pytest.fixture
def berth(berth_env: dict[str, str], tmp_path: Path, busybox_tar: str) -> Iterator[Berth]:
    env = dict(berth_env, BERTH_FORKSERVER="0")
    b = Berth(env, tmp_path)
    b.ok("import", busybox_tar, "busybox:latest")
    yield b
    for cid in b("ps", "-aq", "--no-trunc").stdout.split():
        b("rm", "-f", cid)
    for net in b("network", "ls", "-q", "--filter", "type=custom").stdout.split():
        b("network", "rm", net)
