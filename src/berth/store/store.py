"""The store: content, snapshots and images of one berth root, and the operations that
span them (unpack, prepare a container's root, commit, save/load/import, gc, check).

On disk (DESIGN.md)::

    $BERTH_ROOT/content/blobs/sha256/<hex>    blobs (OCI layout); content/ingest/ in-progress
    $BERTH_ROOT/snapshots/<id>/fs             unpacked layers and container upper folders
    $BERTH_ROOT/store.lock                    writers share it; gc takes it alone
    $BERTH_ROOT/berth.db                      images, tags, snapshots (migrations/images)

Concurrency and crashes. Everything that adds content (load, import, commit, unpack)
holds ``store.lock`` shared; the garbage collector holds it exclusively, so it never
deletes a blob another process has written but not yet recorded. Blobs are verified
before they are renamed into place, layer folders are unpacked under an ``extract-``
snapshot and committed (a row update) only once complete and synced, and image rows
are written last. So a process killed at any point leaves only temp files, ingests and
unused (but complete) blobs and layers; the next writer sweeps the temp files, ``system
prune`` reclaims the rest.

Importing this module stays cheap: tar, codecs and JSON-heavy archive code load on use.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, BinaryIO

from berth.errors import AlreadyExists, DigestMismatch, NotFound, Unsupported
from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest
from berth.oci.image import ContainerConfig, chain_ids
from berth.oci.mount import Mount
from berth.state.db import Database
from berth.store.content.local import LocalContentStore
from berth.store.images import IMAGE_LABEL, Action, Image, ImageStore
from berth.store.snapshots.copy import CopySnapshotter
from berth.store.snapshots.overlay import OverlaySnapshotter

if TYPE_CHECKING:
    from berth.store.archive.load import TagCallback
    from berth.store.check import CheckReport
    from berth.store.gc import GcResult
    from berth.store.usage import UsageRow

log = logging.getLogger(__name__)

# Labels of a committed layer snapshot: what unpacking it produced, for `system check`.
LAYER_DIFF_ID = "berth.layer.diff-id"
LAYER_SIZE = "berth.layer.size"  # bytes of file content in the layer tar
LAYER_FILES = "berth.layer.files"  # inodes in the folder after unpacking
LAYER_BYTES = "berth.layer.bytes"  # bytes of regular files in the folder
EXTRACT_PREFIX = "extract-"  # keys of snapshots being unpacked
GC_ROOT = "berth.gc.root"  # a snapshot label that keeps it (and its parents) from gc

SNAPSHOTTER_SETTING = "store.snapshotter"
INGEST_MAX_AGE = 3600.0  # an abandoned ingest older than this goes at the next write


class Store:
    def __init__(self, root: str, db: Database, snapshotter: str | None = None, *, durable: bool = True) -> None:
        self.root = root
        self.db = db
        self.durable = durable
        self.content = LocalContentStore(os.path.join(root, "content"))
        self.snapshots: OverlaySnapshotter | CopySnapshotter = _snapshotter(root, db, snapshotter)
        self.images = ImageStore(db, self.content, after_delete=self._collect_quietly)
        self._swept = False

    # ----------------------------------------------------------------- locking

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the store lock shared while adding content; sweeps crash leftovers the
        first time in this process."""
        fd = self._lock_fd()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            if not self._swept:
                self._swept = True
                self.content.sweep(older_than=INGEST_MAX_AGE)
                self.snapshots.tree.sweep()
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def exclusive(self, wait: bool = True) -> Iterator[bool]:
        """Hold the store lock alone (gc, check --repair). Yields False when ``wait`` is
        False and someone else holds it."""
        fd = self._lock_fd()
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def _lock_fd(self) -> int:
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        return os.open(os.path.join(self.root, "store.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    # ----------------------------------------------------------------- layers

    def unpack(self, layers: Sequence[Descriptor], diff_ids: Sequence[Digest]) -> list[int]:
        """Make sure every layer has its committed snapshot (keyed by chain ID),
        unpacking the missing ones from their blobs. Returns each layer's content size.
        Raises DigestMismatch when a blob does not unpack to its diff ID."""
        if len(layers) != len(diff_ids):
            raise DigestMismatch(f"image: {len(layers)} layers but {len(diff_ids)} diff IDs in the config")
        sizes = []
        chains = chain_ids(list(diff_ids))
        with self.writing():
            for i, (desc, diff_id) in enumerate(zip(layers, diff_ids, strict=True)):
                parent = str(chains[i - 1]) if i else None
                sizes.append(self._unpack_one(desc, diff_id, str(chains[i]), parent))
        return sizes

    def _unpack_one(self, desc: Descriptor, diff_id: Digest, chain: str, parent: str | None) -> int:
        try:
            return int(self.snapshots.stat(chain).labels.get(LAYER_SIZE, "0"))
        except NotFound:
            pass
        from berth.store import layers

        key = f"{EXTRACT_PREFIX}{secrets.token_hex(6)} {chain}"
        self.snapshots.prepare(key, parent, {"berth.extract": "1"})
        try:
            layout = self.snapshots.layout(key)
            compression = mt.layer_compression(desc.media_type)
            verified = compression == "none" and desc.digest == diff_id  # the content store checked it
            with self.content.open(desc.digest) as blob:
                result = layers.apply(blob, layout.upper, "auto", mode=layout.whiteouts,
                                      lowers=layout.lowers, hash=not verified)
            if result.diff_id is not None and result.diff_id != diff_id:
                raise DigestMismatch(f"layer {desc.digest}: unpacks to {result.diff_id}, the config says {diff_id}")
            usage = self.snapshots.usage(key)
            if self.durable:
                from berth.sys.fs import syncfs

                syncfs(layout.upper)
            labels = {LAYER_DIFF_ID: str(diff_id), LAYER_SIZE: str(result.size),
                      LAYER_FILES: str(usage.inodes), LAYER_BYTES: str(usage.size)}
            try:
                self.snapshots.commit(chain, key, labels)
            except AlreadyExists:  # another process unpacked the same layer meanwhile
                self.snapshots.remove(key)
            return result.size
        except BaseException:
            with contextlib.suppress(NotFound):
                self.snapshots.remove(key)
            raise

    def ensure_unpacked(self, image: Image) -> None:
        layers = [Descriptor(layer.media_type, layer.blob, layer.blob_size) for layer in image.layers]
        self.unpack(layers, [layer.diff_id for layer in image.layers])

    # ----------------------------------------------------------------- containers

    def prepare_rootfs(self, key: str, image: Image, labels: dict[str, str] | None = None) -> list[Mount]:
        """An active snapshot for a container's root: the image's layers as shared
        read-only lowers, and a folder of its own on top. The cost does not depend on
        how many layers the image has; missing layers are unpacked first."""
        all_labels = {**(labels or {}), IMAGE_LABEL: str(image.id)}
        parent = str(image.top_chain_id) if image.top_chain_id else None
        try:
            return self.snapshots.prepare(key, parent, all_labels)
        except NotFound:
            if parent is None:
                raise
        self.ensure_unpacked(image)
        return self.snapshots.prepare(key, parent, all_labels)

    def diff(self, key: str) -> list[tuple[str, str]]:
        """``docker diff``: what the active snapshot ``key`` changed, as (A|C|D, path)."""
        from berth.store.layers import changes

        layout = self.snapshots.layout(key)
        return changes(layout.upper, layout.lowers, kind="overlay" if layout.whiteouts == "overlay" else "trees")

    def commit(self, key: str, base: Image | None, config: ContainerConfig, *, comment: str = "",
               author: str = "", created_by: str = "", changes: Sequence[str] = (),
               empty_layer: bool = False) -> Image:
        """``docker commit``: the changes of snapshot ``key`` as a new gzip layer on top
        of ``base``, with ``config`` (then ``changes``, Dockerfile-like) as its config.
        ``empty_layer`` records a history entry without a layer (metadata-only build
        steps). The new image is untagged."""
        from berth.store.commit import commit_snapshot

        return commit_snapshot(self, key, base, config, comment=comment, author=author,
                               created_by=created_by, changes=changes, empty_layer=empty_layer)

    # ----------------------------------------------------------------- archives

    def import_tar(self, stream: BinaryIO, ref: str | None = None, changes: Sequence[str] = (), *,
                   message: str = "", source: str = "-", platform: str | None = None) -> Image:
        """``docker import``: a root file system tarball (any compression) as a
        one-layer image, its config built from ``changes`` (``CMD ["sh"]``, ``ENV a=b``…)."""
        from berth.store.archive.importer import import_tar

        return import_tar(self, stream, ref, changes, message=message, source=source, platform=platform)

    def save(self, refs: Sequence[str], out: BinaryIO) -> None:
        """``docker save``: images to a tar in docker-save format (manifest.json,
        repositories) that is also an OCI image layout (index.json, oci-layout, blobs/)."""
        from berth.store.archive.save import save

        save(self, refs, out)

    def load(self, stream: BinaryIO, *, on_tag: TagCallback | None = None) -> list[Image]:
        """``docker load``: docker-save tars (legacy and OCI-style) and OCI layout tars,
        plain or compressed. Returns the images, tagged as the archive names them;
        ``on_tag(name, image_id, previous_id)`` hears of each tag as it is set (name ""
        for an image the archive does not name)."""
        from berth.store.archive.load import load

        return load(self, stream, on_tag=on_tag)

    # ----------------------------------------------------------------- upkeep

    def gc(self, *, wait: bool = True) -> GcResult:
        """Remove blobs and layer snapshots no image, container or gc root needs."""
        from berth.store.gc import collect

        return collect(self, wait=wait)

    def _collect_quietly(self) -> list[Action]:
        result = self.gc(wait=False)
        return [("Deleted", chain) for chain in result.snapshots if chain.startswith("sha256:")]

    def check(self, repair: bool = False) -> CheckReport:
        from berth.store.check import check

        return check(self, repair=repair)

    def disk_usage(self) -> list[UsageRow]:
        from berth.store.usage import store_rows

        return store_rows(self)


def _snapshotter(root: str, db: Database, wanted: str | None) -> OverlaySnapshotter | CopySnapshotter:
    folder = os.path.join(root, "snapshots")
    wanted = wanted or os.environ.get("BERTH_SNAPSHOTTER") or None
    row = db.conn.execute("SELECT value FROM settings WHERE key = ?", (SNAPSHOTTER_SETTING,)).fetchone()
    recorded = row[0] if row else None
    if wanted and recorded and wanted != recorded:
        has_snapshots = db.conn.execute("SELECT 1 FROM snapshots LIMIT 1").fetchone() is not None
        if has_snapshots:
            raise Unsupported(f"store {root}: made with the {recorded} snapshotter, cannot switch to {wanted} "
                              f"while it holds snapshots (remove them with `berth system prune -a`)")
    name = wanted or recorded or _probe(folder)
    if name not in ("overlay", "copy"):
        raise Unsupported(f"snapshotter {name!r}: unknown (overlay or copy)")
    if name != recorded:
        with db.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (SNAPSHOTTER_SETTING, name))
    if name == "overlay":
        return OverlaySnapshotter(folder, db)
    return CopySnapshotter(folder, db)


def _probe(folder: str) -> str:
    """overlay when this host can mount one over folders under ``folder``, else copy."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    if os.geteuid() != 0:
        reason: str | None = "overlay mounts need root until rootless support lands"
    else:
        import shutil
        import tempfile

        from berth.sys.overlay import overlay_unsupported_reason

        scratch = tempfile.mkdtemp(prefix=".tmp-probe-", dir=folder)
        try:
            reason = overlay_unsupported_reason(scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if reason is None:
        return "overlay"
    log.warning("overlayfs is not usable here (%s): using the copying snapshotter, "
                "which copies an image's files for every container", reason)
    return "copy"


def open_store(root: str, db: Database, snapshotter: str | None = None) -> Store:
    """The store of ``root``. Cheap: opens the database and reads one setting (the
    first time on a new root it probes overlayfs support and records the result)."""
    return Store(root, db, snapshotter)


def now_rfc3339() -> str:
    """A timestamp the way image configs carry them: ``2024-05-01T12:00:00.123456Z``."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"
