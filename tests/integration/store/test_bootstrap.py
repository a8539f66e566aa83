"""Base images from the host: busybox from busybox-static, debian from debootstrap."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from berth.store import Store

from .conftest import berth, in_mount

# debootstrap's result is kept here between test sessions (it takes ~30 s to make).
CACHE = os.environ.get("BERTH_TEST_CACHE", "/var/tmp/berth-test-cache")


def test_bootstrap_busybox(store: Store, env: dict[str, str], tmp_path: Path) -> None:
    out = berth(env, "bootstrap", "busybox").stdout.decode().split()
    assert out[:2] == ["Tagged", "busybox:latest"]
    img = store.images.get("docker.io/library/busybox:latest")
    assert str(img.id) == out[-1]
    assert img.config.config.cmd == ("sh",)
    again = berth(env, "bootstrap", "busybox").stdout.decode().split()[-1]
    assert again == out[-1]  # reproducible: the same binary gives the same image
    store.prepare_rootfs("c", img, {})
    done = in_mount(store.snapshots.mounts("c"), str(tmp_path / "mnt"), "echo hello from $(uname -s); ls /bin | wc -l",
                    chroot=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")
    assert lines[0] == "hello from Linux" and int(lines[1]) > 100


@pytest.mark.skipif(shutil.which("debootstrap") is None, reason="debootstrap is not installed")
def test_bootstrap_debian(store: Store, env: dict[str, str], tmp_path: Path) -> None:
    os.makedirs(CACHE, exist_ok=True)
    tarball = os.path.join(CACHE, "debian-bookworm-minbase.tar.gz")
    berth(env, "bootstrap", "debian:bookworm", "--tarball", tarball)
    assert os.path.exists(tarball)
    img = store.images.get("debian:bookworm-slim")
    assert store.images.get("debian:bookworm").id == img.id
    assert img.repo_tags == ("debian:bookworm", "debian:bookworm-slim")
    store.prepare_rootfs("c", img, {})
    done = in_mount(store.snapshots.mounts("c"), str(tmp_path / "mnt"),
                    ". /etc/os-release; echo $VERSION_CODENAME; dpkg -s dpkg | grep -c '^Status: install ok';"
                    " ls /var/lib/apt/lists | grep -vc -e partial -e lock", chroot=True)
    assert done.stdout.split() == ["bookworm", "1", "0"], done.stderr  # slim: no package lists
