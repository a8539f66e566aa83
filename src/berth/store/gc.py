"""Garbage collection: mark what images, containers and gc roots need; sweep the rest.

Roots: every image's config, manifest and layer blobs and its layer snapshots (by chain
ID); every active or view snapshot (containers, builds) except stale ``extract-`` ones;
every snapshot labelled ``berth.gc.root``. A root keeps its whole parent chain. Runs
with the store lock held alone, so no writer is between writing a blob and recording
the image that uses it (containerd's tri-colour idea, minus the colours: the graph is
shallow).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from berth.errors import Conflict, NotFound
from berth.oci.digest import Digest
from berth.store.images import Action, Image

if TYPE_CHECKING:
    from berth.store.store import Store


@dataclass
class GcResult:
    blobs: list[Digest] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)  # keys removed
    reclaimed: int = 0  # bytes
    skipped: bool = False  # another process held the store lock


def kept_snapshots(store: Store) -> set[int]:
    from berth.store.store import EXTRACT_PREFIX, GC_ROOT

    rows = store.db.conn.execute(
        "WITH RECURSIVE keep(id) AS ("
        " SELECT id FROM snapshots WHERE (kind != 'committed' AND key NOT LIKE ?)"
        "  OR key IN (SELECT chain_id FROM image_layers) OR json_extract(labels, ?) IS NOT NULL"
        " UNION SELECT s.parent FROM snapshots s JOIN keep k ON s.id = k.id WHERE s.parent IS NOT NULL)"
        " SELECT id FROM keep",
        (EXTRACT_PREFIX + "%", f'$."{GC_ROOT}"'),
    ).fetchall()
    return {r[0] for r in rows}


def kept_blobs(store: Store) -> set[Digest]:
    conn = store.db.conn
    out = set()
    for row in conn.execute("SELECT id, manifest_digest FROM images"):
        out.add(Digest.parse(row[0]))
        out.add(Digest.parse(row[1]))
    for row in conn.execute("SELECT DISTINCT blob FROM image_layers"):
        out.add(Digest.parse(row[0]))
    return out


def collect(store: Store, wait: bool = True) -> GcResult:
    from berth.store.store import INGEST_MAX_AGE, LAYER_BYTES

    result = GcResult()
    with store.exclusive(wait) as alone:
        if not alone:
            result.skipped = True
            return result
        store.content.sweep(older_than=INGEST_MAX_AGE)
        store.snapshots.tree.sweep()
        keep = kept_snapshots(store)
        rows = store.db.conn.execute("SELECT id, key, labels FROM snapshots ORDER BY id DESC").fetchall()
        for snapshot_id, key, _labels in rows:
            if snapshot_id in keep:
                continue
            info = store.snapshots.stat(key)
            size = int(info.labels.get(LAYER_BYTES, "0")) or store.snapshots.usage(key).size
            with contextlib.suppress(Conflict, NotFound):
                store.snapshots.remove(key)
                result.snapshots.append(key)
                result.reclaimed += size
        blobs = kept_blobs(store)
        for blob in list(store.content.walk()):
            if blob.digest not in blobs:
                with contextlib.suppress(NotFound):
                    store.content.delete(blob.digest)
                    result.blobs.append(blob.digest)
                    result.reclaimed += blob.size
    return result


def dangling(image: Image) -> bool:
    return not image.repo_tags and not image.repo_digests


def prune_images(store: Store, *, all_unused: bool = False, until: float | None = None,
                 labels: dict[str, str | None] | None = None) -> tuple[list[Action], int]:
    """``docker image prune``: untagged images (``all_unused``: every image no
    container uses), then gc. Returns what was done and the bytes reclaimed."""
    actions: list[Action] = []
    for image in store.images.list():
        if store.images.users(image.id):
            continue
        if not all_unused and not dangling(image):
            continue
        if until is not None and image.added > until:
            continue
        if labels and not _labels_match(image, labels):
            continue
        with contextlib.suppress(NotFound, Conflict):
            actions.extend(store.images.remove(str(image.id), force=True, prune=False))
    result = collect(store)
    actions.extend(("Deleted", key) for key in result.snapshots if key.startswith("sha256:"))
    return actions, result.reclaimed


def _labels_match(image: Image, wanted: dict[str, str | None]) -> bool:
    have = image.config.config.labels
    for key, value in wanted.items():
        if key not in have or (value is not None and have[key] != value):
            return False
    return True
