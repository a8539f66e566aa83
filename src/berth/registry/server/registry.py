"""The registry as a whole: repositories over one storage driver, and the catalog.

Everything here is synchronous file work; the HTTP handlers call it from worker
threads. One :class:`Registry` is shared by all requests of a server (it holds the
in-memory hash states of open uploads); offline commands make their own.
"""

from __future__ import annotations

from collections.abc import Iterator

from berth.oci.digest import Digest
from berth.oci.reference import valid_repository_path
from berth.registry.server import history as history_mod
from berth.registry.server.blobs import BlobStore
from berth.registry.server.history import TagMove
from berth.registry.server.manifests import ManifestStore
from berth.registry.server.repository import Repository
from berth.registry.server.storage.api import PathNotFound, StorageDriver
from berth.registry.server.storage.paths import REPOSITORIES
from berth.registry.server.tags import Actor
from berth.registry.server.uploads import HashStates, Uploads


class Registry:
    def __init__(self, driver: StorageDriver) -> None:
        self.driver = driver
        self.blobs = BlobStore(driver)
        self.hashes = HashStates()

    def repository(self, name: str) -> Repository:
        """The repository ``name`` (which need not exist yet); NameInvalid for a bad name."""
        return Repository(self.driver, self.blobs, name)

    def manifests(self, name: str) -> ManifestStore:
        return ManifestStore(self.repository(name))

    def uploads(self, name: str) -> Uploads:
        return Uploads(self.repository(name), self.hashes)

    def repositories(self, *, include_unfinished: bool = False) -> Iterator[str]:
        """Names of every repository that holds manifests, in walk order. With
        ``include_unfinished``, also those that hold only blobs or upload sessions."""
        marks = ("_manifests", "_layers", "_uploads") if include_unfinished else ("_manifests",)
        yield from self._walk(REPOSITORIES, "", marks)

    def _walk(self, path: str, prefix: str, marks: tuple[str, ...]) -> Iterator[str]:
        try:
            children = self.driver.list(path)
        except PathNotFound:
            return
        names = [c.rsplit("/", 1)[1] for c in children]
        if prefix and any(mark in names for mark in marks):
            yield prefix
        for child, name in zip(children, names, strict=True):
            if name.startswith("_"):
                continue
            full = f"{prefix}/{name}" if prefix else name
            if valid_repository_path(full):
                yield from self._walk(child, full, marks)

    def rollback(
        self, name: str, tag: str, actor: Actor, *, to: Digest | None = None, steps: int | None = None
    ) -> TagMove:
        """Move ``name:tag`` back (see ``history.py``); the move is recorded as ``rollback``.

        The target manifest is restored into the repository first if it was deleted.
        Rolling back to the digest the tag already has records nothing and returns the
        last entry."""
        repo = self.repository(name)
        with repo.tags.locked(tag):
            moves = repo.tags.history(tag)
            target = history_mod.rollback_target(moves, to=to, steps=steps)
            ManifestStore(repo).restore(target)
            move = repo.tags.move(tag, target, actor, "rollback", held=True)
        return move if move is not None else moves[-1]
