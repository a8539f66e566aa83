"""A content store in memory, for tests and for building small archives.

Same contract as :class:`LocalContentStore`; the shared suite checks both.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO

from berth.errors import AlreadyExists, BlobNotFound, DigestMismatch, InvalidArgument, Unavailable
from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest
from berth.store.content.api import BlobInfo, IngestInfo


class MemoryContentStore:
    def __init__(self) -> None:
        self._blobs: dict[Digest, tuple[bytes, float]] = {}
        self._ingests: dict[str, bytearray] = {}
        self._updated: dict[str, float] = {}
        self._held: set[str] = set()

    def info(self, digest: Digest) -> BlobInfo:
        try:
            data, created = self._blobs[digest]
        except KeyError:
            raise BlobNotFound(f"content {digest}: not found") from None
        return BlobInfo(digest, len(data), created)

    def open(self, digest: Digest) -> BinaryIO:
        try:
            return io.BytesIO(self._blobs[digest][0])
        except KeyError:
            raise BlobNotFound(f"content {digest}: not found") from None

    def writer(self, ref: str, expected: Descriptor | None = None) -> MemoryWriter:
        if expected is not None and expected.digest in self._blobs:
            raise AlreadyExists(f"content {expected.digest}: already exists")
        if ref in self._held:
            raise Unavailable(f"ingest {ref}: locked by another writer")
        self._held.add(ref)
        buf = self._ingests.setdefault(ref, bytearray())
        self._updated[ref] = time.time()
        return MemoryWriter(self, ref, buf, expected)

    def delete(self, digest: Digest) -> None:
        if self._blobs.pop(digest, None) is None:
            raise BlobNotFound(f"content {digest}: not found")

    def walk(self) -> Iterator[BlobInfo]:
        for digest, (data, created) in list(self._blobs.items()):
            yield BlobInfo(digest, len(data), created)

    def ingests(self) -> Iterator[IngestInfo]:
        for ref, buf in list(self._ingests.items()):
            yield IngestInfo(ref, len(buf), self._updated.get(ref, 0.0), ref in self._held)

    def abort(self, ref: str) -> None:
        if ref in self._held:
            raise Unavailable(f"ingest {ref}: locked by another writer")
        self._ingests.pop(ref, None)
        self._updated.pop(ref, None)

    # Called by MemoryWriter.
    def _release(self, ref: str, *, discard: bool) -> None:
        self._held.discard(ref)
        if discard:
            self._ingests.pop(ref, None)
            self._updated.pop(ref, None)

    def _put(self, digest: Digest, data: bytes) -> None:
        self._blobs.setdefault(digest, (data, time.time()))


class MemoryWriter:
    def __init__(self, store: MemoryContentStore, ref: str, buf: bytearray, expected: Descriptor | None) -> None:
        self._store = store
        self._ref = ref
        self._buf = buf
        self._expected = expected
        self._open = True

    @property
    def ref(self) -> str:
        return self._ref

    @property
    def offset(self) -> int:
        return len(self._buf)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if not self._open:
            raise InvalidArgument(f"ingest {self._ref}: writer is closed")
        self._buf += data
        return len(data)

    def digest(self) -> Digest:
        return Digest("sha256", hashlib.sha256(self._buf).hexdigest())

    def commit(self, size: int | None = None, expected: Digest | None = None) -> Digest:
        if not self._open:
            raise InvalidArgument(f"ingest {self._ref}: writer is closed")
        try:
            if expected is None and self._expected is not None:
                expected = self._expected.digest
            if size is None and self._expected is not None:
                size = self._expected.size
            if size is not None and size != len(self._buf):
                raise InvalidArgument(f"ingest {self._ref}: wrote {len(self._buf)} bytes, expected {size}")
            algorithm = expected.algorithm if expected else "sha256"
            actual = Digest(algorithm, hashlib.new(algorithm, self._buf).hexdigest())
            if expected is not None and actual != expected:
                raise DigestMismatch(f"content {expected}: got {actual} for ingest {self._ref}")
            self._store._put(actual, bytes(self._buf))
            return actual
        finally:
            self._open = False
            self._store._release(self._ref, discard=True)

    def abort(self) -> None:
        if self._open:
            self._open = False
            self._store._release(self._ref, discard=True)

    def close(self) -> None:
        if self._open:
            self._open = False
            self._store._release(self._ref, discard=False)

    def __enter__(self) -> MemoryWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self.abort()
        else:
            self.close()
