"""``docker load``: images from a tar stream, read once, in any of the formats in use:

* docker-save since Docker 1.10: ``manifest.json`` (``Config``, ``RepoTags``,
  ``Layers`` as paths: ``<id>/layer.tar``, ``<hex>.tar``, ``blobs/sha256/<hex>``),
  plus ``index.json`` since Docker 25 — its OCI manifests are kept when they match;
* an OCI image layout (``skopeo copy … oci-archive:``, ``podman save --format
  oci-archive``, BuildKit): ``index.json`` → manifests (a nested index picks the host's
  platform) → config and layers; names from ``io.containerd.image.name`` or
  ``org.opencontainers.image.ref.name``;
* the tar itself plain, gzip, zstd, bzip2 or xz.

Every file is streamed into the content store as it arrives (the order inside the tar
does not matter); files named ``blobs/<alg>/<hex>`` are verified against that digest.
Then the manifests are resolved, each layer is unpacked (and checked against the
config's diff IDs), and only then are the images and tags recorded. A bad archive —
corrupt tar, digest mismatch, a manifest naming a missing blob — fails before any
image or tag is written; blobs it wrote that nothing uses are removed again.
"""

from __future__ import annotations

import json
import posixpath
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from berth.errors import AlreadyExists, BerthError, DigestMismatch, InvalidArgument, NotFound, Unsupported
from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor, Platform
from berth.oci.digest import Digest
from berth.oci.image import ImageConfig, Index, Manifest, sniff_media_type
from berth.oci.jsonutil import FieldError
from berth.oci.reference import Reference
from berth.store.assemble import forget_blob
from berth.store.content.api import ContentWriter, has_blob, read_blob, write_blob
from berth.store.errors import CorruptArchive
from berth.store.images import Image
from berth.store.layers import compression as comp
from berth.store.layers import tarformat as tf

if TYPE_CHECKING:
    from berth.store.store import Store

# (normalised name, image ID, the image the name pointed to before or None)
TagCallback = Callable[[str, Digest, Digest | None], None]

_SMALL = frozenset({"manifest.json", "index.json", "oci-layout", "repositories"})
_SMALL_LIMIT = 64 << 20


@dataclass
class _Found:
    """What the tar held: JSON documents in memory, every other file as a blob."""

    small: dict[str, bytes]
    files: dict[str, Digest]  # archive path → blob
    links: dict[str, str]  # archive path → the path it points to
    kinds: dict[Digest, str]  # blob → compression detected from its first bytes
    created: set[Digest]  # blobs this load added to the store

    def blob(self, path: str, what: str) -> Digest:
        seen = set()
        name = _clean(path)
        while name in self.links and name not in seen:
            seen.add(name)
            name = self.links[name]
        digest = self.files.get(name)
        if digest is None:
            raise CorruptArchive(f"image archive: {what} {path!r} is not in the archive")
        return digest


def load(store: Store, stream: BinaryIO, on_tag: TagCallback | None = None) -> list[Image]:
    head, stream = comp.peek(stream)
    source = comp.decompressed(stream, comp.detect(head))
    found = _Found({}, {}, {}, {}, set())
    images: list[Image] = []
    try:
        with store.writing():
            _read(store, source, found)
            plans = _plan(store, found)
            for plan in plans:
                images.append(_install(store, plan, on_tag))
    except EOFError as err:
        _discard(store, found.created)
        raise CorruptArchive(f"image archive: truncated compressed stream: {err}") from err
    except comp.codec_errors() as err:
        _discard(store, found.created)
        raise CorruptArchive(f"image archive: corrupt compressed stream: {err}") from err
    except BaseException:
        _discard(store, found.created)
        raise
    finally:
        if source is not stream:
            source.close()
    _discard(store, found.created)  # blobs of the archive no image uses (other platforms, v1 files)
    return images


# --------------------------------------------------------------------------- reading


def _clean(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/")


def _read(store: Store, source: BinaryIO, found: _Found) -> None:
    reader = tf.TarReader(tf.StreamSource(source))
    token = secrets.token_hex(6)
    count = 0
    for entry in reader:
        name = _clean(entry.name)
        if entry.type == tf.SYM:
            found.links[name] = _clean(posixpath.join(posixpath.dirname(name), entry.linkname))
            continue
        if entry.type == tf.LNK:
            found.links[name] = _clean(entry.linkname)
            continue
        if not entry.is_regular:
            continue
        if name in _SMALL:
            if entry.size > _SMALL_LIMIT:
                raise CorruptArchive(f"image archive: {name} is {entry.size} bytes, too large")
            buf = bytearray()
            reader.read_into(entry, buf.extend)
            found.small[name] = bytes(buf)
            continue
        if name.endswith(("/json", "/VERSION")):
            continue  # Docker's v1 layer metadata: nothing reads it any more
        count += 1
        expected = _digest_from_path(name)
        desc = Descriptor("application/octet-stream", expected, entry.size) if expected else None
        try:
            writer = store.content.writer(f"load-{token}-{count}", desc)
        except AlreadyExists:
            assert expected is not None
            found.files[name] = expected
            continue
        with writer:
            head = bytearray()

            def write(chunk: memoryview, head: bytearray = head, sink: ContentWriter = writer) -> None:
                if len(head) < 8:
                    head.extend(chunk[: 8 - len(head)])
                sink.write(chunk)

            reader.read_into(entry, write)
            try:
                digest = writer.commit(entry.size, expected)
            except DigestMismatch as err:
                raise DigestMismatch(f"image archive: {name}: content does not match its name ({err})") from None
        found.files[name] = digest
        found.kinds[digest] = comp.detect(bytes(head))
        found.created.add(digest)


def _digest_from_path(name: str) -> Digest | None:
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        try:
            return Digest.parse(f"{parts[1]}:{parts[2]}")
        except InvalidArgument:
            raise CorruptArchive(f"image archive: {name}: not a valid blob name") from None
    return None


# --------------------------------------------------------------------------- resolving


@dataclass
class _Plan:
    manifest: Manifest
    manifest_bytes: bytes
    config: ImageConfig
    names: list[str]


def _plan(store: Store, found: _Found) -> list[_Plan]:
    if "manifest.json" in found.small:
        return _plan_docker(store, found)
    if "index.json" in found.small:
        return _plan_oci(store, found)
    if "repositories" in found.small:
        raise Unsupported("image archive: the format of Docker before 1.10 (no manifest.json) is not supported")
    raise CorruptArchive("image archive: no manifest.json or index.json — not an image archive")


def _json(found: _Found, name: str) -> Any:
    try:
        return json.loads(found.small[name])
    except ValueError as err:
        raise CorruptArchive(f"image archive: {name}: invalid JSON: {err}") from None


def _plan_docker(store: Store, found: _Found) -> list[_Plan]:
    items = _json(found, "manifest.json")
    if not isinstance(items, list):
        raise CorruptArchive("image archive: manifest.json: expected a list")
    oci = _oci_manifests(store, found) if "index.json" in found.small else {}
    plans = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("Config"), str) \
                or not isinstance(item.get("Layers", []), list):
            raise CorruptArchive(f"image archive: manifest.json[{i}]: expected Config and Layers")
        config_digest = found.blob(item["Config"], "config")
        config = _config(store, config_digest)
        layers = [found.blob(p, "layer") for p in item.get("Layers") or []]
        if len(layers) != len(config.diff_ids):
            raise CorruptArchive(f"image archive: manifest.json[{i}]: {len(layers)} layers, but the config "
                                 f"lists {len(config.diff_ids)}")
        names = [n for n in (item.get("RepoTags") or []) if isinstance(n, str)]
        kept = oci.get(config_digest)
        if kept is not None and [d.digest for d in kept[0].layers] == layers:
            plans.append(_Plan(kept[0], kept[1], config, names))
            continue
        plans.append(_synthesize(store, found, config_digest, config, layers, names))
    return plans


def _synthesize(store: Store, found: _Found, config_digest: Digest, config: ImageConfig,
                layers: list[Digest], names: list[str]) -> _Plan:
    """A manifest for a docker-save image that came without one (before Docker 25)."""
    kinds = [found.kinds.get(d) or _sniff(store, d) for d in layers]
    oci = comp.ZSTD in kinds
    layer_type = {
        comp.NONE: mt.OCI_LAYER if oci else mt.DOCKER_LAYER,
        comp.GZIP: mt.OCI_LAYER_GZIP if oci else mt.DOCKER_LAYER_GZIP,
        comp.ZSTD: mt.OCI_LAYER_ZSTD,
    }
    descs = []
    for digest, kind in zip(layers, kinds, strict=True):
        if kind not in layer_type:
            raise CorruptArchive(f"image archive: layer {digest} is {kind}-compressed, which layers cannot be")
        descs.append(Descriptor(layer_type[kind], digest, store.content.info(digest).size))
    config_size = store.content.info(config_digest).size
    manifest = Manifest(
        mt.OCI_MANIFEST if oci else mt.DOCKER_MANIFEST,
        Descriptor(mt.OCI_CONFIG if oci else mt.DOCKER_CONFIG, config_digest, config_size),
        tuple(descs),
    )
    return _Plan(manifest, manifest.to_bytes(), config, names)


def _sniff(store: Store, digest: Digest) -> str:
    with store.content.open(digest) as f:
        return comp.detect(f.read(8))


def _config(store: Store, digest: Digest) -> ImageConfig:
    try:
        return ImageConfig.from_bytes(read_blob(store.content, digest))
    except FieldError as err:
        raise CorruptArchive(f"image archive: config {digest}: {err}") from None


def _oci_manifests(store: Store, found: _Found) -> dict[Digest, tuple[Manifest, bytes]]:
    """The index's image manifests by config digest (best effort: Docker 25's index is
    a bonus next to manifest.json)."""
    out: dict[Digest, tuple[Manifest, bytes]] = {}
    try:
        for _names, manifest, data in _walk_index(store, found):
            out[manifest.config.digest] = (manifest, data)
    except BerthError:
        return {}
    return out


def _plan_oci(store: Store, found: _Found) -> list[_Plan]:
    plans: dict[Digest, _Plan] = {}
    present = set(found.files.values())
    for names, manifest, data in _walk_index(store, found):
        for desc in (manifest.config, *manifest.layers):
            if desc.digest not in present and not has_blob(store.content, desc.digest):
                raise CorruptArchive(f"image archive: manifest names blob {desc.digest}, which is not in the archive")
        config = _config(store, manifest.config.digest)
        if len(manifest.layers) != len(config.diff_ids):
            raise CorruptArchive(f"image archive: manifest has {len(manifest.layers)} layers, its config "
                                 f"{len(config.diff_ids)}")
        plan = plans.setdefault(manifest.config.digest, _Plan(manifest, data, config, []))
        plan.names.extend(n for n in names if n not in plan.names)
    return list(plans.values())


def _walk_index(store: Store, found: _Found) -> list[tuple[list[str], Manifest, bytes]]:
    try:
        index = Index.from_bytes(found.small["index.json"])
    except FieldError as err:
        raise CorruptArchive(f"image archive: index.json: {err}") from None
    out = []
    for desc in index.manifests:
        names = _names(desc)
        chosen = desc
        for _ in range(4):  # a nested index: pick the host's platform
            if chosen.media_type not in mt.INDEX_TYPES:
                break
            nested = Index.from_bytes(_document(store, chosen.digest, "index"), chosen.media_type)
            try:
                chosen = nested.select(Platform.host())
            except InvalidArgument as err:
                raise Unsupported(f"image archive: {err}") from None
        data = _document(store, chosen.digest, "manifest")
        try:
            manifest = Manifest.from_bytes(data, chosen.media_type if chosen.media_type in mt.MANIFEST_TYPES
                                           else sniff_media_type(data))
        except FieldError as err:
            raise CorruptArchive(f"image archive: manifest {chosen.digest}: {err}") from None
        out.append((names, manifest, data))
    return out


def _document(store: Store, digest: Digest, what: str) -> bytes:
    try:
        return read_blob(store.content, digest)
    except NotFound:
        raise CorruptArchive(f"image archive: the index names {what} {digest}, which is not in the archive") from None


def _names(desc: Descriptor) -> list[str]:
    full = desc.annotations.get("io.containerd.image.name")
    short = desc.annotations.get("org.opencontainers.image.ref.name")
    for candidate in (full, short):
        if not candidate:
            continue
        # A bare ref.name ("latest") is only a tag: without a repository it names nothing.
        if candidate is short and ":" not in candidate and "/" not in candidate:
            continue
        try:
            ref = Reference.parse(candidate)
        except InvalidArgument:
            continue
        if ref.digest is None:
            return [str(ref)]
    return []


# --------------------------------------------------------------------------- installing


def _install(store: Store, plan: _Plan, on_tag: TagCallback | None) -> Image:
    manifest_digest = Digest.from_bytes(plan.manifest_bytes)
    write_blob(store.content, f"manifest-{manifest_digest}", plan.manifest_bytes,
               Descriptor(plan.manifest.media_type, manifest_digest, len(plan.manifest_bytes)))
    sizes = store.unpack(plan.manifest.layers, plan.config.diff_ids)
    image_id = store.images.record(plan.manifest, manifest_digest, len(plan.manifest_bytes), plan.config, sizes)
    for name in plan.names:
        normalised, previous = store.images.tag(image_id, name)
        if on_tag is not None:
            on_tag(normalised, image_id, previous)
    if not plan.names and on_tag is not None:
        on_tag("", image_id, None)
    return store.images.get(str(image_id))


def _discard(store: Store, created: set[Digest]) -> None:
    """Remove blobs this load wrote that no image uses — only if no other writer is
    at work (its blobs might be among them); otherwise prune will."""
    if not created:
        return
    with store.exclusive(wait=False) as alone:
        if alone:
            for digest in created:
                if not _referenced(store, digest):
                    forget_blob(store, digest)


def _referenced(store: Store, digest: Digest) -> bool:
    row = store.db.conn.execute(
        "SELECT 1 FROM images WHERE id = ? OR manifest_digest = ?"
        " UNION SELECT 1 FROM image_layers WHERE blob = ? LIMIT 1",
        (str(digest), str(digest), str(digest))).fetchone()
    return row is not None
