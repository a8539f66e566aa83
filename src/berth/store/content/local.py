"""The content store on disk, in the OCI image layout::

    <root>/blobs/sha256/<hex>            committed blobs, read-only (0444)
    <root>/ingest/<sha256(ref)>/ref      the ingest's ref, for listing
    <root>/ingest/<sha256(ref)>/data     bytes written so far

A live writer holds an exclusive flock on its ``data`` file, so a sweep can tell an
abandoned ingest (its process died) from one in progress without any clock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO

from berth.errors import AlreadyExists, BlobNotFound, DigestMismatch, InvalidArgument, Unavailable
from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest
from berth.store.content.api import BlobInfo, IngestInfo
from berth.sys.fs import fsync_dir, remove_tree


class LocalContentStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self.blobs = os.path.join(root, "blobs")
        self.ingest = os.path.join(root, "ingest")

    def path(self, digest: Digest) -> str:
        return os.path.join(self.blobs, digest.algorithm, digest.encoded)

    def info(self, digest: Digest) -> BlobInfo:
        try:
            st = os.stat(self.path(digest))
        except FileNotFoundError:
            raise BlobNotFound(f"content {digest}: not found") from None
        return BlobInfo(digest, st.st_size, st.st_mtime)

    def exists(self, digest: Digest) -> bool:
        return os.path.exists(self.path(digest))

    def open(self, digest: Digest) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"content {digest}: not found") from None

    def writer(self, ref: str, expected: Descriptor | None = None) -> LocalWriter:
        if expected is not None and self.exists(expected.digest):
            raise AlreadyExists(f"content {expected.digest}: already exists")
        folder = os.path.join(self.ingest, hashlib.sha256(ref.encode()).hexdigest())
        os.makedirs(folder, mode=0o700, exist_ok=True)
        data = os.path.join(folder, "data")
        fd = os.open(data, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Unavailable(f"ingest {ref}: locked by another writer") from None
        if not os.path.exists(os.path.join(folder, "ref")):
            with open(os.path.join(folder, "ref"), "w") as f:
                f.write(ref)
        return LocalWriter(self, ref, folder, fd, expected)

    def delete(self, digest: Digest) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            raise BlobNotFound(f"content {digest}: not found") from None

    def walk(self) -> Iterator[BlobInfo]:
        for algorithm in _listdir(self.blobs):
            folder = os.path.join(self.blobs, algorithm)
            with os.scandir(folder) as it:
                for entry in it:
                    if entry.name.startswith("."):
                        continue
                    try:
                        digest = Digest.parse(f"{algorithm}:{entry.name}")
                        st = entry.stat(follow_symlinks=False)
                    except (InvalidArgument, FileNotFoundError):
                        continue
                    yield BlobInfo(digest, st.st_size, st.st_mtime)

    def stray_files(self) -> list[str]:
        """Files under blobs/ whose names are not digests (for ``system check``)."""
        out = []
        for algorithm in _listdir(self.blobs):
            folder = os.path.join(self.blobs, algorithm)
            for name in _listdir(folder):
                try:
                    Digest.parse(f"{algorithm}:{name}")
                except InvalidArgument:
                    out.append(os.path.join(folder, name))
        return out

    def ingests(self) -> Iterator[IngestInfo]:
        for name in _listdir(self.ingest):
            folder = os.path.join(self.ingest, name)
            try:
                with open(os.path.join(folder, "ref")) as f:
                    ref = f.read()
                fd = os.open(os.path.join(folder, "data"), os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                yield IngestInfo(name, 0, 0.0, False)
                continue
            try:
                st = os.fstat(fd)
                yield IngestInfo(ref, st.st_size, st.st_mtime, _locked(fd))
            finally:
                os.close(fd)

    def abort(self, ref: str) -> None:
        folder = os.path.join(self.ingest, hashlib.sha256(ref.encode()).hexdigest())
        if not os.path.isdir(folder):
            folder = os.path.join(self.ingest, ref)  # an ingest without a readable ref file
        self._remove_ingest(folder, ref)

    def _remove_ingest(self, folder: str, ref: str) -> None:
        try:
            fd = os.open(os.path.join(folder, "data"), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            remove_tree(folder)
            return
        try:
            if _locked(fd):
                raise Unavailable(f"ingest {ref}: locked by another writer")
            remove_tree(folder)
        finally:
            os.close(fd)

    def sweep(self, older_than: float = 0.0) -> int:
        """Remove abandoned ingests (no live writer) not touched for ``older_than``
        seconds, and temp files left in blobs/ by a crash. Returns how many went."""
        removed = 0
        now = time.time()
        for info in list(self.ingests()):
            if info.locked or now - info.updated < older_than:
                continue
            try:
                self.abort(info.ref)
                removed += 1
            except Unavailable:
                pass
        return removed


def _locked(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


class LocalWriter:
    def __init__(self, store: LocalContentStore, ref: str, folder: str, fd: int,
                 expected: Descriptor | None) -> None:
        self._store = store
        self._ref = ref
        self._folder = folder
        self._fd: int | None = fd
        self._expected = expected
        self._hash = hashlib.sha256()
        self._offset = 0
        # Resume: rehash what an earlier writer of this ref left behind.
        size = os.fstat(fd).st_size
        if size:
            with open(os.path.join(folder, "data"), "rb") as f:
                while chunk := f.read(1 << 20):
                    self._hash.update(chunk)
            self._offset = size
        os.lseek(fd, size, os.SEEK_SET)

    @property
    def ref(self) -> str:
        return self._ref

    @property
    def offset(self) -> int:
        return self._offset

    def _require_fd(self) -> int:
        if self._fd is None:
            raise InvalidArgument(f"ingest {self._ref}: writer is closed")
        return self._fd

    def write(self, data: bytes | bytearray | memoryview) -> int:
        fd = self._require_fd()
        view = memoryview(data)
        self._hash.update(view)
        total = len(view)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        self._offset += total
        return total

    def digest(self) -> Digest:
        return Digest("sha256", self._hash.hexdigest())

    def commit(self, size: int | None = None, expected: Digest | None = None) -> Digest:
        fd = self._require_fd()
        try:
            if expected is None and self._expected is not None:
                expected = self._expected.digest
            if size is None and self._expected is not None:
                size = self._expected.size
            if size is not None and size != self._offset:
                raise InvalidArgument(f"ingest {self._ref}: wrote {self._offset} bytes, expected {size}")
            actual = self.digest()
            if expected is not None and expected.algorithm != "sha256":
                actual = _rehash(os.path.join(self._folder, "data"), expected.algorithm)
            if expected is not None and actual != expected:
                raise DigestMismatch(f"content {expected}: got {actual} for ingest {self._ref}")
            os.fsync(fd)
            target = self._store.path(actual)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            data = os.path.join(self._folder, "data")
            os.chmod(data, 0o444)
            if os.path.exists(target):
                os.unlink(data)  # another writer committed the same bytes first
            else:
                os.rename(data, target)
                fsync_dir(os.path.dirname(target))
            return actual
        except BaseException:
            self.abort()
            raise
        finally:
            if self._fd is not None:
                self._close_and_remove()

    def _close_and_remove(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        remove_tree(self._folder)

    def abort(self) -> None:
        if self._fd is not None:
            # Remove while the lock is held so nobody resumes a half-deleted ingest.
            remove_tree(self._folder)
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> LocalWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self.abort()
        else:
            self.close()


def _rehash(path: str, algorithm: str) -> Digest:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return Digest(algorithm, h.hexdigest())

