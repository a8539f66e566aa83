"""OCI image layouts of random layers, for tests and benchmarks: what ``skopeo copy
oci:DIR:TAG docker://…`` pushes. Single images, or an image index with one image per
platform.

    image = write_image(path, [4096, 1 << 20], tag="1")
    index = write_index(path, {"linux/amd64": [4096], "linux/arm64": [4096]}, tag="multi")
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor, Platform
from berth.oci.digest import Digest
from berth.oci.image import ContainerConfig, ImageConfig, Index, Manifest

REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True, slots=True)
class LayoutImage:
    path: str
    tag: str
    manifest: Descriptor
    config: Descriptor
    layers: tuple[Descriptor, ...]
    diff_ids: tuple[Digest, ...]

    @property
    def source(self) -> str:
        return f"oci:{self.path}:{self.tag}"


def layer_tar(files: Mapping[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1_600_000_000
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def gzip_fast(data: bytes) -> bytes:
    """gzip at level 1 (random bytes do not compress anyway)."""
    from isal import igzip

    return bytes(igzip.compress(data, compresslevel=1, mtime=0))


def _blob(path: str, data: bytes) -> Digest:
    digest = Digest.from_bytes(data)
    folder = os.path.join(path, "blobs", digest.algorithm)
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, digest.encoded)
    if not os.path.exists(target):
        with open(target, "wb") as f:
            f.write(data)
    return digest


def _image(path: str, sizes: Sequence[int], platform: Platform, cmd: Sequence[str] | None,
           tars: Sequence[bytes] | None) -> tuple[Descriptor, Descriptor, list[Descriptor], list[Digest]]:
    layers, diff_ids = [], []
    if tars is None:
        tars = [layer_tar({f"layer{i}.bin": os.urandom(n)}) for i, n in enumerate(sizes)]
    for tar in tars:
        data = gzip_fast(tar)
        layers.append(Descriptor(mt.OCI_LAYER_GZIP, _blob(path, data), len(data)))
        diff_ids.append(Digest.from_bytes(tar))
    config_bytes = ImageConfig(platform.architecture, platform.os, tuple(diff_ids),
                               ContainerConfig(cmd=tuple(cmd) if cmd else None),
                               created="2024-01-01T00:00:00Z", variant=platform.variant).to_bytes()
    config = Descriptor(mt.OCI_CONFIG, _blob(path, config_bytes), len(config_bytes))
    manifest_bytes = Manifest(mt.OCI_MANIFEST, config, tuple(layers)).to_bytes()
    manifest = Descriptor(mt.OCI_MANIFEST, _blob(path, manifest_bytes), len(manifest_bytes))
    return manifest, config, layers, diff_ids


def write_image(path: str, sizes: Sequence[int] = (4096,), *, tag: str = "latest",
                platform: Platform | None = None, cmd: Sequence[str] | None = None,
                tars: Sequence[bytes] | None = None) -> LayoutImage:
    """One image whose layers each hold one file of ``sizes[i]`` random bytes (or are
    the given uncompressed layer ``tars``)."""
    manifest, config, layers, diff_ids = _image(path, sizes, platform or Platform("linux", "amd64"), cmd, tars)
    _index_entry(path, Descriptor(manifest.media_type, manifest.digest, manifest.size, {REF_NAME: tag}))
    return LayoutImage(os.path.abspath(path), tag, manifest, config, tuple(layers), tuple(diff_ids))


def write_index(path: str, images: Mapping[str, Sequence[int]], *, tag: str = "latest") -> tuple[Descriptor,
                                                                                               dict[str, Descriptor]]:
    """An image index with one image per platform (``"linux/arm64": [sizes]``).
    Returns the index's descriptor and each platform's manifest descriptor."""
    entries, by_platform = [], {}
    for text, sizes in images.items():
        platform = Platform.parse(text)
        manifest, _config, _layers, _diffs = _image(path, sizes, platform, None, None)
        entries.append(Descriptor(manifest.media_type, manifest.digest, manifest.size, platform=platform))
        by_platform[text] = manifest
    index_bytes = Index(mt.OCI_INDEX, tuple(entries)).to_bytes()
    index = Descriptor(mt.OCI_INDEX, _blob(path, index_bytes), len(index_bytes))
    _index_entry(path, Descriptor(index.media_type, index.digest, index.size, {REF_NAME: tag}))
    return index, by_platform


def _index_entry(path: str, entry: Descriptor) -> None:
    index_path = os.path.join(path, "index.json")
    entries: list[Descriptor] = []
    if os.path.exists(index_path):
        with open(index_path, "rb") as f:
            entries = [d for d in Index.from_bytes(f.read()).manifests
                       if d.annotations.get(REF_NAME) != entry.annotations.get(REF_NAME)]
    entries.append(entry)
    with open(index_path, "wb") as f:
        f.write(Index(mt.OCI_INDEX, tuple(entries)).to_bytes())
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
