"""``docker import``: a root file system tarball as a one-layer image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO

from berth.oci.descriptor import Platform
from berth.oci.image import ContainerConfig, History
from berth.store.assemble import Recipe, assemble, layer_from_stream
from berth.store.changes import apply_changes
from berth.store.images import Image, tag_name

if TYPE_CHECKING:
    from berth.store.store import Store


def import_tar(store: Store, stream: BinaryIO, ref: str | None, changes: Sequence[str], *, message: str,
               source: str, platform: str | None) -> Image:
    from berth.store.store import now_rfc3339

    if ref:
        tag_name(ref)  # a bad name fails before any work is done
    config = apply_changes(ContainerConfig(), changes)  # likewise a bad --change
    target = Platform.parse(platform) if platform else Platform.host()
    layer = layer_from_stream(store, stream)
    created = now_rfc3339()
    comment = message or f"Imported from {source}"
    recipe = Recipe(config=config, history=History(created=created, comment=comment), created=created,
                    platform=target, extra={"comment": comment})
    image = assemble(store, None, layer, recipe)
    if ref:
        store.images.tag(image, ref)
        image = store.images.get(str(image.id))
    return image
