"""The containers table: the engine's own queries (see state/migrations/containers)."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass

from berth.engine.model import ContainerConfig
from berth.errors import AlreadyExists, ContainerNotFound, InvalidArgument
from berth.state import Database

NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


@dataclass(frozen=True, slots=True)
class ContainerRecord:
    id: str
    name: str
    image: str
    image_id: str
    created: str
    config: ContainerConfig

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ContainerRecord:
        return cls(row["id"], row["name"], row["image"], row["image_id"], row["created"],
                   ContainerConfig.from_json(row["config"]))


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise InvalidArgument(f"invalid container name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name.lstrip("/")


def insert(db: Database, rec: ContainerRecord) -> None:
    try:
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO containers (id, name, image, image_id, created, config, labels) VALUES (?,?,?,?,?,?,?)",
                (rec.id, rec.name, rec.image, rec.image_id, rec.created, rec.config.to_json(),
                 json.dumps(rec.config.labels)),
            )
    except sqlite3.IntegrityError as err:
        owner = db.conn.execute("SELECT id FROM containers WHERE name = ?", (rec.name,)).fetchone()
        if owner is not None:
            raise AlreadyExists(
                f'Conflict. The container name "/{rec.name}" is already in use by container "{owner["id"]}". '
                "You have to remove (or rename) that container to be able to reuse that name."
            ) from err
        raise


def delete(db: Database, container_id: str) -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM containers WHERE id = ?", (container_id,))


def rename(db: Database, container_id: str, name: str) -> None:
    try:
        with db.transaction() as conn:
            conn.execute("UPDATE containers SET name = ? WHERE id = ?", (name, container_id))
    except sqlite3.IntegrityError as err:
        raise AlreadyExists(f"container name {name!r} is already in use") from err


def all_records(db: Database) -> list[ContainerRecord]:
    rows = db.conn.execute("SELECT * FROM containers ORDER BY created DESC").fetchall()
    return [ContainerRecord.from_row(r) for r in rows]


def resolve(db: Database, ref: str) -> ContainerRecord:
    """By full id, name (with or without '/'), or a unique id prefix — as Docker does."""
    ref = ref.strip()
    if not ref:
        raise ContainerNotFound("No such container: ")
    conn = db.conn
    row = conn.execute("SELECT * FROM containers WHERE id = ?", (ref,)).fetchone()
    if row is None:
        row = conn.execute("SELECT * FROM containers WHERE name = ?", (ref.lstrip("/"),)).fetchone()
    if row is None and re.fullmatch(r"[0-9a-f]{1,64}", ref):
        rows = conn.execute("SELECT * FROM containers WHERE id LIKE ? LIMIT 2", (ref + "%",)).fetchall()
        if len(rows) > 1:
            raise InvalidArgument(f"multiple containers match the prefix {ref!r}")
        row = rows[0] if rows else None
    if row is None:
        raise ContainerNotFound(f"No such container: {ref}")
    return ContainerRecord.from_row(row)


def using_image(db: Database, image_id: str) -> list[str]:
    return [r["id"] for r in db.conn.execute("SELECT id FROM containers WHERE image_id = ?", (image_id,))]
