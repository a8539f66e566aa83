"""One repository: the blobs and manifests linked into it, and its tags.

Linking is what makes a blob or manifest part of a repository: the bytes live once in
the blob store, and a ``link`` file under the repository names them. A blob another
repository holds is unknown here until it is pushed or mounted, so access to one
repository never reveals another's content.
"""

from __future__ import annotations

from collections.abc import Iterator

from berth.errors import InvalidArgument
from berth.oci.digest import Digest
from berth.oci.reference import NAME_MAX, valid_repository_path
from berth.registry.server.blobs import BlobInfo, BlobStore
from berth.registry.server.errors import BlobUnknown, ManifestUnknown, NameInvalid
from berth.registry.server.storage.api import PathNotFound, StorageDriver
from berth.registry.server.storage.paths import (
    LayerLink,
    LayersRoot,
    ManifestRevisionLink,
    ManifestRevisionsRoot,
    ManifestsRoot,
    path_for,
)
from berth.registry.server.tags import TagStore


def check_name(name: str) -> str:
    """``name`` when it is a valid repository name; NameInvalid otherwise."""
    if not valid_repository_path(name):
        shown = name if len(name) <= 300 else name[:300] + "…"
        reason = f"longer than {NAME_MAX} characters" if len(name) > NAME_MAX else "invalid format"
        raise NameInvalid(f"repository name {shown!r}: {reason}", {"name": shown})
    return name


class Repository:
    def __init__(self, driver: StorageDriver, blobs: BlobStore, name: str) -> None:
        self.driver = driver
        self.blobs = blobs
        self.name = check_name(name)
        self.tags = TagStore(driver, self.name)

    def exists(self) -> bool:
        """True once anything was pushed to it (a manifest or a finished blob)."""
        for spec in (ManifestsRoot(self.name), LayersRoot(self.name)):
            try:
                self.driver.stat(path_for(spec))
                return True
            except PathNotFound:
                continue
        return False

    # blobs

    def blob(self, digest: Digest) -> BlobInfo:
        """The linked blob; BlobUnknown when this repository does not have it."""
        try:
            self.driver.stat(path_for(LayerLink(self.name, digest)))
        except PathNotFound:
            raise BlobUnknown(f"{self.name}: blob {digest}: not found", {"digest": str(digest)}) from None
        return self.blobs.stat(digest)

    def has_blob(self, digest: Digest) -> bool:
        try:
            self.blob(digest)
        except BlobUnknown:
            return False
        return True

    def link_blob(self, digest: Digest) -> None:
        path = path_for(LayerLink(self.name, digest))
        try:
            if self.driver.get_content(path) == str(digest).encode():
                return
        except PathNotFound:
            pass
        self.driver.put_content(path, str(digest).encode())

    def unlink_blob(self, digest: Digest) -> None:
        try:
            self.driver.delete(path_for(LayerLink(self.name, digest)).rsplit("/", 1)[0])
        except PathNotFound:
            raise BlobUnknown(f"{self.name}: blob {digest}: not found", {"digest": str(digest)}) from None

    def linked_blobs(self) -> Iterator[Digest]:
        yield from _linked(self.driver, path_for(LayersRoot(self.name)))

    # manifests

    def has_manifest(self, digest: Digest) -> bool:
        try:
            self.driver.stat(path_for(ManifestRevisionLink(self.name, digest)))
        except PathNotFound:
            return False
        return True

    def link_manifest(self, digest: Digest) -> None:
        if not self.has_manifest(digest):
            self.driver.put_content(path_for(ManifestRevisionLink(self.name, digest)), str(digest).encode())

    def unlink_manifest(self, digest: Digest) -> None:
        try:
            self.driver.delete(path_for(ManifestRevisionLink(self.name, digest)).rsplit("/", 1)[0])
        except PathNotFound:
            raise ManifestUnknown(f"{self.name}@{digest}: manifest not found", {"digest": str(digest)}) from None

    def revisions(self) -> Iterator[Digest]:
        yield from _linked(self.driver, path_for(ManifestRevisionsRoot(self.name)))


def _linked(driver: StorageDriver, root: str) -> Iterator[Digest]:
    """Digests of the ``<root>/<alg>/<hex>/link`` files."""
    try:
        algorithms = driver.list(root)
    except PathNotFound:
        return
    for alg_path in algorithms:
        try:
            entries = driver.list(alg_path)
        except PathNotFound:
            continue
        algorithm = alg_path.rsplit("/", 1)[1]
        for entry in entries:
            try:
                yield Digest.parse(f"{algorithm}:{entry.rsplit('/', 1)[1]}")
            except InvalidArgument:
                continue
