"""Each test gets its own BERTH_ROOT/BERTH_RUN with busybox imported, a context folder,
and drives ``berth build`` through the command line."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def busybox_tar(busybox_rootfs: str) -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="berth-build-busybox-")
    path = os.path.join(folder, "busybox.tar")
    with tarfile.open(path, "w") as tar:
        tar.add(busybox_rootfs, arcname=".")
    yield path
    os.unlink(path)
    os.rmdir(folder)


class Builder:
    def __init__(self, env: dict[str, str], root: Path, ctx: Path) -> None:
        self.env = env
        self.root = root
        self.ctx = ctx

    def __call__(self, *args: str, input: bytes | None = None, timeout: float = 90,
                 cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "berth", *args]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.run(cmd, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                                  stdout=out, stderr=err, timeout=timeout, env=self.env, cwd=cwd)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())

    def ok(self, *args: str, **kwargs: object) -> str:
        result = self(*args, **kwargs)  # type: ignore[arg-type]
        assert result.returncode == 0, f"berth {' '.join(args)} failed ({result.returncode}):\n" \
                                       f"{result.stdout}\n{result.stderr}"
        return result.stdout

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            path = self.ctx / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def build(self, *args: str) -> str:
        return self.ok("build", *args, str(self.ctx))

    def snapshots(self, like: str = "build-%") -> list[str]:
        with sqlite3.connect(self.root / "berth.db") as db:
            return [r[0] for r in db.execute("SELECT key FROM snapshots WHERE key LIKE ?", (like,))]

    def tags(self) -> list[str]:
        return self.ok("images", "--format", "{{.Repository}}:{{.Tag}}").split()


@pytest.fixture
def builder(berth_env: dict[str, str], tmp_path: Path, busybox_tar: str) -> Iterator[Builder]:
    env = dict(berth_env, BERTH_FORKSERVER="0")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    b = Builder(env, tmp_path / "root", ctx)
    b.ok("import", busybox_tar, "busybox:latest")
    yield b
    for cid in b("ps", "-aq", "--no-trunc").stdout.split():
        b("rm", "-f", cid)


def steps(output: str) -> list[tuple[str, str]]:
    """(instruction, result line) per step of a build's output."""
    out: list[tuple[str, str]] = []
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Step "):
            instr = line.split(" : ", 1)[1]
            result = next((ln.strip() for ln in lines[i + 1:] if ln.startswith(" ---> ")), "")
            out.append((instr, result))
    return out
