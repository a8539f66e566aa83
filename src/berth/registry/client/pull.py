"""``berth pull``: bring an image from a registry into the store.

The walk (``api.walk``) starts at the descriptor the reference resolves to: an index is
fetched and the platform's manifest chosen (``platforms.select``), a manifest gives the
config and the layers. The config comes first (its diff IDs verify the layers), then:

* every layer whose blob is missing is downloaded into the content store, a few at a
  time (``max_concurrent_downloads``, 3 like Docker), resumably (``fetch.download``);
* on this thread, layers are unpacked in order, each while its bytes arrive: the
  unpacker reads the blob's ingest as it grows (``fetch.FollowReader``), so the first
  layer is on disk before the last one has finished downloading, and a layer's
  decompression and unpacking overlap its own download instead of following it;
* a layer's snapshot is committed only once its blob's digest was verified (the
  download committed) and the unpacked tar hashed to the config's diff ID.

The image row is written last, so an interrupted pull leaves no image: only complete
blobs and layers, and the ingest of a half-downloaded blob, which the next pull resumes.
Everything happens under the store's shared lock, so ``prune`` never takes a blob a
pull has written but not yet recorded.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from berth.errors import AlreadyExists, DigestMismatch, ImageNotFound, InvalidArgument, NotFound
from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor, Platform
from berth.oci.digest import Digest
from berth.oci.image import ImageConfig, Index, Manifest, chain_ids
from berth.oci.jsonutil import FieldError
from berth.oci.reference import Reference
from berth.registry.client import platforms, sources
from berth.registry.client.api import walk
from berth.registry.client.fetch import FollowReader, Transfer, download
from berth.registry.client.progress import Progress, QuietProgress
from berth.store.content.api import read_blob, write_blob
from berth.store.images import Image

if TYPE_CHECKING:
    from berth.registry.client.resolver import RegistryResolver
    from berth.registry.client.session import Session
    from berth.store.store import Store

CONFIG_LIMIT = 16 << 20
TICK_INTERVAL = 0.1


@dataclass(frozen=True, slots=True)
class PullOptions:
    platform: Platform | None = None  # None: the host's
    max_concurrent_downloads: int = 3


@dataclass(frozen=True, slots=True)
class PullResult:
    reference: Reference
    image: Image
    digest: Digest  # what the reference resolved to: the index's or the manifest's digest
    manifest_digest: Digest
    downloaded: bool  # something new came (bytes, or the tag moved)


def pull(store: Store, session: Session, ref: Reference, options: PullOptions = PullOptions(),
         progress: Progress | None = None) -> PullResult:
    from berth.registry.client.resolver import RegistryResolver

    progress = progress or QuietProgress()
    resolver = RegistryResolver(session, ("pull",))
    progress.message(f"{ref.tag or ref.digest}: Pulling from {ref.path}")
    _name, top = resolver.resolve(ref)
    want = options.platform or Platform.host()
    manifest_desc, manifest_bytes, manifest = _choose_manifest(resolver, ref, top, want)
    with store.writing():
        config_bytes = _config(store, resolver, ref, manifest.config)
        try:
            config = ImageConfig.from_bytes(config_bytes)
        except FieldError as err:
            raise InvalidArgument(f"image config {manifest.config.digest}: {err}") from None
        if options.platform is not None and top.media_type not in mt.INDEX_TYPES:
            actual = Platform(config.os, config.architecture, config.variant)
            if platforms.rank(want, actual) is None:
                raise NotFound(f"image with reference {ref.familiar()} was found but does not match the specified "
                               f"platform: wanted {want}, actual: {actual}")
        layers = [d for d in manifest.layers]
        if len(layers) != len(config.diff_ids):
            raise InvalidArgument(f"manifest {manifest_desc.digest}: {len(layers)} layers, but its config lists "
                                  f"{len(config.diff_ids)}")
        before = _current(store, ref)
        write_blob(store.content, f"manifest-{manifest_desc.digest}", manifest_bytes, manifest_desc)
        sizes, fetched = _layers(store, resolver, ref, layers, config.diff_ids, options, progress)
        image_id = store.images.record(manifest, manifest_desc.digest, len(manifest_bytes), config, sizes)
        if ref.tag is not None:
            store.images.tag(image_id, str(ref))
        store.images.add_digest(image_id, ref.repository, top.digest)
    sources.remember(store.db, ref.domain, ref.path, [manifest.config.digest, *(d.digest for d in layers)])
    downloaded = fetched or before != image_id
    progress.message(f"Digest: {top.digest}")
    status = "Downloaded newer image" if downloaded else "Image is up to date"
    progress.message(f"Status: {status} for {ref.familiar()}")
    return PullResult(ref, store.images.get(str(image_id)), top.digest, manifest_desc.digest, downloaded)


def _current(store: Store, ref: Reference) -> Digest | None:
    try:
        return store.images.resolve(str(ref))
    except NotFound:
        return None


def _choose_manifest(resolver: RegistryResolver, ref: Reference, top: Descriptor,
                     want: Platform) -> tuple[Descriptor, bytes, Manifest]:
    """Walk from ``top`` through indexes to the manifest for ``want``."""
    found: list[tuple[Descriptor, bytes]] = []

    def handler(desc: Descriptor) -> list[Descriptor]:
        data = resolver.fetch_document(ref, desc)
        if desc.media_type in mt.INDEX_TYPES:
            try:
                index = Index.from_bytes(data, desc.media_type)
            except FieldError as err:
                raise InvalidArgument(f"image index {desc.digest}: {err}") from None
            return [platforms.select(index, want)]
        if desc.media_type in mt.MANIFEST_TYPES:
            found.append((desc, data))
            return []
        raise InvalidArgument(f"{ref.familiar()}: {desc.media_type} is not an image manifest or index")

    depth = 0

    def bounded(desc: Descriptor) -> list[Descriptor]:
        nonlocal depth
        depth += 1
        if depth > 8:
            raise InvalidArgument(f"{ref.familiar()}: image indexes nested too deep")
        return handler(desc)

    walk(bounded, top)
    if not found:
        raise ImageNotFound(f"{ref.familiar()}: no image manifest found")
    desc, data = found[0]
    try:
        manifest = Manifest.from_bytes(data, desc.media_type)
    except FieldError as err:
        raise InvalidArgument(f"manifest {desc.digest}: {err}") from None
    return desc, data, manifest


def _config(store: Store, resolver: RegistryResolver, ref: Reference, desc: Descriptor) -> bytes:
    try:
        return read_blob(store.content, desc.digest, CONFIG_LIMIT)
    except NotFound:
        pass
    if desc.size > CONFIG_LIMIT:
        raise InvalidArgument(f"image config {desc.digest}: {desc.size} bytes is too large")
    with contextlib.closing(resolver.fetch(ref, desc)) as stream:
        data = stream.read(desc.size + 1)
        while len(data) <= desc.size and (more := stream.read(desc.size + 1 - len(data))):
            data += more
    if len(data) != desc.size or Digest.from_bytes(data) != desc.digest:
        raise DigestMismatch(f"image config {desc.digest}: content does not match its descriptor")
    write_blob(store.content, f"config-{desc.digest}", data, desc)
    return data


# --------------------------------------------------------------------------- layers


class _Ticker:
    """Transfer ticks for one layer, at most every TICK_INTERVAL seconds."""

    def __init__(self, progress: Progress, ident: str, action: str, total: int) -> None:
        self._progress, self._ident, self._action, self._total = progress, ident, action, total
        self._last = 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self._last >= TICK_INTERVAL or done >= self._total:
            self._last = now
            self._progress.transfer(self._ident, self._action, done, self._total)


def _layers(store: Store, resolver: RegistryResolver, ref: Reference, layers: Sequence[Descriptor],
            diff_ids: Sequence[Digest], options: PullOptions,
            progress: Progress) -> tuple[list[int], bool]:
    from berth.store.store import LAYER_SIZE

    chains = chain_ids(list(diff_ids))
    sizes: list[int | None] = [None] * len(layers)
    work: list[int] = []
    for i, desc in enumerate(layers):
        snapshot = _committed(store, str(chains[i]))
        if snapshot is not None and _has_blob(store, desc.digest):
            sizes[i] = int(snapshot.get(LAYER_SIZE, "0"))
            progress.status(desc.digest.short, "Already exists")
        else:
            work.append(i)
            progress.status(desc.digest.short, "Pulling fs layer")
    if not work:
        return [s or 0 for s in sizes], False
    transfers = {i: Transfer(layers[i]) for i in work}
    cancel = threading.Event()
    fetched = False
    pool = ThreadPoolExecutor(max_workers=max(1, options.max_concurrent_downloads),
                              thread_name_prefix="pull")
    futures: dict[int, Future[bool]] = {}
    try:
        for i in work:
            futures[i] = pool.submit(_download_one, resolver, ref, store, transfers[i], progress, cancel)
        for i in work:
            desc, transfer = layers[i], transfers[i]
            ident = desc.digest.short
            parent = str(chains[i - 1]) if i else None
            stream = _layer_stream(store, transfer, progress, ident)
            try:
                sizes[i] = unpack_layer(store, desc, diff_ids[i], str(chains[i]), parent, stream,
                                        transfer.wait_done)
            finally:
                stream.close()
            fetched = futures[i].result() or fetched
            progress.status(ident, "Pull complete")
    except BaseException:
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        for transfer in transfers.values():
            if transfer.reader is not None:
                transfer.reader.close()
    return [s or 0 for s in sizes], fetched


def _download_one(resolver: RegistryResolver, ref: Reference, store: Store, transfer: Transfer,
                  progress: Progress, cancel: threading.Event) -> bool:
    desc = transfer.desc
    ident = desc.digest.short
    if cancel.is_set():
        transfer.finish(InterruptedError("pull cancelled"))
        return False
    fetched = download(resolver, ref, desc, store.content, transfer,
                       _Ticker(progress, ident, "Downloading", desc.size), cancel)
    if fetched:
        progress.status(ident, "Verifying Checksum")
    progress.status(ident, "Download complete")
    return fetched


def _layer_stream(store: Store, transfer: Transfer, progress: Progress, ident: str) -> BinaryIO:
    """What the unpacker reads: the growing ingest, or the stored blob when the store
    keeps ingests elsewhere than in files."""
    transfer.wait_started()
    ticker = _Ticker(progress, ident, "Extracting", transfer.desc.size)

    def on_read(pos: int) -> None:
        if transfer.done:  # while the download runs, its own ticks tell the story
            ticker(pos)

    if transfer.reader is None:
        transfer.wait_done()
        return store.content.open(transfer.desc.digest)
    return io.BufferedReader(FollowReader(transfer, on_read), 1 << 20)


def _committed(store: Store, chain: str) -> dict[str, str] | None:
    try:
        return store.snapshots.stat(chain).labels
    except NotFound:
        return None


def _has_blob(store: Store, digest: Digest) -> bool:
    try:
        store.content.info(digest)
    except NotFound:
        return False
    return True


def unpack_layer(store: Store, desc: Descriptor, diff_id: Digest, chain: str, parent: str | None,
                 stream: BinaryIO, verified: Callable[[], None] | None = None) -> int:
    """Unpack a layer from ``stream`` into the committed snapshot ``chain`` (on top of
    ``parent``), as ``Store.unpack`` does from a stored blob. ``verified()`` must return
    once the blob's digest has been checked (it raises if it failed). Returns the
    layer's content size."""
    from berth.store import layers as layer_archive
    from berth.store.store import EXTRACT_PREFIX, LAYER_BYTES, LAYER_DIFF_ID, LAYER_FILES, LAYER_SIZE

    existing = _committed(store, chain)
    if existing is not None:
        if verified is not None:
            verified()
        return int(existing.get(LAYER_SIZE, "0"))
    key = f"{EXTRACT_PREFIX}{secrets.token_hex(6)} {chain}"
    store.snapshots.prepare(key, parent, {"berth.extract": "1"})
    try:
        layout = store.snapshots.layout(key)
        compression = mt.layer_compression(desc.media_type)
        result = layer_archive.apply(stream, layout.upper, compression if compression != "none" else "auto",
                                     mode=layout.whiteouts, lowers=layout.lowers, hash=True)
        if verified is not None:
            verified()
        if result.diff_id != diff_id:
            raise DigestMismatch(f"layer {desc.digest}: unpacks to {result.diff_id}, the config says {diff_id}")
        usage = store.snapshots.usage(key)
        if store.durable:
            os.sync()  # the store uses syncfs(2) of the layer's file system; only berth.sys may call it
        labels = {LAYER_DIFF_ID: str(diff_id), LAYER_SIZE: str(result.size),
                  LAYER_FILES: str(usage.inodes), LAYER_BYTES: str(usage.size)}
        try:
            store.snapshots.commit(chain, key, labels)
        except AlreadyExists:  # another process unpacked the same layer meanwhile
            store.snapshots.remove(key)
        return result.size
    except BaseException:
        with contextlib.suppress(NotFound):
            store.snapshots.remove(key)
        raise
