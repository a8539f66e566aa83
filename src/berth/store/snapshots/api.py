"""Snapshotters: the file systems of layers and containers (after containerd's Snapshotter).

Vocabulary
    snapshot   a folder tree with a place in a parent chain. Each one has a *key*.
    committed  read-only, a parent for others. An unpacked layer is a committed
               snapshot whose key is the layer's chain ID, so every image and every
               container that has the layer shares one copy.
    active     writable: a container's root file system, or a layer being unpacked.
               Its mounts show the parent chain with the active snapshot's own folder
               on top.
    view       a read-only mount of a committed snapshot (``berth image mount``, builds).

Unpacking a layer::

    sn.prepare("extract-<random>", parent=<chain id of the layer below>)
    layers.apply(blob, sn.layout(key).upper, …)   # no mount needed (see ``layout``)
    sn.commit(<chain id>, "extract-<random>")

Running a container::

    mounts = sn.prepare(<container id>, parent=<top chain id of the image>)
    # the engine performs the mounts in the container's mount namespace
    sn.remove(<container id>)                      # when the container is removed

Every method changes the database and the folder tree so that a crash at any point
leaves the metadata describing only complete folders: a snapshot row appears once its
folder exists (created under a ``.tmp-`` name, then renamed), and a removed snapshot's
row goes first, its folder after (renamed to ``.tmp-`` before it is deleted).

Errors: ``NotFound`` for an unknown key or parent, ``AlreadyExists`` for a key that is
taken, ``InvalidArgument`` when the parent is not committed (or the key is not active,
for commit), ``Conflict`` when removing a snapshot that others are built on.

Implementations: :class:`OverlaySnapshotter` (overlayfs; the default) and
:class:`CopySnapshotter` (plain copies, for file systems without overlay). The suite in
``tests/unit/store/snapshot_suite.py`` runs against both.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from berth.oci.mount import Mount

Labels = Mapping[str, str]


class Kind(enum.Enum):
    ACTIVE = "active"
    VIEW = "view"
    COMMITTED = "committed"


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    key: str
    kind: Kind
    parent: str | None
    id: int
    created: float
    updated: float
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Usage:
    size: int  # bytes of the snapshot's own folder (each inode once)
    inodes: int


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a snapshot's own changes live, for applying a layer into it or diffing it
    back, without mounting anything.

    ``whiteouts == "overlay"``: ``upper`` holds only this snapshot's changes, in
    overlayfs' format, over ``lowers`` (top first). ``whiteouts == "delete"``:
    ``upper`` is the whole tree and ``lowers`` is ``[parent's whole tree]`` (or empty).
    """

    upper: str
    lowers: tuple[str, ...]
    whiteouts: Literal["overlay", "delete"]


class Snapshotter(Protocol):
    name: str  # "overlay" or "copy": what `berth info` and image inspect report

    def prepare(self, key: str, parent: str | None = None, labels: Labels | None = None) -> list[Mount]:
        """Create the active snapshot ``key`` over the committed ``parent`` and return
        the mounts that show it (writable)."""
        ...

    def view(self, key: str, parent: str | None = None, labels: Labels | None = None) -> list[Mount]:
        """Create the read-only snapshot ``key`` of ``parent`` and return its mounts."""
        ...

    def mounts(self, key: str) -> list[Mount]:
        """The mounts of an active or view snapshot (again)."""
        ...

    def commit(self, name: str, key: str, labels: Labels | None = None) -> None:
        """Turn the active snapshot ``key`` into the committed snapshot ``name``; the
        key stops existing. ``labels`` are merged into its labels."""
        ...

    def remove(self, key: str) -> None:
        """Remove a snapshot and its folder; Conflict while others have it as parent."""
        ...

    def stat(self, key: str) -> SnapshotInfo: ...

    def walk(self) -> Iterator[SnapshotInfo]: ...

    def usage(self, key: str) -> Usage:
        """Disk use of the snapshot's own folder (not its parents)."""
        ...

    def layout(self, key: str) -> Layout:
        """Where ``key``'s own files are (see :class:`Layout`)."""
        ...

    def path(self, key: str) -> str:
        """The folder that holds ``key``'s own files (``…/snapshots/<id>/fs``)."""
        ...
