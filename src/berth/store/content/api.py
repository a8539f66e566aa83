"""The content store: every blob once, named by its digest (after containerd's content.Store).

Vocabulary
    blob      an immutable byte string, addressed by its digest (``sha256:…``). Layers,
              image configs, manifests and indexes are all blobs.
    ingest    a blob being written. An ingest has a *ref*, a caller-chosen name
              (``load-3f2a…``, ``pull-docker.io/library/busybox:sha256:…``); a writer
              opened with the ref of an unfinished ingest resumes it at its offset.
    commit    the step that turns an ingest into a blob: the size and digest are
              checked against what the caller expects, the data is made durable
              (fsync) and only then renamed to its digest. A reader therefore never
              sees a blob whose bytes do not match its name.

Lifecycle of a writer::

    w = store.writer("load-1", expected=desc)  # AlreadyExists: the blob is already here
    w.write(chunk) …                           # any number of times
    digest = w.commit(size, expected)          # DigestMismatch / InvalidArgument on a bad
                                               # size; commit always closes the writer
    # or w.abort()  — discard the ingest; w.close() — keep it to resume later

Used as a context manager a writer is aborted when the block raises and closed
(kept, resumable) when it ends without a commit.

Errors: ``BlobNotFound`` for a digest that is not stored, ``AlreadyExists`` from
``writer`` when the expected blob is present, ``Unavailable`` when another process
holds the ref, ``DigestMismatch`` when the bytes do not match, ``InvalidArgument``
for a size mismatch. Committing a blob that another writer committed first succeeds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import BinaryIO, Protocol

from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest


@dataclass(frozen=True, slots=True)
class BlobInfo:
    digest: Digest
    size: int
    created: float  # seconds since the epoch, when the blob was committed


@dataclass(frozen=True, slots=True)
class IngestInfo:
    ref: str
    offset: int
    updated: float
    locked: bool  # a live writer holds it


class ContentWriter(Protocol):
    """Writes one ingest; see the module docstring for the lifecycle."""

    @property
    def ref(self) -> str: ...

    @property
    def offset(self) -> int:
        """Bytes written so far (including those of a resumed ingest)."""
        ...

    def write(self, data: bytes | bytearray | memoryview) -> int: ...

    def digest(self) -> Digest:
        """The digest of the bytes written so far."""
        ...

    def commit(self, size: int | None = None, expected: Digest | None = None) -> Digest:
        """Verify ``size`` and ``expected`` (or those of the descriptor the writer was
        opened with), make the blob durable and visible, and close the writer."""
        ...

    def abort(self) -> None:
        """Discard the ingest and close the writer."""
        ...

    def close(self) -> None:
        """Release the writer; an uncommitted ingest stays and can be resumed."""
        ...

    def __enter__(self) -> ContentWriter: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class ContentStore(Protocol):
    """Blobs by digest. Implementations: :class:`LocalContentStore` (the OCI layout
    ``blobs/sha256/<hex>`` under a folder) and :class:`MemoryContentStore` (tests).
    The conformance suite in ``tests/unit/store/content_suite.py`` runs against both."""

    def info(self, digest: Digest) -> BlobInfo:
        """Size and commit time; raises BlobNotFound."""
        ...

    def open(self, digest: Digest) -> BinaryIO:
        """A seekable reader of the blob; raises BlobNotFound. The caller closes it."""
        ...

    def writer(self, ref: str, expected: Descriptor | None = None) -> ContentWriter:
        """A writer for ``ref``, resuming an unfinished ingest of the same ref.
        Raises AlreadyExists when ``expected`` names a blob that is already stored,
        Unavailable when another writer holds ``ref``."""
        ...

    def delete(self, digest: Digest) -> None:
        """Remove a blob; raises BlobNotFound. Deciding that nothing needs it is the
        garbage collector's job, not the store's."""
        ...

    def walk(self) -> Iterator[BlobInfo]:
        """Every committed blob, in no particular order."""
        ...

    def ingests(self) -> Iterator[IngestInfo]:
        """Unfinished ingests."""
        ...

    def abort(self, ref: str) -> None:
        """Discard the unfinished ingest ``ref`` (no error if there is none); raises
        Unavailable if a live writer holds it."""
        ...


def has_blob(store: ContentStore, digest: Digest) -> bool:
    from berth.errors import NotFound

    try:
        store.info(digest)
    except NotFound:
        return False
    return True


def read_blob(store: ContentStore, digest: Digest, limit: int = 64 << 20) -> bytes:
    """A whole (small) blob as bytes: manifests, configs, indexes. Refuses blobs over
    ``limit`` so a hostile manifest cannot make us read a layer into memory."""
    from berth.errors import InvalidArgument

    info = store.info(digest)
    if info.size > limit:
        raise InvalidArgument(f"content {digest}: {info.size} bytes is too large for a JSON document")
    with store.open(digest) as f:
        return f.read()


def write_blob(store: ContentStore, ref: str, data: bytes, expected: Descriptor | None = None) -> Digest:
    """Store ``data`` as one blob (no error if it is already there); returns its digest."""
    from berth.errors import AlreadyExists

    digest = expected.digest if expected else Digest.from_bytes(data)
    try:
        writer = store.writer(ref, expected or Descriptor("application/octet-stream", digest, len(data)))
    except AlreadyExists:
        return digest
    with writer:
        writer.write(data)
        return writer.commit(len(data), digest)
