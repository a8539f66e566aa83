"""Images as containers see them: overlay mounts of the snapshots, for real."""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from berth.oci.image import ContainerConfig
from berth.store import Image, Store
from berth.testing.tars import TarBuilder

from .conftest import host_mounts_under, in_mount


def base_layer() -> bytes:
    b = TarBuilder().dir("etc/").file("etc/hostname", b"base\n").file("etc/doomed", b"bye\n")
    b.dir("data/").file("data/old-1", b"1").file("data/old-2", b"2").dir("data/sub/").file("data/sub/deep", b"d")
    return b.bytes()


def second_layer() -> bytes:
    # deletes a file, replaces a folder (opaque whiteout + new content), adds a file
    b = TarBuilder().dir("etc/").file("etc/.wh.doomed").dir("data/").file("data/.wh..wh..opq")
    return b.file("data/new", b"fresh").file("etc/added", b"+").bytes()


def two_layer_image(store: Store) -> Image:
    from berth.oci import mediatype as mt
    from berth.oci.descriptor import Descriptor
    from berth.oci.digest import Digest
    from berth.oci.image import ContainerConfig as CC
    from berth.oci.image import History, ImageConfig, Manifest
    from berth.store.content.api import write_blob

    blobs = [base_layer(), second_layer()]
    descs = [Descriptor(mt.OCI_LAYER, Digest.from_bytes(b), len(b)) for b in blobs]
    for d, b in zip(descs, blobs, strict=True):
        write_blob(store.content, f"t-{d.digest}", b, d)
    config = ImageConfig("amd64", "linux", tuple(d.digest for d in descs), CC(cmd=("sh",)),
                         history=(History(created_by="base"), History(created_by="second")))
    cbytes = config.to_bytes()
    cdesc = Descriptor(mt.OCI_CONFIG, Digest.from_bytes(cbytes), len(cbytes))
    write_blob(store.content, "t-config", cbytes, cdesc)
    manifest = Manifest(mt.OCI_MANIFEST, cdesc, tuple(descs))
    mbytes = manifest.to_bytes()
    mdigest = Digest.from_bytes(mbytes)
    write_blob(store.content, "t-manifest", mbytes, Descriptor(mt.OCI_MANIFEST, mdigest, len(mbytes)))
    sizes = store.unpack(manifest.layers, config.diff_ids)
    store.images.record(manifest, mdigest, len(mbytes), config, sizes)
    store.images.tag(cdesc.digest, "two:layers")
    return store.images.get("two:layers")


def test_second_layer_deletes_and_replaces_as_a_container_sees_it(store: Store, tmp_path: Path) -> None:
    img = two_layer_image(store)
    mounts = store.prepare_rootfs("c1", img, {})
    assert mounts[0].type == "overlay"
    target = str(tmp_path / "mnt")
    done = in_mount(mounts, target, "find . | sort; cat data/new; echo; cat etc/hostname; echo changed > etc/hostname;"
                                    " rm data/sub/deep 2>/dev/null; mkdir -p made && touch made/x")
    assert done.returncode == 0, done.stderr
    listing = done.stdout.split()
    assert "./etc/doomed" not in listing and "./etc/added" in listing
    assert sorted(p for p in listing if p.startswith("./data")) == ["./data", "./data/new"]
    assert listing[-2:] == ["fresh", "base"]
    assert host_mounts_under(str(tmp_path)) == []  # nothing stays mounted on the host
    # the container's writes are in its own folder only, and docker diff sees them
    assert store.diff("c1") == [("C", "/etc/hostname"), ("A", "/made"), ("A", "/made/x")]
    base_layer_folder = store.snapshots.path(str(img.chain_ids[0]))
    assert open(os.path.join(base_layer_folder, "etc/hostname")).read() == "base\n"  # lowers untouched
    # commit turns them into a third layer
    new = store.commit("c1", img, ContainerConfig(cmd=("sh",)), comment="test")
    assert len(new.layers) == 3
    store.prepare_rootfs("c2", new, {})
    done = in_mount(store.snapshots.mounts("c2"), str(tmp_path / "mnt2"), "cat etc/hostname; ls made")
    assert done.stdout.split() == ["changed", "x"], done.stderr
    store.snapshots.remove("c1")
    store.snapshots.remove("c2")


@pytest.mark.parametrize("legacy", [False, True], ids=["fsconfig", "mount2"])
def test_sixty_layers_mount_and_prepare_stays_fast(store: Store, tmp_path: Path, legacy: bool) -> None:
    from berth.oci.image import History

    base = store.import_tar(io.BytesIO(TarBuilder().file("layer-0", b"0").bytes()), "many:0")
    img = base
    for i in range(1, 60):
        key = f"build-{i}"
        store.prepare_rootfs(key, img, {})
        with open(os.path.join(store.snapshots.layout(key).upper, f"layer-{i}"), "w") as f:
            f.write(str(i))
        img = store.commit(key, img, ContainerConfig(), created_by=f"step {i}")
        store.snapshots.remove(key)
    assert len(img.layers) == 60 and len(img.config.history) == 60
    assert History is not None
    times = []
    for n in range(5):
        t = time.perf_counter()
        store.prepare_rootfs(f"c{n}", img, {})
        times.append(time.perf_counter() - t)
    assert sorted(times)[2] < 0.05, times  # generous for CI; bench/layers.py measures it properly
    options = dict(o.partition("=")[::2] for o in store.snapshots.mounts("c0")[0].options)
    assert len(options["lowerdir"].split(":")) == 60
    done = in_mount(store.snapshots.mounts("c0"), str(tmp_path / "mnt"), "ls | wc -l; cat layer-0; echo; cat layer-59",
                    legacy=legacy)
    assert done.stdout.split() == ["60", "0", "59"], done.stderr
    assert host_mounts_under(str(tmp_path)) == []


def test_copy_snapshotter_fallback_mounts_a_full_copy(tmp_path: Path) -> None:
    from berth.state import open_database
    from berth.store import open_store

    db = open_database(str(tmp_path / "root"))
    store = open_store(str(tmp_path / "root"), db, "copy")
    img = two_layer_image(store)
    mounts = store.prepare_rootfs("c1", img, {})
    assert mounts[0].type == "bind"
    done = in_mount(mounts, str(tmp_path / "mnt"), "ls etc; ls data; echo x > data/new")
    assert done.stdout.split() == ["added", "hostname", "new"], done.stderr
    assert store.diff("c1") == [("C", "/data/new")]
    out = io.BytesIO()
    store.save(["two:layers"], out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as t:
        assert "manifest.json" in t.getnames()
    db.close()
