"""One SQLite file (WAL) per berth root, shared by every berth process.

SQLite serialises writers: ``transaction()`` takes the write lock at BEGIN IMMEDIATE
and waits up to ``busy_timeout`` for it, so fifty ``berth run`` commands at once queue
instead of failing. Reads outside a transaction see the last committed state.

Schema changes are SQL files under ``migrations/<component>/NNNN_name.sql``; each
layer owns a component (``images``, ``containers``, ``networks``…), so two layers
never edit the same file. Applied migrations are recorded in ``schema_migrations``;
``PRAGMA user_version`` holds the number applied, so an up-to-date database costs one
pragma read to open.

Durability: ``synchronous=NORMAL`` in WAL mode keeps the database consistent through
any crash and loses no committed transaction when a process dies; only a power cut
can lose the last transactions, never consistency.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from collections.abc import Iterator

from berth.errors import Internal

MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")
BUSY_TIMEOUT_MS = 30_000


@functools.cache
def _migrations() -> list[tuple[str, int, str]]:
    """(component, version, path), ordered by component then version."""
    found = []
    for component in sorted(os.listdir(MIGRATIONS)):
        folder = os.path.join(MIGRATIONS, component)
        if not os.path.isdir(folder) or component.startswith(("_", ".")):
            continue
        for name in sorted(os.listdir(folder)):
            if name.endswith(".sql") and name[:4].isdigit():
                found.append((component, int(name[:4]), os.path.join(folder, name)))
    return found


class Database:
    """A berth root's metadata database. One connection per thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    @property
    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        self._migrate(conn)
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        known = _migrations()
        if conn.execute("PRAGMA user_version").fetchone()[0] == len(known):
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " component TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (component, version))"
            )
            done = {(r[0], r[1]) for r in conn.execute("SELECT component, version FROM schema_migrations")}
            for component, version, path in known:
                if (component, version) in done:
                    continue
                with open(path) as f:
                    script = f.read()
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (component, version))
            conn.execute(f"PRAGMA user_version = {len(known)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: BEGIN IMMEDIATE … COMMIT, rolled back on any error."""
        conn = self.conn
        if conn.in_transaction:
            raise Internal("database: nested transaction")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _statements(script: str) -> list[str]:
    # sqlite3.complete_statement tells where a statement ends, triggers included.
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def open_database(root: str) -> Database:
    os.makedirs(root, mode=0o711, exist_ok=True)
    return Database(os.path.join(root, "berth.db"))
