"""Blob upload sessions: bytes arrive in one or more requests, then are verified.

Lifecycle (distribution spec, "pushing blobs")::

    start() ──► writer(id, start=offset) ──► write()… ──► close()   (PATCH: more may follow)
                      │                                  commit(digest)   (PUT: verify, store)
                      └──────────────────────────────►   cancel()         (DELETE)

The bytes go to ``_uploads/<id>/data`` and are hashed as they are written; the
sha256 state is kept in memory between requests (:class:`HashStates`), so a commit
never re-reads the data unless the server restarted in between. ``commit`` checks
the digest (and the size, when given) and only then moves the file into the blob
store with one rename, links the blob into the repository and removes the session.
A digest that does not match removes the session and its data: nothing of a refused
upload remains. Only one writer may be open on a session at a time.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass

from berth.oci.digest import Digest
from berth.registry.server.blobs import BlobInfo
from berth.registry.server.errors import (
    BlobUnknown,
    BlobUploadUnknown,
    DigestInvalid,
    RangeInvalid,
    SizeInvalid,
)
from berth.registry.server.history import now
from berth.registry.server.repository import Repository
from berth.registry.server.storage.api import FileWriter, PathNotFound
from berth.registry.server.storage.paths import (
    UploadData,
    UploadRoot,
    UploadStartedAt,
    path_for,
    valid_upload_id,
)

_READ_SIZE = 4 << 20
_MAX_STATES = 10_000  # a state is only a shortcut: without one, commit re-reads the data


@dataclass(frozen=True, slots=True)
class UploadStatus:
    name: str
    upload_id: str
    size: int
    started_at: str


class HashStates:
    """In-memory sha256 states of open upload sessions, and which ones are busy."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], tuple[hashlib._Hash, int]] = {}
        self._busy: set[tuple[str, str]] = set()
        self._mutex = threading.Lock()

    def acquire(self, key: tuple[str, str]) -> bool:
        with self._mutex:
            if key in self._busy:
                return False
            self._busy.add(key)
            return True

    def release(self, key: tuple[str, str], state: tuple[hashlib._Hash, int] | None) -> None:
        with self._mutex:
            self._busy.discard(key)
            if state is None:
                self._states.pop(key, None)
                return
            if len(self._states) >= _MAX_STATES:  # abandoned sessions: forget the oldest
                del self._states[next(iter(self._states))]
            self._states[key] = state

    def take(self, key: tuple[str, str], size: int) -> hashlib._Hash | None:
        """The saved state when it covers exactly ``size`` bytes."""
        with self._mutex:
            state = self._states.pop(key, None)
        if state is None or state[1] != size:
            return None
        return state[0]


class UploadWriter:
    """Appends to one session; see the module docstring. Not thread-safe: one
    request drives it, possibly from several worker threads in turn."""

    def __init__(self, uploads: Uploads, upload_id: str, file: FileWriter, hasher: hashlib._Hash) -> None:
        self._uploads = uploads
        self.upload_id = upload_id
        self._file: FileWriter | None = file
        self._hasher = hasher
        self._key = (uploads.repo.name, upload_id)

    @property
    def size(self) -> int:
        return self._open().size

    def _open(self) -> FileWriter:
        if self._file is None:
            raise ValueError(f"upload {self.upload_id}: writer is closed")
        return self._file

    def write(self, data: bytes) -> None:
        self._open().write(data)
        self._hasher.update(data)

    def write_all(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> None:
        """Keep what arrived; the session stays open for more."""
        if self._file is None:
            return
        file, self._file = self._file, None
        size = file.size
        file.close()
        self._uploads.hashes.release(self._key, (self._hasher, size))

    def cancel(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            file.close()
        self._uploads.hashes.release(self._key, None)
        self._uploads.remove(self.upload_id)

    def commit(self, expected: Digest, size: int | None = None) -> BlobInfo:
        """Verify, store and link the blob; the session is gone afterwards either way
        (except when the blob store itself fails, which leaves the session as it was)."""
        file = self._open()
        actual_size = file.size
        file.commit()
        self._file = None
        self._uploads.hashes.release(self._key, None)
        repo = self._uploads.repo
        data_path = path_for(UploadData(repo.name, self.upload_id))
        if expected.algorithm == "sha256":
            actual = Digest("sha256", self._hasher.hexdigest())
        else:
            with repo.driver.reader(data_path) as stream:
                actual, _ = Digest.from_stream(stream, expected.algorithm)
        if actual != expected:
            self._uploads.remove(self.upload_id)
            raise DigestInvalid(
                f"upload: the content's digest is {actual}, not {expected}",
                {"expected": str(expected), "actual": str(actual)},
            )
        if size is not None and size != actual_size:
            self._uploads.remove(self.upload_id)
            raise SizeInvalid(f"upload: {actual_size} bytes arrived, {size} were announced")
        repo.blobs.adopt(data_path, expected)
        repo.link_blob(expected)
        self._uploads.remove(self.upload_id)
        return BlobInfo(expected, actual_size)


class Uploads:
    def __init__(self, repo: Repository, hashes: HashStates) -> None:
        self.repo = repo
        self.hashes = hashes

    def start(self) -> UploadStatus:
        upload_id = str(uuid.uuid4())
        started = now()
        self.repo.driver.put_content(path_for(UploadStartedAt(self.repo.name, upload_id)), started.encode())
        return UploadStatus(self.repo.name, upload_id, 0, started)

    def status(self, upload_id: str) -> UploadStatus:
        unknown = BlobUploadUnknown(f"{self.repo.name}: upload {upload_id[:100]!r}: not found", {"uuid": upload_id[:100]})
        if not valid_upload_id(upload_id):
            raise unknown
        driver = self.repo.driver
        try:
            started = driver.get_content(path_for(UploadStartedAt(self.repo.name, upload_id))).decode()
        except PathNotFound:
            raise unknown from None
        try:
            size = driver.stat(path_for(UploadData(self.repo.name, upload_id))).size
        except PathNotFound:
            size = 0
        return UploadStatus(self.repo.name, upload_id, size, started)

    def writer(self, upload_id: str, start: int | None = None) -> UploadWriter:
        """Open the session for appending. ``start``, when given, must equal the bytes
        received so far (chunks arrive in order): RangeInvalid otherwise."""
        status = self.status(upload_id)
        key = (self.repo.name, upload_id)
        if not self.hashes.acquire(key):
            raise RangeInvalid(f"upload {upload_id}: another request is writing to it", status.size)
        try:
            if start is not None and start != status.size:
                raise RangeInvalid(
                    f"upload {upload_id}: chunk starts at {start}, but {status.size} bytes were received",
                    status.size,
                )
            file = self.repo.driver.writer(path_for(UploadData(self.repo.name, upload_id)), append=True)
            hasher = self.hashes.take(key, file.size) or self._rehash(upload_id, file.size)
        except BaseException:
            self.hashes.release(key, None)
            raise
        return UploadWriter(self, upload_id, file, hasher)

    def _rehash(self, upload_id: str, size: int) -> hashlib._Hash:
        hasher = hashlib.sha256()
        if size:
            with self.repo.driver.reader(path_for(UploadData(self.repo.name, upload_id))) as stream:
                while chunk := stream.read(_READ_SIZE):
                    hasher.update(chunk)
        return hasher

    def cancel(self, upload_id: str) -> None:
        self.status(upload_id)
        key = (self.repo.name, upload_id)
        self.hashes.release(key, None)
        self.remove(upload_id)

    def remove(self, upload_id: str) -> None:
        try:
            self.repo.driver.delete(path_for(UploadRoot(self.repo.name, upload_id)))
        except PathNotFound:
            pass

    def mount(self, digest: Digest, source: Repository) -> BlobInfo | None:
        """Link ``digest`` from ``source`` into this repository without an upload;
        None when ``source`` does not have it."""
        try:
            info = source.blob(digest)
        except BlobUnknown:
            return None
        self.repo.link_blob(digest)
        return info
