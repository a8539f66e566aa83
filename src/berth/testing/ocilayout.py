"""OCI image layouts made of random layers, for tests and benchmarks (``skopeo copy oci:DIR …``).

Each layer is a gzipped tar holding one file of random bytes, so every image is new
to a registry, and the layout is exactly what ``skopeo`` and ``oras`` read: an
``oci-layout`` file, ``index.json`` naming the manifest (with its tag as the
``org.opencontainers.image.ref.name`` annotation) and ``blobs/sha256/<hex>``.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass

from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest
from berth.oci.image import ImageConfig, Index, Manifest

REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True, slots=True)
class LayoutImage:
    path: str
    tag: str
    manifest: Descriptor
    config: Descriptor
    layers: tuple[Descriptor, ...]
    manifest_bytes: bytes

    @property
    def reference(self) -> str:
        """The skopeo source or destination for this image: ``oci:PATH:TAG``."""
        return f"oci:{self.path}:{self.tag}"

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        return (self.config, *self.layers)


def random_layer(size: int, name: str = "data.bin", compresslevel: int = 1) -> tuple[bytes, Digest]:
    """A gzipped tar with one file of ``size`` random bytes, and the tar's digest (diff id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mode = 0o644
        info.mtime = 0
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, compresslevel=compresslevel, mtime=0), Digest.from_bytes(tar_bytes)


def _write_blob(path: str, data: bytes) -> Digest:
    digest = Digest.from_bytes(data)
    folder = os.path.join(path, "blobs", digest.algorithm)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, digest.encoded), "wb") as f:
        f.write(data)
    return digest


def write_oci_layout(
    path: str,
    layer_sizes: Sequence[int] = (4096,),
    *,
    tag: str = "latest",
    media_type: str = mt.OCI_MANIFEST,
    annotations: dict[str, str] | None = None,
) -> LayoutImage:
    """Write an image of random layers of the given (uncompressed) sizes to ``path``.

    ``media_type`` may be the OCI or the Docker manifest type; layer and config media
    types follow it. An existing layout at ``path`` gets the image added to its index."""
    docker = media_type == mt.DOCKER_MANIFEST
    os.makedirs(path, exist_ok=True)
    layers: list[Descriptor] = []
    diff_ids: list[Digest] = []
    for i, size in enumerate(layer_sizes):
        data, diff_id = random_layer(size, f"layer{i}.bin")
        layers.append(
            Descriptor(mt.DOCKER_LAYER_GZIP if docker else mt.OCI_LAYER_GZIP, _write_blob(path, data), len(data))
        )
        diff_ids.append(diff_id)
    config_bytes = ImageConfig("amd64", "linux", tuple(diff_ids)).to_bytes()
    config = Descriptor(mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG, _write_blob(path, config_bytes), len(config_bytes))
    manifest_bytes = Manifest(media_type, config, tuple(layers), annotations=dict(annotations or {})).to_bytes()
    manifest = Descriptor(media_type, _write_blob(path, manifest_bytes), len(manifest_bytes))
    _add_to_index(path, Descriptor(manifest.media_type, manifest.digest, manifest.size, {REF_NAME: tag}))
    return LayoutImage(os.path.abspath(path), tag, manifest, config, tuple(layers), manifest_bytes)


def _add_to_index(path: str, entry: Descriptor) -> None:
    index_path = os.path.join(path, "index.json")
    entries: list[Descriptor] = []
    if os.path.exists(index_path):
        with open(index_path, "rb") as f:
            entries = [
                d for d in Index.from_bytes(f.read()).manifests if d.annotations.get(REF_NAME) != entry.annotations[REF_NAME]
            ]
    entries.append(entry)
    with open(index_path, "wb") as f:
        f.write(Index(mt.OCI_INDEX, tuple(entries)).to_bytes())
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def read_layout_manifest(path: str, tag: str | None = None) -> tuple[Descriptor, bytes]:
    """The descriptor and bytes of the manifest tagged ``tag`` (or the only one) in a layout."""
    with open(os.path.join(path, "index.json"), "rb") as f:
        entries = Index.from_bytes(f.read()).manifests
    chosen = [d for d in entries if tag is None or d.annotations.get(REF_NAME) == tag]
    if len(chosen) != 1:
        raise LookupError(f"{path}: {len(chosen)} manifests match tag {tag!r}")
    desc = chosen[0]
    with open(os.path.join(path, "blobs", desc.digest.algorithm, desc.digest.encoded), "rb") as f:
        return desc, f.read()
