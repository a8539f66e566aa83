"""Which repositories of which registries hold a blob (table ``blob_sources``): written
after every pull and push, read by push to try a cross-repository mount."""

from __future__ import annotations

import time
from collections.abc import Iterable

from berth.oci.digest import Digest
from berth.state.db import Database

MAX_CANDIDATES = 3  # mounts tried per blob before uploading it


def remember(db: Database, registry: str, repository: str, digests: Iterable[Digest]) -> None:
    now = time.time()
    rows = [(str(d), registry, repository, now) for d in digests]
    if not rows:
        return
    with db.transaction() as conn:
        conn.executemany("INSERT INTO blob_sources (digest, registry, repository, updated) VALUES (?, ?, ?, ?)"
                         " ON CONFLICT(digest, registry, repository) DO UPDATE SET updated = excluded.updated",
                         rows)


def candidates(db: Database, registry: str, repository: str, digest: Digest) -> list[str]:
    """Other repositories of ``registry`` known to hold ``digest``, most recent first."""
    rows = db.conn.execute(
        "SELECT repository FROM blob_sources WHERE digest = ? AND registry = ? AND repository != ?"
        " ORDER BY updated DESC LIMIT ?", (str(digest), registry, repository, MAX_CANDIDATES)).fetchall()
    return [r[0] for r in rows]
