"""berth.store: content store, snapshots, layers, images and image archives.

    from berth.store import Store, open_store
    store = open_store(root, db)
    img = store.images.get("busybox")
    mounts = store.prepare_rootfs(container_id, img, {})

Importing this package is cheap (no tar, codecs or rich): the fast path of ``berth run``
only resolves an image and prepares a snapshot.
"""

from berth.store.images import Image, ImageLayer, ImageStore
from berth.store.store import Store, open_store

__all__ = ["Image", "ImageLayer", "ImageStore", "Store", "open_store"]
