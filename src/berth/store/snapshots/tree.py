"""The part every snapshotter shares: rows in the ``snapshots`` table and their folders.

Layout::

    <root>/<id>/fs        the snapshot's own files (an overlay upper, or a whole tree)
    <root>/<id>/work      overlayfs' work folder (active overlay snapshots only)
    <root>/.tmp-*         a snapshot being created or removed; a live one is flock'ed

Ids are small integers so that overlay mount options stay short.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from berth.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from berth.state.db import Database
from berth.store.snapshots.api import Kind, Labels, SnapshotInfo, Usage
from berth.sys.fs import remove_tree, temp_name

_SELECT = (
    "SELECT s.id, s.key, s.kind, s.parent, p.key AS parent_key, s.labels, s.created, s.updated"
    " FROM snapshots s LEFT JOIN snapshots p ON p.id = s.parent"
)


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    key: str
    kind: Kind
    parent: int | None
    parent_key: str | None
    labels: dict[str, str]
    created: float
    updated: float

    @classmethod
    def of(cls, r: sqlite3.Row) -> Row:
        return cls(r["id"], r["key"], Kind(r["kind"]), r["parent"], r["parent_key"],
                   json.loads(r["labels"]), r["created"], r["updated"])

    def info(self) -> SnapshotInfo:
        return SnapshotInfo(self.key, self.kind, self.parent_key, self.id, self.created, self.updated,
                            dict(self.labels))


class SnapshotTree:
    def __init__(self, root: str, db: Database) -> None:
        self.root = root
        self.db = db

    def folder(self, snapshot_id: int) -> str:
        return f"{self.root}/{snapshot_id}"

    def fs(self, snapshot_id: int) -> str:
        return f"{self.root}/{snapshot_id}/fs"

    # ----------------------------------------------------------------- queries

    def get(self, key: str, conn: sqlite3.Connection | None = None) -> Row:
        row = (conn or self.db.conn).execute(_SELECT + " WHERE s.key = ?", (key,)).fetchone()
        if row is None:
            raise NotFound(f"snapshot {key}: not found")
        return Row.of(row)

    def find(self, key: str) -> Row | None:
        row = self.db.conn.execute(_SELECT + " WHERE s.key = ?", (key,)).fetchone()
        return Row.of(row) if row is not None else None

    def chain(self, snapshot_id: int | None) -> list[int]:
        """``snapshot_id`` and its ancestors, nearest first."""
        if snapshot_id is None:
            return []
        rows = self.db.conn.execute(
            "WITH RECURSIVE chain(id, parent, depth) AS ("
            " SELECT id, parent, 0 FROM snapshots WHERE id = ?"
            " UNION ALL SELECT s.id, s.parent, c.depth + 1 FROM snapshots s JOIN chain c ON s.id = c.parent)"
            " SELECT id FROM chain ORDER BY depth",
            (snapshot_id,),
        ).fetchall()
        return [r[0] for r in rows]

    def walk(self) -> Iterator[SnapshotInfo]:
        for r in self.db.conn.execute(_SELECT + " ORDER BY s.id").fetchall():
            yield Row.of(r).info()

    def children(self, snapshot_id: int, conn: sqlite3.Connection | None = None) -> list[str]:
        rows = (conn or self.db.conn).execute("SELECT key FROM snapshots WHERE parent = ?", (snapshot_id,))
        return [r[0] for r in rows]

    # ----------------------------------------------------------------- changes

    def create(self, key: str, kind: Kind, parent: str | None, labels: Labels | None,
               fill: Callable[[str, Row | None], None]) -> Row:
        """Make the folder under a locked temp name, let ``fill(folder, parent_row)``
        populate it, then insert the row and rename the folder to its id in one
        transaction."""
        if not key:
            raise InvalidArgument("snapshot: empty key")
        parent_row = self._committed_parent(parent) if parent is not None else None
        folder = temp_name(self.root)
        os.mkdir(folder, 0o700)
        lock = _lock(folder)
        tmp: str | None = folder
        try:
            fill(folder, parent_row)
            now = time.time()
            with self.db.transaction() as conn:
                if conn.execute("SELECT 1 FROM snapshots WHERE key = ?", (key,)).fetchone():
                    raise AlreadyExists(f"snapshot {key}: already exists")
                if parent is not None:
                    parent_row = self._committed_parent(parent, conn)
                cur = conn.execute(
                    "INSERT INTO snapshots (key, kind, parent, labels, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
                    (key, kind.value, parent_row.id if parent_row else None, json.dumps(dict(labels or {})),
                     now, now),
                )
                snapshot_id = int(cur.lastrowid or 0)
                final = self.folder(snapshot_id)
                if os.path.lexists(final):
                    # A crash after a rename but before its COMMIT left this folder
                    # behind; no row names it (we hold the write lock).
                    os.rename(final, temp_name(self.root, ".tmp-stale-"))
                os.rename(folder, final)
                tmp = None
            return Row(snapshot_id, key, kind, parent_row.id if parent_row else None,
                       parent, dict(labels or {}), now, now)
        finally:
            os.close(lock)
            if tmp is not None:
                remove_tree(tmp)

    def _committed_parent(self, parent: str, conn: sqlite3.Connection | None = None) -> Row:
        row = self.get(parent, conn)
        if row.kind is not Kind.COMMITTED:
            raise InvalidArgument(f"snapshot {parent}: is {row.kind.value}, a parent must be committed")
        return row

    def commit(self, name: str, key: str, labels: Labels | None) -> Row:
        with self.db.transaction() as conn:
            row = self.get(key, conn)
            if row.kind is not Kind.ACTIVE:
                raise InvalidArgument(f"snapshot {key}: is {row.kind.value}, only an active one can be committed")
            if conn.execute("SELECT 1 FROM snapshots WHERE key = ?", (name,)).fetchone():
                raise AlreadyExists(f"snapshot {name}: already exists")
            merged = {**row.labels, **(labels or {})}
            conn.execute("UPDATE snapshots SET key = ?, kind = 'committed', labels = ?, updated = ? WHERE id = ?",
                         (name, json.dumps(merged), time.time(), row.id))
        return Row(row.id, name, Kind.COMMITTED, row.parent, row.parent_key, merged, row.created, time.time())

    def remove(self, key: str) -> None:
        with self.db.transaction() as conn:
            row = self.get(key, conn)
            kids = self.children(row.id, conn)
            if kids:
                raise Conflict(f"snapshot {key}: {len(kids)} other snapshot(s) are built on it")
            conn.execute("DELETE FROM snapshots WHERE id = ?", (row.id,))
        self.discard_folder(row.id)

    def discard_folder(self, snapshot_id: int) -> None:
        folder = self.folder(snapshot_id)
        if not os.path.lexists(folder):
            return
        doomed = temp_name(self.root, f".tmp-rm-{snapshot_id}-")
        os.rename(folder, doomed)
        remove_tree(doomed)

    def sweep(self) -> int:
        """Remove temp folders no live process holds. Returns how many went."""
        removed = 0
        for name in os.listdir(self.root):
            if not name.startswith(".tmp-"):
                continue
            path = os.path.join(self.root, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except (FileNotFoundError, NotADirectoryError):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            finally:
                os.close(fd)
            remove_tree(path)
            removed += 1
        return removed

    def orphan_folders(self) -> list[str]:
        """Folders named like snapshot ids that no row names."""
        known = {r[0] for r in self.db.conn.execute("SELECT id FROM snapshots")}
        return [os.path.join(self.root, n) for n in os.listdir(self.root)
                if n.isdigit() and int(n) not in known]


def _lock(path: str) -> int:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def usage(path: str) -> Usage:
    """Bytes (each inode once) and inodes under ``path``."""
    size = 0
    inodes = 0
    seen: set[tuple[int, int]] = set()
    stack = [path]
    while stack:
        folder = stack.pop()
        try:
            it = os.scandir(folder)
        except FileNotFoundError:
            continue
        with it:
            for entry in it:
                st = entry.stat(follow_symlinks=False)
                if st.st_nlink > 1 and not entry.is_dir(follow_symlinks=False):
                    ident = (st.st_dev, st.st_ino)
                    if ident in seen:
                        continue
                    seen.add(ident)
                inodes += 1
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    size += st.st_size
    return Usage(size, inodes)
