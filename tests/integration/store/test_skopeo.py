"""Interop with skopeo, the reference image tool: it reads what `berth save` writes (as a
docker-archive and as an oci-archive), and berth loads what it writes."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from berth.store import Store
from berth.store.bootstrap import busybox

from .conftest import berth

pytestmark = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")


def skopeo(*args: str) -> str:
    done = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_skopeo_reads_berth_save(store: Store, env: dict[str, str], tmp_path: Path) -> None:
    img = busybox(store)
    archive = tmp_path / "bb.tar"
    berth(env, "save", "-o", str(archive), "busybox")
    as_docker = json.loads(skopeo("inspect", "--raw", f"docker-archive:{archive}"))
    assert as_docker["config"]["digest"] == str(img.id)
    as_oci = json.loads(skopeo("inspect", "--raw", f"oci-archive:{archive}"))
    assert as_oci["config"]["digest"] == str(img.id)
    layout = tmp_path / "layout"
    skopeo("copy", f"docker-archive:{archive}", f"oci:{layout}:bb")
    index = json.loads((layout / "index.json").read_text())
    blobs = layout / "blobs/sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_text())
    # Converting Docker schema 2 to OCI, skopeo re-encodes the config: same content,
    # other bytes. (oci-archive → anything keeps the bytes; see the test below.)
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_text())
    assert config == json.loads(store.content.open(img.id).read())


@pytest.mark.parametrize("transport", ["docker-archive", "oci-archive"])
def test_berth_loads_what_skopeo_writes(store: Store, env: dict[str, str], tmp_path: Path, transport: str) -> None:
    img = busybox(store)
    archive = tmp_path / "bb.tar"
    berth(env, "save", "-o", str(archive), "busybox")
    copied = tmp_path / f"copied-{transport}.tar"
    skopeo("copy", f"oci-archive:{archive}", f"{transport}:{copied}:example.com/tools/bb:v1")
    berth(env, "rmi", "busybox")
    out = berth(env, "load", "-i", str(copied)).stdout.decode()
    assert "Loaded image: example.com/tools/bb:v1" in out
    loaded = store.images.get("example.com/tools/bb:v1")
    assert loaded.id == img.id  # the config, and so the image ID, survived both trips
    assert loaded.config.diff_ids == img.config.diff_ids
    assert berth(env, "system", "check").returncode == 0


@pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed")
def test_podman_loads_berth_save(store: Store, env: dict[str, str], tmp_path: Path) -> None:
    """`podman load` reads the docker-save format the way `docker load` does."""
    img = busybox(store)
    archive = tmp_path / "bb.tar"
    berth(env, "save", "-o", str(archive), "busybox")
    short = tempfile.mkdtemp(prefix="pd-", dir="/tmp")  # podman wants a runroot under 50 characters
    try:
        podman = ["podman", "--root", f"{short}/root", "--runroot", f"{short}/run", "--storage-driver", "vfs",
                  "--events-backend", "none"]
        done = subprocess.run([*podman, "load", "-i", str(archive)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "Loaded image: docker.io/library/busybox:latest" in done.stdout
        ids = subprocess.run([*podman, "images", "--no-trunc", "-q"], capture_output=True, text=True).stdout.split()
        assert ids == [str(img.id)]
    finally:
        subprocess.run(["umount", "-R", f"{short}/root"], capture_output=True)
        shutil.rmtree(short, ignore_errors=True)
