"""``berth system df``: the store's rows (Images, Build Cache).

Other layers contribute their own rows (Containers, Local Volumes, Logs) in the same
shape; the CLI only needs these five attributes, so any object that has them will do.
Sizes are what is on disk: an image counts its blobs and its unpacked layers, each
shared blob or layer once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from berth.oci.digest import Digest

if TYPE_CHECKING:
    from berth.store.store import Store

BUILD_CACHE_LABEL = "berth.builder.cache"  # snapshots the build system keeps as its cache


@dataclass(frozen=True, slots=True)
class UsageRow:
    type: str
    total: int
    active: int
    size: int
    reclaimable: int


@dataclass(frozen=True, slots=True)
class ImageUsage:
    """One image's share, for ``system df -v``."""

    image_id: Digest
    names: tuple[str, ...]
    created: str | None
    size: int  # blobs + unpacked layers
    shared: int  # part of it other images use too
    containers: int


def image_usage(store: Store) -> list[ImageUsage]:
    from berth.store.store import LAYER_BYTES

    conn = store.db.conn
    layer_bytes: dict[str, int] = {}
    for key, labels in conn.execute("SELECT key, json_extract(labels, ?) FROM snapshots WHERE kind = 'committed'",
                                    (f'$."{LAYER_BYTES}"',)):
        layer_bytes[key] = int(labels or 0)
    blob_sizes = {str(info.digest): info.size for info in store.content.walk()}
    parts: dict[str, set[str]] = {}
    for image_id, manifest in conn.execute("SELECT id, manifest_digest FROM images"):
        parts[image_id] = {f"blob:{image_id}", f"blob:{manifest}"}
    for image_id, blob, chain in conn.execute("SELECT image_id, blob, chain_id FROM image_layers"):
        parts[image_id].update({f"blob:{blob}", f"layer:{chain}"})
    users: dict[str, int] = {}
    for image in store.images.list():
        users[str(image.id)] = len(store.images.users(image.id))
    count: dict[str, int] = {}
    for items in parts.values():
        for item in items:
            count[item] = count.get(item, 0) + 1

    def size_of(item: str) -> int:
        kind, _, ident = item.partition(":")
        return blob_sizes.get(ident, 0) if kind == "blob" else layer_bytes.get(ident, 0)

    out = []
    for image in store.images.list():
        items = parts.get(str(image.id), set())
        out.append(ImageUsage(image.id, image.repo_tags, image.created, sum(size_of(i) for i in items),
                              sum(size_of(i) for i in items if count[i] > 1), users.get(str(image.id), 0)))
    return out


def store_rows(store: Store) -> list[UsageRow]:
    from berth.store.store import LAYER_BYTES

    conn = store.db.conn
    usages = image_usage(store)
    blob_sizes = {str(info.digest): info.size for info in store.content.walk()}
    layer_bytes = {key: int(v or 0) for key, v in conn.execute(
        "SELECT key, json_extract(labels, ?) FROM snapshots WHERE kind = 'committed'", (f'$."{LAYER_BYTES}"',))}
    items_of: dict[str, set[str]] = {}
    for image_id, manifest in conn.execute("SELECT id, manifest_digest FROM images"):
        items_of[image_id] = {f"blob:{image_id}", f"blob:{manifest}"}
    for image_id, blob, chain in conn.execute("SELECT image_id, blob, chain_id FROM image_layers"):
        items_of[image_id].update({f"blob:{blob}", f"layer:{chain}"})
    active_ids = {str(u.image_id) for u in usages if u.containers}
    everything = set().union(*items_of.values()) if items_of else set()
    in_use = set().union(*(items_of[i] for i in active_ids)) if active_ids else set()

    def size(items: set[str]) -> int:
        total = 0
        for item in items:
            kind, _, ident = item.partition(":")
            total += blob_sizes.get(ident, 0) if kind == "blob" else layer_bytes.get(ident, 0)
        return total

    cache = conn.execute("SELECT key, kind FROM snapshots WHERE json_extract(labels, ?) IS NOT NULL",
                         (f'$."{BUILD_CACHE_LABEL}"',)).fetchall()
    cache_size = sum(store.snapshots.usage(key).size for key, _ in cache)
    cache_active = sum(1 for _, kind in cache if kind != "committed")
    return [
        UsageRow("Images", len(usages), len(active_ids), size(everything), size(everything - in_use)),
        UsageRow("Build Cache", len(cache), cache_active, cache_size, cache_size),
    ]
