"""Making new images: write a layer blob, then the config and manifest, unpack, record.

Shared by ``commit`` (a container's changes), ``import`` (a rootfs tarball), ``bootstrap``
and the build system. New layers are gzip (ISA-L level 1); new manifests are OCI unless
the base image's is Docker schema 2, so one image never mixes the two families.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from berth.errors import BerthError
from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor, Platform
from berth.oci.digest import Digest
from berth.oci.image import ContainerConfig, History, ImageConfig, Manifest
from berth.store.content.api import write_blob
from berth.store.errors import CorruptArchive
from berth.store.images import Image

if TYPE_CHECKING:
    from berth.store.store import Store


@dataclass(frozen=True, slots=True)
class NewLayer:
    desc: Descriptor  # the (gzip) blob
    diff_id: Digest


def layer_from_stream(store: Store, stream: BinaryIO) -> NewLayer:
    """Store a layer tar (plain, gzip, zstd, bzip2 or xz) as a gzip blob. The tar
    itself is checked when it is unpacked."""
    from berth.store.layers import compression as comp

    head, stream = comp.peek(stream)
    source = comp.decompressed(stream, comp.detect(head))
    diff = hashlib.sha256()
    with store.writing(), store.content.writer(f"layer-{secrets.token_hex(8)}") as writer:
        sink = comp.Compressor(writer, comp.GZIP)
        try:
            while chunk := source.read(1 << 20):
                diff.update(chunk)
                sink.write(chunk)
        except EOFError as err:
            raise CorruptArchive(f"layer: compressed stream is truncated: {err}") from err
        except comp.codec_errors() as err:
            raise CorruptArchive(f"layer: corrupt compressed data: {err}") from err
        finally:
            if source is not stream:
                source.close()
        sink.close()
        size = writer.offset
        digest = writer.commit()
    return NewLayer(Descriptor(mt.OCI_LAYER_GZIP, digest, size), Digest("sha256", diff.hexdigest()))


def layer_from_dir(store: Store, upper: str, lowers: Sequence[str], kind: str = "overlay") -> NewLayer:
    """The changes in ``upper`` (see layers.diff) as a gzip layer blob."""
    from berth.store.layers import compression as comp
    from berth.store.layers.diff import write_diff

    with store.writing(), store.content.writer(f"diff-{secrets.token_hex(8)}") as writer:
        sink = comp.Compressor(writer, comp.GZIP)
        result = write_diff(upper, lowers, sink, kind="overlay" if kind == "overlay" else "trees")
        sink.close()
        size = writer.offset
        digest = writer.commit()
    return NewLayer(Descriptor(mt.OCI_LAYER_GZIP, digest, size), result.diff_id)


@dataclass(frozen=True, slots=True)
class Recipe:
    """Everything about a new image except its layers."""

    config: ContainerConfig
    history: History
    created: str
    author: str = ""
    platform: Platform | None = None  # default: the base's, else the host's
    extra: dict[str, Any] = field(default_factory=dict)  # more top-level config fields


def assemble(store: Store, base: Image | None, layer: NewLayer | None, recipe: Recipe) -> Image:
    """Config + manifest for ``base`` + ``layer``, written, unpacked and recorded
    (untagged). If unpacking the new layer fails its blob is removed again."""
    docker = base is not None and base.media_type == mt.DOCKER_MANIFEST
    layer_type = mt.DOCKER_LAYER_GZIP if docker else mt.OCI_LAYER_GZIP
    descs = [Descriptor(x.media_type, x.blob, x.blob_size) for x in base.layers] if base else []
    diff_ids = list(base.config.diff_ids) if base else []
    if layer is not None:
        descs.append(Descriptor(layer_type, layer.desc.digest, layer.desc.size))
        diff_ids.append(layer.diff_id)
    platform = recipe.platform or (
        Platform(base.config.os, base.config.architecture, base.config.variant) if base else Platform.host())
    extra = {**(base.config.extra if base else {}), **recipe.extra}
    image_config = ImageConfig(
        architecture=platform.architecture,
        os=platform.os,
        variant=platform.variant,
        diff_ids=tuple(diff_ids),
        config=recipe.config,
        created=recipe.created,
        author=recipe.author,
        history=(*(base.config.history if base else ()), recipe.history),
        extra=extra,
    )
    config_bytes = image_config.to_bytes()
    config_desc = Descriptor(mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG, Digest.from_bytes(config_bytes),
                             len(config_bytes))
    manifest = Manifest(mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST, config_desc, tuple(descs))
    manifest_bytes = manifest.to_bytes()
    manifest_digest = Digest.from_bytes(manifest_bytes)
    with store.writing():
        try:
            sizes = store.unpack(descs, diff_ids)  # first: a bad layer leaves no config or manifest
        except BerthError:
            if layer is not None:
                forget_blob(store, layer.desc.digest)
            raise
        write_blob(store.content, f"config-{config_desc.digest}", config_bytes, config_desc)
        write_blob(store.content, f"manifest-{manifest_digest}", manifest_bytes,
                   Descriptor(manifest.media_type, manifest_digest, len(manifest_bytes)))
        store.images.record(manifest, manifest_digest, len(manifest_bytes), image_config, sizes)
    return store.images.get(str(config_desc.digest))


def forget_blob(store: Store, digest: Digest) -> None:
    """Delete a blob this operation wrote, unless an image already uses it."""
    used = store.db.conn.execute("SELECT 1 FROM image_layers WHERE blob = ? LIMIT 1", (str(digest),)).fetchone()
    if used is None:
        try:
            store.content.delete(digest)
        except BerthError:
            pass
