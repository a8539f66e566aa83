"""A `berth load` or `berth import` killed half-way leaves a consistent store: `berth
system check` finds no problem and the next command works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from berth.testing.tars import TarBuilder

from .conftest import berth


def big_rootfs_tar(path: Path) -> None:
    b = TarBuilder()
    for i in range(24):  # incompressible, so the pipe carries real bytes for a while
        b.file(f"data/blob-{i}", os.urandom(512 << 10))
    path.write_bytes(b.bytes())


def kill_half_way(env: dict[str, str], args: list[str], data: bytes) -> None:
    """Feed ``data`` to `berth ARGS` through a slow pipe and kill it half-way through."""
    proc = subprocess.Popen([sys.executable, "-m", "berth", *args], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None
    half = len(data) // 2
    for start in range(0, half, 256 << 10):
        proc.stdin.write(data[start:min(start + (256 << 10), half)])
        proc.stdin.flush()
        time.sleep(0.02)
    time.sleep(0.3)  # let it get busy with what it has
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdin.close()
    assert proc.returncode == -signal.SIGKILL


def consistent(env: dict[str, str]) -> None:
    done = berth(env, "system", "check", check=False)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    assert b"no problems" in done.stdout


def test_killed_load(env: dict[str, str], tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.tar"
    big_rootfs_tar(rootfs)
    berth(env, "import", str(rootfs), "big:1")
    archive = tmp_path / "big.tar"
    berth(env, "save", "-o", str(archive), "big:1")
    berth(env, "rmi", "big:1")
    assert berth(env, "images", "-q").stdout == b""
    kill_half_way(env, ["load"], archive.read_bytes())
    assert berth(env, "images", "-q").stdout == b""  # no image appeared from half an archive
    consistent(env)
    out = berth(env, "load", "-i", str(archive)).stdout
    assert out.startswith(b"Loaded image: big:1")
    consistent(env)
    berth(env, "system", "prune", "-f")
    consistent(env)


def test_killed_import(env: dict[str, str], tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.tar"
    big_rootfs_tar(rootfs)
    kill_half_way(env, ["import", "-", "half:1"], rootfs.read_bytes())
    assert berth(env, "images", "-q").stdout == b""
    consistent(env)
    image_id = berth(env, "import", str(rootfs), "whole:1").stdout.decode().strip()
    assert image_id.startswith("sha256:")
    assert berth(env, "images", "-q", "--no-trunc").stdout.decode().strip() == image_id
    consistent(env)


_DIE_WHILE_UNPACKING = r"""
import os, sys
import berth.store.layers as layers
from berth.cli.main import main
real = layers.apply

class Dying:
    def __init__(self, raw):
        self.raw, self.seen = raw, 0
    def read(self, n=-1):
        self.seen += 1
        if self.seen == 4:
            os._exit(9)  # the process dies with the layer half unpacked
        return self.raw.read(n if n < 65536 else 65536)
    def seekable(self):
        return False

layers.apply = lambda stream, dest, compression="auto", **kw: real(Dying(stream), dest, compression, **kw)
sys.argv = ["berth", "load", "-i", sys.argv[1]]
main()
"""


def test_killed_while_unpacking(env: dict[str, str], tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.tar"
    big_rootfs_tar(rootfs)
    berth(env, "import", str(rootfs), "big:1")
    archive = tmp_path / "big.tar"
    berth(env, "save", "-o", str(archive), "big:1")
    berth(env, "rmi", "big:1")
    done = subprocess.run([sys.executable, "-c", _DIE_WHILE_UNPACKING, str(archive)], env=env, timeout=60)
    assert done.returncode == 9
    check = berth(env, "system", "check").stdout.decode()
    assert "removed an unpacking that never finished" in check and "no problems" in check
    assert berth(env, "load", "-i", str(archive)).stdout.startswith(b"Loaded image: big:1")
    consistent(env)
