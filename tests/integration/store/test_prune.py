"""Pruning never removes what an image or a container still needs."""

from __future__ import annotations

import io
from pathlib import Path

from berth.oci.image import ContainerConfig
from berth.store import Store
from berth.testing.tars import TarBuilder

from .conftest import berth, in_mount


def test_prune_keeps_what_images_and_containers_need(store: Store, env: dict[str, str], tmp_path: Path) -> None:
    base = store.import_tar(io.BytesIO(TarBuilder().file("base", b"b").bytes()), "base:1")
    # two images on the same base layer; one of them ends up untagged but in use
    images = []
    for name in ("keep", "used"):
        store.prepare_rootfs(f"build-{name}", base, {})
        with open(f"{store.snapshots.layout(f'build-{name}').upper}/{name}", "w") as f:
            f.write(name)
        img = store.commit(f"build-{name}", base, ContainerConfig())
        store.snapshots.remove(f"build-{name}")
        store.images.tag(img, f"{name}:1")
        images.append(img)
    keep, used = images
    store.prepare_rootfs("container", used, {})
    store.images.remove("used:1", force=True)  # dangling now, but the container needs its layers
    garbage = store.import_tar(io.BytesIO(TarBuilder().file("junk", b"j" * 1000).bytes()), "junk:1")
    store.images.remove("junk:1", prune=False)

    out = berth(env, "system", "prune", "-f").stdout.decode()
    assert "Total reclaimed space:" in out

    assert store.images.get("keep:1").id == keep.id
    assert store.images.get("base:1").id == base.id
    for blob in [keep.id, keep.manifest_digest, *(x.blob for x in keep.layers)]:
        store.content.info(blob)  # raises if pruned
    for chain in keep.chain_ids + used.chain_ids:
        store.snapshots.stat(str(chain))
    assert store.snapshots.stat("container").parent == str(used.top_chain_id)
    done = in_mount(store.snapshots.mounts("container"), str(tmp_path / "mnt"), "cat base used")
    assert done.stdout == "bused", done.stderr
    # what nothing needed is gone
    assert all(info.digest != garbage.layers[0].blob for info in store.content.walk())
    assert berth(env, "system", "check").returncode == 0

    # once the container is gone, its image's unique layer goes with the next prune
    store.snapshots.remove("container")
    berth(env, "system", "prune", "-af")
    assert [i.repo_tags for i in store.images.list()] == []
    assert list(store.snapshots.walk()) == [] and list(store.content.walk()) == []
