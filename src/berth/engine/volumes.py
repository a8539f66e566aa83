"""Named volumes: folders under ``$BERTH_ROOT/volumes/<name>/_data`` that outlive containers.

A volume mounted into a container for the first time, while still empty, is filled
with what the image has at that path (the runtime's ``copyup`` mount option), as
Docker fills a new volume. Anonymous volumes (``-v /data``) get a random 64-hex name
and go with their container on ``rm -v``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import time
from dataclasses import dataclass, field

from berth.errors import AlreadyExists, Conflict, InvalidArgument, VolumeNotFound
from berth.state import Database

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, slots=True)
class Volume:
    name: str
    driver: str
    created: str
    mountpoint: str
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False

    def to_docker(self) -> dict[str, object]:
        return {
            "Name": self.name,
            "Driver": self.driver,
            "Mountpoint": self.mountpoint,
            "CreatedAt": self.created,
            "Labels": self.labels or None,
            "Scope": "local",
            "Options": self.options or None,
        }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Volumes:
    def __init__(self, db: Database, root: str) -> None:
        self.db = db
        self.base = os.path.join(root, "volumes")

    def _mountpoint(self, name: str) -> str:
        return os.path.join(self.base, name, "_data")

    def _from_row(self, row: sqlite3.Row) -> Volume:
        return Volume(row["name"], row["driver"], row["created"], self._mountpoint(row["name"]),
                      json.loads(row["labels"]), json.loads(row["options"]), bool(row["anonymous"]))

    def create(self, name: str = "", *, labels: dict[str, str] | None = None, driver: str = "local",
               options: dict[str, str] | None = None, exist_ok: bool = True) -> Volume:
        anonymous = not name
        name = name or secrets.token_hex(32)
        if not _NAME.match(name):
            raise InvalidArgument(f"invalid volume name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        if driver != "local":
            raise InvalidArgument(f"volume driver {driver!r}: only 'local' is available")
        folder = self._mountpoint(name)
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO volumes (name, driver, created, labels, options, anonymous) VALUES (?,?,?,?,?,?)",
                    (name, driver, _now(), json.dumps(labels or {}), json.dumps(options or {}), int(anonymous)),
                )
                os.makedirs(folder, mode=0o755, exist_ok=True)
        except sqlite3.IntegrityError as err:
            if not exist_ok:
                raise AlreadyExists(f"volume {name}: already exists") from err
        return self.get(name)

    def get(self, name: str) -> Volume:
        row = self.db.conn.execute("SELECT * FROM volumes WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise VolumeNotFound(f"get {name}: no such volume")
        return self._from_row(row)

    def all(self) -> list[Volume]:
        return [self._from_row(r) for r in self.db.conn.execute("SELECT * FROM volumes ORDER BY name")]

    def remove(self, name: str, users: list[str], *, force: bool = False) -> None:
        self.get(name)
        if users and not force:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM volumes WHERE name = ?", (name,))
        shutil.rmtree(os.path.join(self.base, name), ignore_errors=True)

    def size(self, name: str) -> int:
        total = 0
        for dirpath, _, files in os.walk(self._mountpoint(name)):
            for f in files:
                try:
                    total += os.lstat(os.path.join(dirpath, f)).st_size
                except OSError:
                    continue
        return total
