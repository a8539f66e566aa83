"""``docker commit``: a container's changes as a new image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from berth.oci.image import ContainerConfig, History
from berth.store.assemble import Recipe, assemble, layer_from_dir
from berth.store.changes import apply_changes
from berth.store.images import Image

if TYPE_CHECKING:
    from berth.store.store import Store


def commit_snapshot(store: Store, key: str, base: Image | None, config: ContainerConfig, *, comment: str,
                    author: str, created_by: str, changes: Sequence[str], empty_layer: bool) -> Image:
    from berth.store.store import now_rfc3339

    created = now_rfc3339()
    layer = None
    if not empty_layer:
        layout = store.snapshots.layout(key)
        layer = layer_from_dir(store, layout.upper, layout.lowers, layout.whiteouts)
    recipe = Recipe(
        config=apply_changes(config, changes),
        history=History(created=created, created_by=created_by, author=author, comment=comment,
                        empty_layer=empty_layer),
        created=created,
        author=author,
    )
    return assemble(store, base, layer, recipe)
