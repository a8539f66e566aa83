"""``berth system check``: verify the store against itself.

Checked: the database's integrity; every blob against its digest; every snapshot row
against its folder and every folder against a row; every unpacked layer against what
unpacking it produced (file count and bytes, recorded as labels); every image against
its config, manifest and layer blobs and its layer snapshots.

Always done (these are crash debris, not damage): abandoned ingests, temp folders and
stale ``extract-`` snapshots are removed. With ``repair``: corrupt blobs, orphaned
folders and rows, and changed layer snapshots are removed (a layer whose blob is still
here is unpacked again), and images whose blobs are gone are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from berth.errors import BerthError, Conflict, NotFound
from berth.oci.digest import Digest
from berth.store.content.api import has_blob, read_blob
from berth.store.snapshots.api import Kind
from berth.store.snapshots.tree import usage

if TYPE_CHECKING:
    from berth.store.store import Store


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # "problem", "cleaned" or "note"
    subject: str
    message: str
    repaired: bool = False


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    blobs: int = 0
    snapshots: int = 0
    images: int = 0

    @property
    def problems(self) -> list[Finding]:
        """Problems still there (not repaired)."""
        return [f for f in self.findings if f.kind == "problem" and not f.repaired]

    def add(self, kind: str, subject: str, message: str, repaired: bool = False) -> None:
        self.findings.append(Finding(kind, subject, message, repaired))


def check(store: Store, repair: bool = False) -> CheckReport:
    report = CheckReport()
    with store.exclusive():
        _debris(store, report)
        _database(store, report)
        corrupt = _blobs(store, report, repair)
        _snapshots(store, report, repair)
        _images(store, report, repair, corrupt)
        _reclaimable(store, report)
    return report


def _debris(store: Store, report: CheckReport) -> None:
    from berth.store.store import EXTRACT_PREFIX

    if n := store.content.sweep(older_than=0):
        report.add("cleaned", "content", f"removed {n} abandoned ingest(s)")
    if n := store.snapshots.tree.sweep():
        report.add("cleaned", "snapshots", f"removed {n} temp folder(s)")
    for info in list(store.snapshots.walk()):
        if info.key.startswith(EXTRACT_PREFIX) and info.kind is Kind.ACTIVE:
            with contextlib.suppress(BerthError):
                store.snapshots.remove(info.key)
                report.add("cleaned", info.key, "removed an unpacking that never finished")


def _database(store: Store, report: CheckReport) -> None:
    rows = [r[0] for r in store.db.conn.execute("PRAGMA quick_check")]
    if rows != ["ok"]:
        report.add("problem", "berth.db", "; ".join(rows[:5]))


def _blobs(store: Store, report: CheckReport, repair: bool) -> set[Digest]:
    corrupt = set()
    for info in list(store.content.walk()):
        report.blobs += 1
        h = hashlib.new(info.digest.algorithm)
        with store.content.open(info.digest) as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        if h.hexdigest() != info.digest.encoded:
            corrupt.add(info.digest)
            if repair:
                store.content.delete(info.digest)
            report.add("problem", str(info.digest), "content does not match its digest", repair)
    for path in store.content.stray_files():
        if repair:
            with contextlib.suppress(OSError):
                os.unlink(path)
        report.add("problem", path, "a file in blobs/ that is not named by a digest", repair)
    return corrupt


def _snapshots(store: Store, report: CheckReport, repair: bool) -> None:
    from berth.store.store import LAYER_BYTES, LAYER_FILES

    tree = store.snapshots.tree
    for path in tree.orphan_folders():
        if repair:
            tree.discard_folder(int(os.path.basename(path)))
        report.add("problem", path, "snapshot folder without a database row", repair)
    for info in list(store.snapshots.walk()):
        report.snapshots += 1
        fs = tree.fs(info.id)
        if not os.path.isdir(fs):
            fixed = repair and _drop(store, info.key)
            report.add("problem", info.key, f"snapshot folder {fs} is missing", fixed)
            continue
        if info.kind is not Kind.COMMITTED or not info.key.startswith("sha256:"):
            continue
        if LAYER_FILES not in info.labels:
            fixed = repair and _drop(store, info.key)
            report.add("problem", info.key, "layer snapshot without a record of what was unpacked", fixed)
            continue
        have = usage(fs)
        want_files, want_bytes = int(info.labels[LAYER_FILES]), int(info.labels.get(LAYER_BYTES, "0"))
        if (have.inodes, have.size) != (want_files, want_bytes):
            fixed = repair and _drop(store, info.key)
            report.add("problem", info.key, f"layer folder changed since it was unpacked: {have.inodes} "
                       f"entries and {have.size} bytes, expected {want_files} and {want_bytes}", fixed)


def _drop(store: Store, key: str) -> bool:
    """Remove a snapshot and the committed snapshots built on it (not containers')."""
    tree = store.snapshots.tree
    try:
        row = tree.get(key)
    except NotFound:
        return True
    for child in tree.children(row.id):
        if tree.get(child).kind is not Kind.COMMITTED or not _drop(store, child):
            return False
    try:
        store.snapshots.remove(key)
    except Conflict:
        return False
    return True


def _images(store: Store, report: CheckReport, repair: bool, corrupt: set[Digest]) -> None:
    for image in _image_rows(store):
        report.images += 1
        image_id, manifest_digest = image
        name = _label(store, image_id)
        missing = [d for d in (image_id, manifest_digest, *_layer_blobs(store, image_id))
                   if d in corrupt or not has_blob(store.content, d)]
        if missing:
            fixed = False
            if repair:
                with contextlib.suppress(BerthError):
                    store.images.remove(str(image_id), force=True, prune=False)
                    fixed = True
            report.add("problem", name, f"blob(s) missing: {', '.join(d.short for d in missing)}"
                       + (" — image removed" if fixed else " — load or pull it again"), fixed)
            continue
        try:
            read_blob(store.content, image_id)
            img = store.images.get(str(image_id))
        except BerthError as err:
            report.add("problem", name, f"unreadable: {err}")
            continue
        lost = [c for c in img.chain_ids if store.snapshots.tree.find(str(c)) is None]
        if lost:
            fixed = False
            if repair:
                with contextlib.suppress(BerthError):
                    store.ensure_unpacked(img)
                    fixed = True
            report.add("problem", name, f"{len(lost)} layer snapshot(s) missing"
                       + (" — unpacked again" if fixed else " (`--repair` unpacks them again)"), fixed)


def _image_rows(store: Store) -> list[tuple[Digest, Digest]]:
    return [(Digest.parse(r[0]), Digest.parse(r[1]))
            for r in store.db.conn.execute("SELECT id, manifest_digest FROM images").fetchall()]


def _layer_blobs(store: Store, image_id: Digest) -> list[Digest]:
    return [Digest.parse(r[0]) for r in store.db.conn.execute(
        "SELECT blob FROM image_layers WHERE image_id = ? ORDER BY position", (str(image_id),))]


def _label(store: Store, image_id: Digest) -> str:
    row = store.db.conn.execute("SELECT name FROM image_tags WHERE image_id = ? LIMIT 1",
                                (str(image_id),)).fetchone()
    from berth.store.images import familiar

    return f"{familiar(row[0])} ({image_id.short})" if row else image_id.short


def _reclaimable(store: Store, report: CheckReport) -> None:
    from berth.store.gc import kept_blobs, kept_snapshots

    keep = kept_snapshots(store)
    layers = [key for sid, key in store.db.conn.execute("SELECT id, key FROM snapshots") if sid not in keep]
    blobs = kept_blobs(store)
    unused = [info for info in store.content.walk() if info.digest not in blobs]
    if layers or unused:
        report.add("note", "store", f"{len(unused)} unused blob(s) ({sum(i.size for i in unused)} bytes) and "
                   f"{len(layers)} unused snapshot(s): `berth system prune` reclaims them")
