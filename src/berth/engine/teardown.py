"""Forgetting a container: what ``rm`` does, and what a ``--rm`` shim does at the end.

A leaf of the engine: the facade (engine.py) and the shim both call it, and it imports
neither, so the shim never loads the engine and the engine's import of the shim's
pieces stays one-way. The store and the network code are imported only when a
container is really torn down (a running shim never loads them).

Order: the runtime's leftovers, the network, the snapshot, the files, the record,
then the anonymous volumes (``-v``) and the ``destroy`` event.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from berth.engine import events, records
from berth.engine.paths import ContainerPaths, runtime_root
from berth.engine.records import ContainerRecord
from berth.engine.volumes import Volumes
from berth.errors import BerthError, NotFound

if TYPE_CHECKING:
    from berth.engine.shimconfig import ShimConfig
    from berth.state import Database
    from berth.store import Store


class _Deleter(Protocol):
    def delete(self, container_id: str, *, force: bool = False) -> None: ...


@dataclass(frozen=True, slots=True)
class Teardown:
    """What removing a container needs, passed in by whoever removes it."""

    root: str
    run_root: str
    db: Database
    runtime: _Deleter
    store: Callable[[], Store]  # opened only when needed
    release_network: Callable[[str], None]

    def destroy(self, rec: ContainerRecord, *, volumes: bool) -> None:
        paths = ContainerPaths(self.root, self.run_root, rec.id)
        with contextlib.suppress(BerthError, OSError):
            self.runtime.delete(rec.id, force=True)
        if uses_sandbox(rec.config.network):
            self.release_network(rec.id)
        self.remove_snapshot(rec.id)
        anonymous = self._anonymous_volumes(paths) if volumes else []
        shutil.rmtree(paths.dir, ignore_errors=True)
        shutil.rmtree(paths.run_dir, ignore_errors=True)
        records.delete(self.db, rec.id)
        vols = Volumes(self.db, self.root)
        for name in anonymous:
            with contextlib.suppress(BerthError):
                vols.remove(name, volume_users(self.db, self.root, self.run_root, name))
        with contextlib.suppress(OSError):
            events.container_event(self.root, "destroy", rec.id, rec.name, rec.image, rec.config.labels)

    def remove_snapshot(self, container_id: str) -> None:
        with contextlib.suppress(NotFound):
            self.store().snapshots.remove(container_id)

    def _anonymous_volumes(self, paths: ContainerPaths) -> list[str]:
        spec = _read_text(os.path.join(paths.bundle, "config.json"))
        if spec is None:
            return []
        return [v.name for v in Volumes(self.db, self.root).all() if v.anonymous and v.mountpoint in spec]


def uses_sandbox(network: str) -> bool:
    """Bridge and user networks get a network namespace of berth's (a sandbox)."""
    return network not in ("none", "host") and not network.startswith("container:")


def volume_users(db: Database, root: str, run_root: str, name: str) -> list[str]:
    """Ids of the containers whose bundle mounts volume ``name``."""
    mountpoint = Volumes(db, root).get(name).mountpoint
    users = []
    for rec in records.all_records(db):
        spec = _read_text(os.path.join(ContainerPaths(root, run_root, rec.id).bundle, "config.json"))
        if spec is not None and mountpoint in spec:
            users.append(rec.id)
    return users


def _read_text(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def remove_after_exit(cfg: ShimConfig) -> None:
    """``--rm``: called by the shim once its container has exited for good."""
    from berth.runtime.linux import LinuxRuntime
    from berth.state import open_database

    db = open_database(cfg.root)

    def store() -> Store:
        from berth.store import open_store

        return open_store(cfg.root, db)

    def release_network(container_id: str) -> None:
        from berth.network import NetworkConfig, NetworkManager

        with contextlib.suppress(BerthError, OSError):
            NetworkManager(db, cfg.root, cfg.run_root, config=NetworkConfig.from_env(cfg.network_env)).release(
                container_id)

    try:
        rec = records.resolve(db, cfg.id)
    except NotFound:
        return
    try:
        Teardown(cfg.root, cfg.run_root, db, LinuxRuntime(runtime_root(cfg.run_root)), store,
                 release_network).destroy(rec, volumes=True)
    finally:
        db.close()
