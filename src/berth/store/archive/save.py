"""``docker save``: images to one tar that two kinds of readers understand.

* Docker's ``manifest.json`` (``[{"Config", "RepoTags", "Layers"}]``) and
  ``repositories``, which ``docker load`` and ``skopeo docker-archive:`` read;
* an OCI image layout — ``oci-layout``, ``index.json`` naming each tag with
  ``io.containerd.image.name`` and ``org.opencontainers.image.ref.name``, and every
  blob under ``blobs/sha256/`` — which is what Docker 25+ writes and what
  ``skopeo oci-archive:`` and containerd read.

The blobs are the store's own (the manifest, the config and the layers as they were
pulled or built, compressed or not), so a save → load round trip keeps every digest:
the image ID, the manifest digest and each layer's. Entries are written in the order
Docker writes them (blobs first, then the index files) with fixed times, so saving the
same images twice gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from berth.errors import InvalidArgument
from berth.oci import mediatype as mt
from berth.oci.digest import Digest
from berth.oci.reference import Reference
from berth.store.images import Image, familiar
from berth.store.layers import tarformat as tf

if TYPE_CHECKING:
    from berth.store.store import Store

LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'


@dataclass
class _Saved:
    image: Image
    names: list[str] = field(default_factory=list)  # normalised tags to record


def save(store: Store, refs: Sequence[str], out: BinaryIO) -> None:
    if not refs:
        raise InvalidArgument("save: name at least one image")
    chosen: dict[Digest, _Saved] = {}
    for text in refs:
        for image, names in _select(store, text):
            entry = chosen.setdefault(image.id, _Saved(image))
            entry.names.extend(n for n in names if n not in entry.names)
    writer = tf.TarWriter(out)
    written: set[Digest] = set()
    _dir(writer, "blobs/")
    _dir(writer, "blobs/sha256/")
    index: list[dict[str, object]] = []
    manifest_json: list[dict[str, object]] = []
    repositories: dict[str, dict[str, str]] = {}
    for saved in chosen.values():
        image = saved.image
        blobs = [image.manifest_digest, image.id, *(layer.blob for layer in image.layers)]
        for digest in blobs:
            if digest not in written:
                written.add(digest)
                _blob(store, writer, digest)
        desc = {"mediaType": image.media_type, "digest": str(image.manifest_digest), "size": image.manifest_size}
        for name in saved.names:
            ref = Reference.parse(name)
            index.append({**desc, "annotations": {"io.containerd.image.name": name,
                                                   "org.opencontainers.image.ref.name": ref.tag or ""}})
            if image.layers and ref.tag:
                repositories.setdefault(ref.familiar_repository, {})[ref.tag] = image.layers[-1].blob.encoded
        if not saved.names:
            index.append(desc)
        manifest_json.append({
            "Config": f"blobs/sha256/{image.id.encoded}",
            "RepoTags": [familiar(n) for n in saved.names] or None,
            "Layers": [f"blobs/sha256/{layer.blob.encoded}" for layer in image.layers],
        })
    _file(writer, "index.json", json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                                            "manifests": index}, separators=(",", ":")).encode())
    _file(writer, "manifest.json", json.dumps(manifest_json, separators=(",", ":")).encode() + b"\n")
    _file(writer, "oci-layout", LAYOUT)
    if repositories:
        _file(writer, "repositories", json.dumps(repositories, separators=(",", ":")).encode() + b"\n")
    writer.close()


def _select(store: Store, text: str) -> list[tuple[Image, list[str]]]:
    """What ``docker save TEXT`` saves: an ID saves the image without names, a bare
    repository name every tag of that repository, a name:tag that tag."""
    images = store.images
    try:
        bare = Reference.parse(text, default_tag=False)
    except InvalidArgument:
        bare = None
    if bare is not None and bare.tag is None and bare.digest is None:
        rows = store.db.conn.execute("SELECT name, image_id FROM image_tags WHERE name >= ? AND name < ?"
                                     " ORDER BY name", (bare.repository + ":", bare.repository + ";")).fetchall()
        by_image: dict[str, list[str]] = {}
        for name, iid in rows:
            by_image.setdefault(iid, []).append(name)
        if by_image:
            return [(images.get(iid), names) for iid, names in by_image.items()]
    image_id, matched = images.lookup(text)
    if matched is None or "@" in matched:
        return [(images.get(str(image_id)), [])]
    return [(images.get(str(image_id)), [matched])]


def _dir(writer: tf.TarWriter, name: str) -> None:
    writer.add(tf.Entry(name=name, type=tf.DIR, mode=0o755))


def _file(writer: tf.TarWriter, name: str, data: bytes) -> None:
    writer.add(tf.Entry(name=name, mode=0o644, size=len(data)), data=data)


def _blob(store: Store, writer: tf.TarWriter, digest: Digest) -> None:
    info = store.content.info(digest)
    with store.content.open(digest) as f:
        entry = tf.Entry(name=f"blobs/sha256/{digest.encoded}", mode=0o644, size=info.size)
        try:
            fd = f.fileno()
        except (AttributeError, OSError, ValueError):
            writer.add(entry, data=f.read())
        else:
            writer.add(entry, fd=fd)
