"""berth pull/push against the reference registry (docker-registry), with skopeo as
the independent client on the other side."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

from berth.testing.distribution import DistributionRegistry
from berth.testing.oci_images import write_image, write_index

from .conftest import Berth, skopeo, skopeo_push
from .helpers import Proxy


def _busybox_tar(rootfs: str, dest: Path) -> bytes:
    subprocess.run(["tar", "-C", rootfs, "--numeric-owner", "-cf", str(dest), "."], check=True)
    return dest.read_bytes()


def test_berth_push_then_skopeo_pulls_the_same_digest(cli: Berth, registry: DistributionRegistry,
                                                       busybox_rootfs: str, tmp_path: Path) -> None:
    tar = tmp_path / "rootfs.tar"
    _busybox_tar(busybox_rootfs, tar)
    cli.run("import", str(tar), "local/busybox:1")
    target = f"{registry.host}/tools/busybox:1"
    cli.run("tag", "local/busybox:1", target)
    pushed = cli.run("push", target).stdout
    assert f"The push refers to repository [{registry.host}/tools/busybox]" in pushed
    assert ": Pushed" in pushed
    digest = pushed.strip().splitlines()[-1].split("digest: ", 1)[1].split()[0]
    assert pushed.strip().splitlines()[-1].startswith("1: digest: sha256:")
    skopeo("copy", "--src-tls-verify=false", f"docker://{target}", f"oci:{tmp_path / 'out'}:1")
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == digest
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{target}").encode()
    import hashlib

    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    inspected = cli.inspect(target)
    assert f"{registry.host}/tools/busybox@{digest}" in inspected["RepoDigests"]  # type: ignore[operator]


def test_skopeo_push_then_berth_pull_and_run(cli: Berth, registry: DistributionRegistry, busybox_rootfs: str,
                                            tmp_path: Path) -> None:
    tar = _busybox_tar(busybox_rootfs, tmp_path / "rootfs.tar")
    image = write_image(str(tmp_path / "layout"), tars=[tar], tag="1", cmd=["sh"])
    ref = f"{registry.host}/apps/busybox:1"
    skopeo_push(image.source, ref)
    out = cli.run("pull", ref).stdout.splitlines()
    assert out[0] == "1: Pulling from apps/busybox"
    assert f"{image.layers[0].digest.short}: Pull complete" in out
    assert out[-3:] == [f"Digest: {image.manifest.digest}", f"Status: Downloaded newer image for {ref}", ref]
    inspected = cli.inspect(ref)
    assert inspected["Id"] == str(image.config.digest)
    assert inspected["RepoDigests"] == [f"{registry.host}/apps/busybox@{image.manifest.digest}"]
    run = cli.run("run", "--rm", "--network", "none", ref, "/bin/busybox", "echo", "pulled and running",
                  check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "pulled and running"
    again = cli.run("pull", ref).stdout
    assert "Status: Image is up to date" in again
    assert cli.run("system", "check").returncode == 0


def test_pull_by_digest(cli: Berth, registry: DistributionRegistry, tmp_path: Path) -> None:
    first = write_image(str(tmp_path / "layout"), [2048], tag="v1")
    second = write_image(str(tmp_path / "layout"), [2048], tag="v2")
    skopeo_push(first.source, f"{registry.host}/d/app:v1")
    skopeo_push(second.source, f"{registry.host}/d/app:v1")  # the tag moved on; the digest still pulls
    ref = f"{registry.host}/d/app@{first.manifest.digest}"
    out = cli.run("pull", ref).stdout.splitlines()
    assert out[0] == f"{first.manifest.digest}: Pulling from d/app"
    assert out[-1] == ref
    inspected = cli.inspect(ref)
    assert inspected["Id"] == str(first.config.digest)
    assert inspected["RepoTags"] == []
    bad = cli.run("pull", f"{registry.host}/d/app@sha256:{'0' * 64}", check=False)
    assert bad.returncode == 1 and "not found" in bad.stderr


def test_an_index_yields_the_hosts_platform_and_platform_picks_another(cli: Berth, registry: DistributionRegistry,
                                                                      tmp_path: Path) -> None:
    index, manifests = write_index(str(tmp_path / "layout"),
                                   {"linux/amd64": [1024], "linux/arm64": [1024, 1024]}, tag="multi")
    ref = f"{registry.host}/m/app:multi"
    skopeo_push(f"oci:{tmp_path / 'layout'}:multi", ref, "--all")
    host_arch = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
    other = "arm64" if host_arch == "amd64" else "amd64"
    out = cli.run("pull", ref).stdout
    assert f"Digest: {index.digest}" in out  # the index's digest, as Docker prints it
    assert cli.inspect(ref)["Architecture"] == host_arch
    assert cli.inspect(ref)["Id"] != ""
    cli.run("pull", "--platform", f"linux/{other}", ref)
    inspected = cli.inspect(ref)
    assert inspected["Architecture"] == other
    assert len(inspected["RootFS"]["Layers"]) == (2 if other == "arm64" else 1)  # type: ignore[index]
    missing = cli.run("pull", "--platform", "linux/s390x", ref, check=False)
    assert missing.returncode == 1 and "no matching manifest for linux/s390x" in missing.stderr


def test_repush_skips_every_blob_upload(cli: Berth, registry: DistributionRegistry, tmp_path: Path) -> None:
    image = write_image(str(tmp_path / "layout"), [4096, 8192], tag="1")
    skopeo_push(image.source, f"{registry.host}/src/app:1")
    cli.run("pull", f"{registry.host}/src/app:1")
    with Proxy(registry.host) as proxy:
        target = f"{proxy.host}/dst/app:1"
        cli.run("tag", f"{registry.host}/src/app:1", target)
        first = cli.run("push", target).stdout
        assert first.count(": Pushed") == 2
        assert len(proxy.state.requests("PUT", "/blobs/uploads/")) == 3  # two layers and the config
        before = len(proxy.state.log)
        second = cli.run("push", target).stdout
        assert second.count(": Layer already exists") == 2 and "Pushed" not in second
        later = proxy.state.log[before:]
        assert [r for r in later if "/blobs/uploads/" in r.path] == []
        assert sum(1 for r in later if r.method == "HEAD" and "/blobs/" in r.path) == 3
        # the same blobs into a third repository of the same registry: mounted, not uploaded
        cli.run("tag", target, f"{proxy.host}/third/app:1")
        before = len(proxy.state.log)
        third = cli.run("push", f"{proxy.host}/third/app:1").stdout
        assert third.count(": Mounted from dst/app") == 2
        assert [r for r in proxy.state.log[before:] if r.method == "PUT" and "/blobs/" in r.path] == []
    assert skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/third/app:1")


def test_push_of_an_unknown_image_and_pull_of_an_unknown_tag_fail_like_docker(
        cli: Berth, registry: DistributionRegistry) -> None:
    push = cli.run("push", f"{registry.host}/nothing/here:1", check=False)
    assert push.returncode == 1 and "An image does not exist locally with the tag" in push.stderr
    pull = cli.run("pull", f"{registry.host}/nothing/here:1", check=False)
    assert pull.returncode == 1 and "not found: manifest unknown" in pull.stderr
    tls = cli.run("pull", "--insecure-registry", "none", "registry.invalid:1/x", check=False)
    assert tls.returncode == 1 and "cannot connect" in tls.stderr
    assert not os.path.exists(cli.root / "content" / "blobs" / "sha256") or \
        os.listdir(cli.root / "content" / "blobs" / "sha256") == []
