"""Both content stores pass the ContentStore suite; the local one also keeps the OCI
layout on disk and survives a writer that died."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from berth.store.content import LocalContentStore, MemoryContentStore
from berth.store.content.api import ContentStore

from .content_suite import CHECKS, DATA, DIGEST

Factory = Callable[[Path], ContentStore]
FACTORIES: dict[str, Factory] = {
    "local": lambda tmp: LocalContentStore(str(tmp / "content")),
    "memory": lambda tmp: MemoryContentStore(),
}


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("kind", FACTORIES)
def test_content_store_suite(kind: str, check: Callable[[ContentStore], None], tmp_path: Path) -> None:
    check(FACTORIES[kind](tmp_path))


def test_local_layout_is_oci(tmp_path: Path) -> None:
    store = LocalContentStore(str(tmp_path))
    with store.writer("r") as w:
        w.write(DATA)
        w.commit()
    path = tmp_path / "blobs" / "sha256" / DIGEST.encoded
    assert path.read_bytes() == DATA
    assert path.stat().st_mode & 0o777 == 0o444  # committed blobs are read-only
    assert not any((tmp_path / "ingest").iterdir())


def test_abandoned_ingest_is_swept_only_when_its_writer_is_gone(tmp_path: Path) -> None:
    store = LocalContentStore(str(tmp_path))
    live = store.writer("live")
    live.write(b"x")
    # A writer in another process that dies half-way leaves an unlocked ingest.
    code = (f"from berth.store.content import LocalContentStore\n"
            f"w = LocalContentStore({str(tmp_path)!r}).writer('dead')\n"
            f"w.write(b'partial')\n"
            f"import os; os._exit(9)\n")
    subprocess.run([sys.executable, "-c", code], env={**os.environ}, check=False)
    assert {i.ref: i.locked for i in store.ingests()} == {"live": True, "dead": False}
    assert store.sweep() == 1
    assert [i.ref for i in store.ingests()] == ["live"]
    live.abort()
