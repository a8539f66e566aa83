"""The storage-driver interface: what the registry needs from a place to keep bytes.

Modelled on distribution's ``StorageDriver``. A driver stores *files* under *paths*;
it knows nothing of blobs, manifests or tags (``paths.py`` maps those onto paths, the
registry modules give them meaning). Keeping the interface this small is what lets an
object store be added later next to the file system and in-memory drivers.

Paths
    A path is absolute, slash-separated and made of components that match
    ``[A-Za-z0-9_-][A-Za-z0-9._-]*``: never empty, never ``.`` or ``..``, never starting
    with a dot (drivers keep their temporary files under dot-names, so those can be
    neither addressed nor listed). ``/`` is the root. Every method checks its paths
    with :func:`check_path` and raises :class:`InvalidPath` before touching storage,
    so no input can name a file outside the driver's root.

Files and directories
    Files hold bytes. Directories exist implicitly while they hold something; a driver
    creates parents as needed and may remove empty ones.

Atomicity
    ``put_content`` and ``move`` are atomic: a reader sees the old file or the new one,
    never a mix. ``writer`` writes in place and is meant for data that only becomes
    visible to others through a later ``move`` (upload sessions).

Errors
    :class:`PathNotFound` when a path that must exist does not; :class:`InvalidPath`
    for a malformed path; :class:`InvalidOffset` for a read past the end. Other
    failures of the underlying storage surface as ``OSError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from berth.errors import InvalidArgument, NotFound

_PATH = re.compile(r"^(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$")


class PathNotFound(NotFound):
    def __init__(self, path: str, driver: str) -> None:
        super().__init__(f"{driver}: {path}: no such file or directory")
        self.path = path
        self.driver = driver


class InvalidPath(InvalidArgument):
    def __init__(self, path: str, driver: str = "storage") -> None:
        super().__init__(f"{driver}: {path!r}: invalid storage path")
        self.path = path


class InvalidOffset(InvalidArgument):
    def __init__(self, path: str, offset: int, driver: str) -> None:
        super().__init__(f"{driver}: {path}: invalid offset {offset}")
        self.path = path
        self.offset = offset


def check_path(path: str, driver: str = "storage") -> str:
    """``path`` itself when it is a valid storage path; raises InvalidPath otherwise."""
    if path == "/" or (isinstance(path, str) and _PATH.match(path)):
        return path
    raise InvalidPath(path, driver)


def join(*parts: str) -> str:
    """Join path components with ``/`` under the root: ``join("a", "b") == "/a/b"``."""
    return "/" + "/".join(p.strip("/") for p in parts if p.strip("/"))


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    size: int  # 0 for directories
    mod_time: float  # seconds since the epoch
    is_dir: bool


class FileWriter(Protocol):
    """Writes one file in place, from its start or, when opened to append, its end.

    ``size`` counts every byte of the file, including those there before an append.
    Finish with exactly one of ``commit`` (flush and fsync: the bytes are durable),
    ``close`` (keep what was written, without the fsync) or ``cancel`` (delete the
    file). Each of them closes the writer; further writes raise ``ValueError``.
    """

    @property
    def size(self) -> int: ...

    def write(self, data: bytes) -> int: ...

    def commit(self) -> None: ...

    def close(self) -> None: ...

    def cancel(self) -> None: ...


class StorageDriver(Protocol):
    """A tree of files under one root. See the module docstring for the contract."""

    name: str

    def get_content(self, path: str) -> bytes:
        """The whole file. Only for small files (links, manifests, history)."""
        ...

    def put_content(self, path: str, content: bytes) -> None:
        """Create or replace the file atomically and durably."""
        ...

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        """A reader positioned at ``offset``; raises InvalidOffset past the end."""
        ...

    def writer(self, path: str, append: bool = False) -> FileWriter:
        """A writer that truncates the file, or appends to it (creating it if missing)."""
        ...

    def stat(self, path: str) -> FileInfo: ...

    def list(self, path: str) -> list[str]:
        """Full paths of the direct children of the directory ``path``, sorted."""
        ...

    def move(self, src: str, dst: str) -> None:
        """Rename ``src`` to ``dst`` atomically, replacing ``dst`` if it exists."""
        ...

    def delete(self, path: str) -> None:
        """Remove a file, or a directory with everything below it."""
        ...

    def walk(self, path: str) -> Iterator[FileInfo]:
        """Every file (not directory) below ``path``, depth first, in sorted order."""
        ...

    def local_path(self, path: str) -> str | None:
        """A path in the local file system holding this file, so that it can be sent
        with ``sendfile``; None for drivers that have none (or when it is missing)."""
        ...

    def lock(self, path: str) -> AbstractContextManager[None]:
        """An exclusive advisory lock named by ``path`` (which need not exist), held
        for the ``with`` block. The file system driver's lock also excludes other
        processes using the same root, so offline CLI commands and a running server
        serialise their tag moves."""
        ...
