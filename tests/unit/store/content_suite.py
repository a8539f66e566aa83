"""The ContentStore conformance suite: every implementation runs these checks.

Each check takes a fresh, empty store. ``run_all`` is what an implementation's test
module parametrises over.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from berth.errors import AlreadyExists, BlobNotFound, DigestMismatch, InvalidArgument, Unavailable
from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest
from berth.store.content.api import ContentStore, read_blob, write_blob

DATA = b"hello, blobs" * 1000
DIGEST = Digest.from_bytes(DATA)


def commit_roundtrip(store: ContentStore) -> None:
    with store.writer("ref-1") as w:
        w.write(DATA[:100])
        w.write(DATA[100:])
        assert w.offset == len(DATA)
        assert w.commit(len(DATA), DIGEST) == DIGEST
    info = store.info(DIGEST)
    assert (info.digest, info.size) == (DIGEST, len(DATA))
    with store.open(DIGEST) as f:
        assert f.read() == DATA
        f.seek(5)  # readers are seekable
        assert f.read(3) == DATA[5:8]
    assert [b.digest for b in store.walk()] == [DIGEST]
    assert list(store.ingests()) == []


def digest_mismatch_leaves_nothing(store: ContentStore) -> None:
    w = store.writer("ref-bad")
    w.write(b"not what you expect")
    with pytest.raises(DigestMismatch):
        w.commit(None, DIGEST)
    with pytest.raises(BlobNotFound):
        store.info(DIGEST)
    assert list(store.walk()) == []
    assert list(store.ingests()) == []  # commit always closes; a failed one discards


def size_mismatch(store: ContentStore) -> None:
    w = store.writer("ref-size")
    w.write(DATA)
    with pytest.raises(InvalidArgument):
        w.commit(len(DATA) + 1)
    assert list(store.walk()) == []


def expected_descriptor_is_checked(store: ContentStore) -> None:
    desc = Descriptor("application/octet-stream", DIGEST, len(DATA))
    w = store.writer("ref-desc", desc)
    w.write(DATA[:-1] + b"!")
    with pytest.raises(DigestMismatch):
        w.commit()


def writer_refuses_existing_blob(store: ContentStore) -> None:
    write_blob(store, "first", DATA)
    with pytest.raises(AlreadyExists):
        store.writer("second", Descriptor("application/octet-stream", DIGEST, len(DATA)))
    assert write_blob(store, "third", DATA) == DIGEST  # the helper treats it as done


def same_blob_twice_commits(store: ContentStore) -> None:
    a, b = store.writer("a"), store.writer("b")
    a.write(DATA)
    b.write(DATA)
    assert a.commit() == DIGEST
    assert b.commit() == DIGEST  # the second commit of identical bytes succeeds
    assert len(list(store.walk())) == 1


def resume_by_ref(store: ContentStore) -> None:
    w = store.writer("resumable")
    w.write(DATA[:500])
    w.close()
    assert [(i.ref, i.offset) for i in store.ingests()] == [("resumable", 500)]
    w = store.writer("resumable")
    assert w.offset == 500
    w.write(DATA[500:])
    assert w.commit(len(DATA), DIGEST) == DIGEST


def ref_is_exclusive(store: ContentStore) -> None:
    w = store.writer("busy")
    with pytest.raises(Unavailable):
        store.writer("busy")
    with pytest.raises(Unavailable):
        store.abort("busy")
    w.abort()
    store.writer("busy").abort()  # free again


def context_manager_aborts_on_error(store: ContentStore) -> None:
    with pytest.raises(RuntimeError):
        with store.writer("boom") as w:
            w.write(DATA)
            raise RuntimeError("interrupted")
    assert list(store.ingests()) == []


def delete_and_not_found(store: ContentStore) -> None:
    write_blob(store, "x", DATA)
    store.delete(DIGEST)
    for call in (lambda: store.info(DIGEST), lambda: store.open(DIGEST), lambda: store.delete(DIGEST)):
        with pytest.raises(BlobNotFound):
            call()


def read_blob_limits_size(store: ContentStore) -> None:
    write_blob(store, "x", DATA)
    assert read_blob(store, DIGEST) == DATA
    with pytest.raises(InvalidArgument):
        read_blob(store, DIGEST, limit=10)


CHECKS: list[Callable[[ContentStore], None]] = [
    commit_roundtrip,
    digest_mismatch_leaves_nothing,
    size_mismatch,
    expected_descriptor_is_checked,
    writer_refuses_existing_blob,
    same_blob_twice_commits,
    resume_by_ref,
    ref_is_exclusive,
    context_manager_aborts_on_error,
    delete_and_not_found,
    read_blob_limits_size,
]
