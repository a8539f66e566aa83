"""The copying snapshotter, for hosts without a usable overlayfs (an overlay upper
folder cannot itself live on overlayfs, for one): every active snapshot starts as a full
copy of its parent's tree, and a container's root is a bind mount of it.

Correct everywhere, but preparing a container costs a copy of the whole image, which is
why the store logs a warning when it has to pick this one.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

from berth.errors import Internal
from berth.oci.mount import Mount
from berth.state.db import Database
from berth.store.snapshots.api import Kind, Labels, Layout, SnapshotInfo, Usage
from berth.store.snapshots.tree import Row, SnapshotTree, usage


class CopySnapshotter:
    name = "copy"

    def __init__(self, root: str, db: Database) -> None:
        os.makedirs(root, mode=0o700, exist_ok=True)
        self.tree = SnapshotTree(root, db)

    def prepare(self, key: str, parent: str | None = None, labels: Labels | None = None) -> list[Mount]:
        row = self.tree.create(key, Kind.ACTIVE, parent, labels, self._copy_parent)
        return self._mounts(row)

    def view(self, key: str, parent: str | None = None, labels: Labels | None = None) -> list[Mount]:
        row = self.tree.create(key, Kind.VIEW, parent, labels, _make_fs)
        return self._mounts(row)

    def mounts(self, key: str) -> list[Mount]:
        return self._mounts(self.tree.get(key))

    def _mounts(self, row: Row) -> list[Mount]:
        if row.kind is Kind.VIEW:
            source = self.tree.fs(row.parent) if row.parent is not None else self.tree.fs(row.id)
            return [Mount("bind", source, options=("rbind", "ro"))]
        return [Mount("bind", self.tree.fs(row.id), options=("rbind", "rw"))]

    def _copy_parent(self, folder: str, parent: Row | None) -> None:
        fs = f"{folder}/fs"
        if parent is None:
            os.mkdir(fs, 0o755)
            return
        # cp -a keeps owners, modes, times, xattrs, hard links and device nodes, and
        # does it faster than a Python walk would.
        done = subprocess.run(["cp", "-a", "--reflink=auto", "--", self.tree.fs(parent.id), fs],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise Internal(f"copy snapshotter: copying snapshot {parent.key}: {done.stderr.strip()}")

    def commit(self, name: str, key: str, labels: Labels | None = None) -> None:
        self.tree.commit(name, key, labels)

    def remove(self, key: str) -> None:
        self.tree.remove(key)

    def stat(self, key: str) -> SnapshotInfo:
        return self.tree.get(key).info()

    def walk(self) -> Iterator[SnapshotInfo]:
        return self.tree.walk()

    def usage(self, key: str) -> Usage:
        return usage(self.tree.fs(self.tree.get(key).id))

    def layout(self, key: str) -> Layout:
        row = self.tree.get(key)
        lowers = (self.tree.fs(row.parent),) if row.parent is not None else ()
        return Layout(self.tree.fs(row.id), lowers, "delete")

    def path(self, key: str) -> str:
        return self.tree.fs(self.tree.get(key).id)


def _make_fs(folder: str, parent: Row | None) -> None:
    os.mkdir(f"{folder}/fs", 0o755)
