"""berth's client against berth's own registry, with skopeo on the other side of each
transfer: what one berth pushes, any client pulls, and the reverse."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.testing.oci_images import write_image

from .conftest import Berth, skopeo, skopeo_push
from .test_interop import _busybox_tar


class BerthRegistry:
    def __init__(self, storage: Path) -> None:
        env = dict(os.environ, BERTH_FORKSERVER="0")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "berth", "registry", "--storage", str(storage), "serve", "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline and "listening on" not in line:
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                raise AssertionError(f"registry did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")
        # "berth registry: listening on http://127.0.0.1:PORT (storage …)"
        self.host = line.split("://", 1)[1].split()[0].rstrip("/")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def berth_registry(tmp_path: Path) -> Iterator[BerthRegistry]:
    reg = BerthRegistry(tmp_path / "storage")
    yield reg
    reg.stop()


def test_berth_push_to_berth_registry_then_skopeo_pulls_it(cli: Berth, berth_registry: BerthRegistry,
                                                          busybox_rootfs: str, tmp_path: Path) -> None:
    tar = tmp_path / "rootfs.tar"
    _busybox_tar(busybox_rootfs, tar)
    cli.run("import", str(tar), "local/busybox:1")
    target = f"{berth_registry.host}/tools/busybox:1"
    cli.run("tag", "local/busybox:1", target)
    pushed = cli.run("push", target).stdout
    digest = pushed.strip().splitlines()[-1].split("digest: ", 1)[1].split()[0]
    skopeo("copy", "--src-tls-verify=false", f"docker://{target}", f"oci:{tmp_path / 'out'}:1")
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{target}").encode()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    assert (tmp_path / "out" / "index.json").read_text().count(digest) == 1


def test_skopeo_push_to_berth_registry_then_berth_pulls_and_runs(cli: Berth, berth_registry: BerthRegistry,
                                                                 busybox_rootfs: str, tmp_path: Path) -> None:
    tar = _busybox_tar(busybox_rootfs, tmp_path / "rootfs.tar")
    image = write_image(str(tmp_path / "layout"), tars=[tar], tag="1", cmd=["sh"])
    ref = f"{berth_registry.host}/apps/busybox:1"
    skopeo_push(image.source, ref)
    out = cli.run("pull", ref).stdout.splitlines()
    assert out[-3] == f"Digest: {image.manifest.digest}"
    run = cli.run("run", "--rm", "--network", "none", ref, "/bin/busybox", "echo", "from berth's registry",
                  check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "from berth's registry"
    # the tag history the registry kept for that push
    history = subprocess.run([sys.executable, "-m", "berth", "registry", "--storage", str(tmp_path / "storage"),
                              "history", "apps/busybox:1"], capture_output=True, text=True, env=cli.env)
    assert history.returncode == 0 and image.manifest.digest.short in history.stdout
