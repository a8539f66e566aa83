"""The blob store: every blob once, named by its digest, shared by all repositories.

A blob enters the store only through :meth:`BlobStore.adopt` (an upload whose digest
was verified, moved into place by an atomic rename) or :meth:`BlobStore.put` (a
manifest, digested here). Repositories do not own blobs; they *link* them
(``repository.py``), and a blob a repository has not linked is unknown to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from berth.errors import InvalidArgument
from berth.oci.digest import Digest
from berth.registry.server.errors import BlobUnknown
from berth.registry.server.storage.api import PathNotFound, StorageDriver
from berth.registry.server.storage.paths import BLOBS, BlobData, path_for


@dataclass(frozen=True, slots=True)
class BlobInfo:
    digest: Digest
    size: int


class BlobStore:
    def __init__(self, driver: StorageDriver) -> None:
        self.driver = driver

    def stat(self, digest: Digest) -> BlobInfo:
        try:
            info = self.driver.stat(path_for(BlobData(digest)))
        except PathNotFound:
            raise BlobUnknown(f"blob {digest}: not found", {"digest": str(digest)}) from None
        return BlobInfo(digest, info.size)

    def exists(self, digest: Digest) -> bool:
        try:
            self.stat(digest)
        except BlobUnknown:
            return False
        return True

    def read(self, digest: Digest) -> bytes:
        """The whole blob; for manifests and other small documents only."""
        try:
            return self.driver.get_content(path_for(BlobData(digest)))
        except PathNotFound:
            raise BlobUnknown(f"blob {digest}: not found", {"digest": str(digest)}) from None

    def open(self, digest: Digest, offset: int = 0) -> BinaryIO:
        try:
            return self.driver.reader(path_for(BlobData(digest)), offset)
        except PathNotFound:
            raise BlobUnknown(f"blob {digest}: not found", {"digest": str(digest)}) from None

    def local_path(self, digest: Digest) -> str | None:
        return self.driver.local_path(path_for(BlobData(digest)))

    def put(self, data: bytes, algorithm: str = "sha256") -> Digest:
        """Store ``data`` (if it is not stored yet) and return its digest."""
        digest = Digest.from_bytes(data, algorithm)
        if not self.exists(digest):
            self.driver.put_content(path_for(BlobData(digest)), data)
        return digest

    def adopt(self, source: str, digest: Digest) -> None:
        """Move the verified file at storage path ``source`` into place as ``digest``.

        When the blob is already stored (another client pushed the same bytes) the
        source is dropped instead; either way one copy remains. Two concurrent
        adopts of one digest are safe: the rename is atomic and the bytes equal."""
        if self.exists(digest):
            self.driver.delete(source)
            return
        self.driver.move(source, path_for(BlobData(digest)))

    def delete(self, digest: Digest) -> None:
        try:
            self.driver.delete(path_for(BlobData(digest)).rsplit("/", 1)[0])
        except PathNotFound:
            raise BlobUnknown(f"blob {digest}: not found", {"digest": str(digest)}) from None

    def walk(self) -> Iterator[BlobInfo]:
        """Every stored blob (``blobs/<alg>/<xx>/<hex>/data``)."""
        try:
            files = list(self.driver.walk(BLOBS))
        except PathNotFound:
            return
        for info in files:
            parts = info.path.split("/")  # "", "blobs", alg, xx, hex, "data"
            if len(parts) != 6 or parts[-1] != "data":
                continue
            try:
                digest = Digest.parse(f"{parts[2]}:{parts[4]}")
            except InvalidArgument:
                continue
            yield BlobInfo(digest, info.size)
