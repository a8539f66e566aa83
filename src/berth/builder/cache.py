"""The build cache in the state database (table ``build_cache``, migrations/build).

A row maps a step's cache key to the image the step produced. The images are
ordinary untagged images in the store, so their layers live exactly as long as any
image does; a row whose image was removed (``berth image prune``) is a miss, and is
dropped when met.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from berth.state.db import Database


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    parent: str
    image_id: str
    created_by: str
    inputs: dict[str, Any]
    final: bool
    created: float
    last_used: float

    @classmethod
    def of(cls, row: sqlite3.Row) -> Entry:
        return cls(row["key"], row["parent"], row["image_id"], row["created_by"], json.loads(row["inputs"]),
                   bool(row["final"]), row["created"], row["last_used"])


class BuildCache:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str) -> Entry | None:
        row = self.db.conn.execute("SELECT * FROM build_cache WHERE key = ?", (key,)).fetchone()
        return Entry.of(row) if row is not None else None

    def children(self, parent: str) -> list[Entry]:
        """Entries built on ``parent``, most recently used first."""
        rows = self.db.conn.execute("SELECT * FROM build_cache WHERE parent = ? ORDER BY last_used DESC LIMIT 50",
                                    (parent,)).fetchall()
        return [Entry.of(r) for r in rows]

    def like(self, created_by: str) -> list[Entry]:
        """Entries with this history text (on any parent), most recent first."""
        rows = self.db.conn.execute(
            "SELECT * FROM build_cache WHERE created_by = ? ORDER BY last_used DESC LIMIT 10", (created_by,)).fetchall()
        return [Entry.of(r) for r in rows]

    def put(self, key: str, parent: str, image_id: str, created_by: str, inputs: dict[str, Any]) -> None:
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO build_cache (key, parent, image_id, created_by, inputs, final, created, last_used)"
                " VALUES (?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT(key) DO UPDATE SET image_id = excluded.image_id,"
                " parent = excluded.parent, created_by = excluded.created_by, inputs = excluded.inputs,"
                " created = excluded.created, last_used = excluded.last_used",
                (key, parent, image_id, created_by, json.dumps(inputs, sort_keys=True), now, now))

    def touch(self, keys: list[str], final: str | None = None) -> None:
        """Record that ``keys`` were used now; ``final`` is the key of the build's result."""
        if not keys and final is None:
            return
        now = time.time()
        with self.db.transaction() as conn:
            conn.executemany("UPDATE build_cache SET last_used = ? WHERE key = ?", [(now, k) for k in keys])
            if final is not None:
                conn.execute("UPDATE build_cache SET final = 1 WHERE key = ?", (final,))

    def forget(self, key: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM build_cache WHERE key = ?", (key,))

    def entries(self) -> list[Entry]:
        return [Entry.of(r) for r in self.db.conn.execute("SELECT * FROM build_cache ORDER BY created")]

    def clear(self) -> list[str]:
        """Drop every entry; the image ids they named (for the caller to remove)."""
        with self.db.transaction() as conn:
            ids = [r[0] for r in conn.execute("SELECT DISTINCT image_id FROM build_cache")]
            conn.execute("DELETE FROM build_cache")
        return ids


def intermediate_ids(db: Database) -> set[str]:
    """Images that only ever were a build's intermediate step (``berth images`` hides
    them unless ``-a``, as Docker hides intermediate images)."""
    rows = db.conn.execute("SELECT image_id FROM build_cache GROUP BY image_id HAVING max(final) = 0")
    return {r[0] for r in rows}
