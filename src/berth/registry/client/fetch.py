"""Downloading blobs into the content store, resumably, with a reader that follows.

A blob is written to the content store under the ingest ref ``pull-<digest>``. An
interrupted download leaves that ingest behind (the store keeps it for an hour); the
next pull opens the same ref, finds its offset and asks the registry for the rest
(``Range: bytes=<offset>-``). A registry that ignores the range answers 200: the ingest
starts over. Broken connections are retried from where they broke, a few times.

``Transfer`` is what a download shares with the layer's unpacker: the unpacker reads
the bytes from the ingest's file as they land (``FollowReader``), so a layer is
decompressed and unpacked while it downloads, and the downloads never wait for the
unpacking. The reader ends only once the blob is committed, i.e. once its digest was
verified: a blob that fails verification fails the unpacking that read it.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from berth.errors import AlreadyExists, DigestMismatch, Unavailable
from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest
from berth.oci.reference import Reference
from berth.store.content.api import ContentStore, ContentWriter

if TYPE_CHECKING:
    from berth.registry.client.resolver import RegistryResolver

CHUNK = 1 << 20
RETRIES = 4
LOCK_WAIT = 600.0  # seconds to wait for another process downloading the same blob

Tick = Callable[[int], None]  # bytes of the blob present so far


def ingest_ref(digest: Digest) -> str:
    return f"pull-{digest}"


class Transfer:
    """The state of one blob download, for the unpacker that follows it."""

    def __init__(self, desc: Descriptor) -> None:
        self.desc = desc
        self.offset = 0  # bytes in the ingest (or the blob) so far
        self.done = False  # committed: the blob is verified and in the store
        self.error: BaseException | None = None
        self.existed = False  # the blob was in the store before this pull
        self.reader: BinaryIO | None = None  # a read handle on the ingest's bytes
        self.cond = threading.Condition()

    def publish(self, reader: BinaryIO | None, offset: int) -> None:
        with self.cond:
            self.reader, self.offset = reader, offset
            self.cond.notify_all()

    def advance(self, offset: int) -> None:
        with self.cond:
            self.offset = offset
            self.cond.notify_all()

    def finish(self, error: BaseException | None = None) -> None:
        with self.cond:
            self.done = error is None
            self.error = error
            self.cond.notify_all()

    def wait_started(self) -> None:
        with self.cond:
            while self.reader is None and not self.done and self.error is None:
                self.cond.wait()
            if self.error is not None and self.reader is None:
                raise self.error

    def wait_done(self) -> None:
        with self.cond:
            while not self.done and self.error is None:
                self.cond.wait()
            if self.error is not None:
                raise self.error


class FollowReader(io.RawIOBase):
    """Reads a blob's bytes as its download writes them: blocks at the end of what has
    arrived until more comes, raises the download's error, ends when it is committed."""

    def __init__(self, transfer: Transfer, on_read: Tick | None = None) -> None:
        self._t = transfer
        self._pos = 0
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        t = self._t
        with t.cond:
            while self._pos >= t.offset and not t.done and t.error is None:
                t.cond.wait()
            if t.error is not None:
                raise t.error
            available = t.offset - self._pos
            reader = t.reader
        if available <= 0 or reader is None:
            return 0
        n = min(len(buffer), available)
        fd = reader.fileno()
        got = os.preadv(fd, [buffer[:n]], self._pos)
        self._pos += got
        if self._on_read is not None:
            self._on_read(self._pos)
        return got


def _ingest_reader(content: ContentStore, ref: str) -> BinaryIO | None:
    """A read handle on the file of an open ingest, where the content store keeps its
    ingests as files (LocalContentStore: ``ingest/<sha256(ref)>/data``)."""
    base = getattr(content, "ingest", None)
    if not isinstance(base, str):
        return None
    path = os.path.join(base, hashlib.sha256(ref.encode()).hexdigest(), "data")
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None


def _open_writer(content: ContentStore, ref: str, desc: Descriptor) -> ContentWriter:
    """The ingest writer, waiting while another process holds it (it is pulling the
    same blob; when it is done, the blob exists and AlreadyExists is raised)."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            return content.writer(ref, desc)
        except Unavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class Cancelled(Unavailable):
    """The pull was interrupted; what was downloaded stays for the next one."""


def download(resolver: RegistryResolver, ref: Reference, desc: Descriptor, content: ContentStore,
             transfer: Transfer, tick: Tick | None = None, cancel: threading.Event | None = None) -> bool:
    """Bring ``desc``'s blob into ``content``; True when bytes were downloaded, False
    when the blob was already there. Reports through ``transfer`` (and ``tick``).
    Setting ``cancel`` stops it between chunks, keeping the ingest for a resume."""
    try:
        fetched = _download(resolver, ref, desc, content, transfer, tick, cancel or threading.Event())
    except BaseException as err:
        transfer.finish(err)
        raise
    transfer.finish()
    return fetched


def _download(resolver: RegistryResolver, ref: Reference, desc: Descriptor, content: ContentStore,
              transfer: Transfer, tick: Tick | None, cancel: threading.Event) -> bool:
    ref_name = ingest_ref(desc.digest)
    try:
        writer = _open_writer(content, ref_name, desc)
    except AlreadyExists:
        transfer.existed = True
        transfer.publish(content.open(desc.digest), desc.size)
        return False
    keep = True  # on failure keep the ingest (resumable) unless its bytes are bad
    try:
        if writer.offset > desc.size:
            writer = _restart(content, writer, ref_name, desc)
        transfer.publish(_ingest_reader(content, ref_name), writer.offset)
        attempt = 0
        while writer.offset < desc.size:
            if cancel.is_set():
                raise Cancelled(f"blob {desc.digest}: interrupted")
            try:
                response, start = resolver.open_blob(ref, desc, writer.offset)
                try:
                    if start != writer.offset:  # the registry ignored the range: start over
                        writer = _restart(content, writer, ref_name, desc)
                        transfer.publish(_ingest_reader(content, ref_name), 0)
                    if tick is not None:
                        tick(writer.offset)
                    for chunk in response.iter_raw(CHUNK):
                        if cancel.is_set():
                            raise Cancelled(f"blob {desc.digest}: interrupted")
                        if writer.offset + len(chunk) > desc.size:
                            keep = False
                            raise DigestMismatch(f"blob {desc.digest}: the registry sent more than "
                                                 f"{desc.size} bytes")
                        writer.write(chunk)
                        transfer.advance(writer.offset)
                        if tick is not None:
                            tick(writer.offset)
                finally:
                    response.close()
                if writer.offset < desc.size:
                    raise Unavailable(f"blob {desc.digest}: connection closed at {writer.offset} of "
                                      f"{desc.size} bytes")
            except Cancelled:
                raise
            except Exception as err:
                if not isinstance(err, (Unavailable, *_transport_errors())):
                    raise
                attempt += 1
                if attempt > RETRIES:
                    if isinstance(err, Unavailable):
                        raise
                    raise Unavailable(f"blob {desc.digest}: {err}") from err
                time.sleep(min(0.5 * 2 ** (attempt - 1), 5.0))
        keep = False  # commit closes the writer either way; a bad digest discards it
        writer.commit(desc.size, desc.digest)
    except BaseException:
        if keep:
            writer.close()
        else:
            writer.abort()
        raise
    return True


def _restart(content: ContentStore, writer: ContentWriter, ref_name: str, desc: Descriptor) -> ContentWriter:
    writer.abort()
    return _open_writer(content, ref_name, desc)


def _transport_errors() -> tuple[type[Exception], ...]:
    import httpx

    return (httpx.TransportError,)
