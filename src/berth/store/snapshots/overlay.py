"""The overlayfs snapshotter: each snapshot is one folder; a container's root is an
overlay of its image's layer folders (lower, shared) and its own folder (upper).

Preparing a container costs the same for a 1-layer and a 50-layer image: one row, three
folders and a rename; nothing is copied. The mounts are returned as data; the engine
performs them inside the container's mount namespace (``berth.store.mounting``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from berth.errors import Unsupported
from berth.oci.mount import Mount
from berth.state.db import Database
from berth.store.snapshots.api import Kind, Labels, Layout, SnapshotInfo, Usage
from berth.store.snapshots.tree import Row, SnapshotTree, usage
from berth.sys.fs import remove_tree

# index=off: a lower folder is shared by many overlays at once, which the inode index
# forbids. redirect_dir=off: a renamed folder is copied up whole, so a container's
# upper folder is always a complete diff (layers.diff relies on it).
DEFAULT_OPTIONS = ("index=off", "redirect_dir=off")


class OverlaySnapshotter:
    name = "overlay"

    def __init__(self, root: str, db: Database, options: Sequence[str] = DEFAULT_OPTIONS) -> None:
        if ":" in root or "," in root:
            raise Unsupported(f"overlay snapshotter: the path {root!r} must not contain ':' or ','")
        os.makedirs(root, mode=0o700, exist_ok=True)
        self.tree = SnapshotTree(root, db)
        self.options = tuple(options)

    def prepare(self, key: str, parent: str | None = None, labels: Labels | None = None) -> list[Mount]:
        row = self.tree.create(key, Kind.ACTIVE, parent, labels, _make_upper)
        return self._mounts(row)

    def view(self, key: str, parent: str | None = None, labels: Labels | None = None) -> list[Mount]:
        row = self.tree.create(key, Kind.VIEW, parent, labels, _make_fs)
        return self._mounts(row)

    def mounts(self, key: str) -> list[Mount]:
        return self._mounts(self.tree.get(key))

    def _mounts(self, row: Row) -> list[Mount]:
        lowers = [self.tree.fs(i) for i in self.tree.chain(row.parent)]
        fs = self.tree.fs(row.id)
        if row.kind is Kind.ACTIVE:
            if not lowers:
                return [Mount("bind", fs, options=("rbind", "rw"))]
            work = f"{self.tree.folder(row.id)}/work"
            return [Mount("overlay", "overlay", options=(
                *self.options, f"workdir={work}", f"upperdir={fs}", "lowerdir=" + ":".join(lowers)))]
        if len(lowers) <= 1:
            return [Mount("bind", lowers[0] if lowers else fs, options=("rbind", "ro"))]
        return [Mount("overlay", "overlay", options=(*self.options, "lowerdir=" + ":".join(lowers), "ro"))]

    def commit(self, name: str, key: str, labels: Labels | None = None) -> None:
        row = self.tree.commit(name, key, labels)
        work = f"{self.tree.folder(row.id)}/work"
        if os.path.isdir(work):
            remove_tree(work)

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
        lowers = tuple(self.tree.fs(i) for i in self.tree.chain(row.parent))
        return Layout(self.tree.fs(row.id), lowers, "overlay")

    def path(self, key: str) -> str:
        return self.tree.fs(self.tree.get(key).id)


def _make_upper(folder: str, parent: Row | None) -> None:
    os.mkdir(f"{folder}/fs", 0o755)
    if parent is not None:
        os.mkdir(f"{folder}/work", 0o700)


def _make_fs(folder: str, parent: Row | None) -> None:
    os.mkdir(f"{folder}/fs", 0o755)
