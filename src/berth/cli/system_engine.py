"""The engine's parts of ``berth system df`` and ``berth system prune``: containers
(their writable layers), local volumes and logs; stopped containers, unused networks
and (with --volumes) unused volumes."""

from __future__ import annotations

import os
from collections.abc import Iterable

import click

from berth.cli.containers import engine_of
from berth.store.usage import UsageRow


def _tree_size(path: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                continue
    return total


def df_rows(ctx: click.Context) -> Iterable[UsageRow]:
    engine = engine_of(ctx)
    views = engine.containers(all_=True)
    sizes = {}
    logs = 0
    for view in views:
        try:
            sizes[view.id] = _tree_size(engine.store.snapshots.layout(view.id).upper)
        except Exception:  # noqa: BLE001 - a container whose snapshot is gone counts as empty
            sizes[view.id] = 0
        folder = engine.paths(view.id).dir
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            if "-json.log" in name:
                logs += os.lstat(os.path.join(folder, name)).st_blocks * 512
    running = [v for v in views if v.running]
    yield UsageRow("Containers", len(views), len(running), sum(sizes.values()),
                   sum(sizes[v.id] for v in views if not v.running))
    volumes = engine.volumes.all()
    used = {v.name for v in volumes if engine.volume_users(v.name)}
    vol_sizes = {v.name: engine.volumes.size(v.name) for v in volumes}
    yield UsageRow("Local Volumes", len(volumes), len(used), sum(vol_sizes.values()),
                   sum(s for n, s in vol_sizes.items() if n not in used))
    stopped_logs = 0
    for view in views:
        if not view.running:
            folder = engine.paths(view.id).dir
            stopped_logs += sum(os.lstat(os.path.join(folder, n)).st_blocks * 512
                                for n in (os.listdir(folder) if os.path.isdir(folder) else []) if "-json.log" in n)
    yield UsageRow("Logs", len(views), len(running), logs, stopped_logs)


class _ContainerPruner:
    def describe(self, all_unused: bool) -> list[str]:
        return ["all stopped containers", "all networks not used by at least one container"]

    def run(self, ctx: click.Context, all_unused: bool, filters: tuple[str, ...]) -> tuple[list[str], int]:
        engine = engine_of(ctx)
        reclaimed = 0
        for view in engine.containers(all_=True):
            if not view.running:
                try:
                    reclaimed += _tree_size(engine.store.snapshots.layout(view.id).upper)
                except Exception:  # noqa: BLE001 - already gone
                    pass
        removed = engine.prune()
        lines: list[str] = []
        if removed:
            lines += ["Deleted Containers:", *removed, ""]
        networks = engine.network.prune()
        if networks:
            lines += ["Deleted Networks:", *networks, ""]
        return lines, reclaimed


class _VolumePruner:
    """Only with ``berth system prune --volumes`` (see system_prune.py)."""

    def describe(self, all_unused: bool) -> list[str]:
        return ["all anonymous volumes not used by at least one container"]

    def run(self, ctx: click.Context, all_unused: bool, filters: tuple[str, ...]) -> tuple[list[str], int]:
        engine = engine_of(ctx)
        removed, reclaimed = [], 0
        for vol in engine.volumes.all():
            if vol.anonymous and not engine.volume_users(vol.name):
                reclaimed += engine.volumes.size(vol.name)
                engine.volumes.remove(vol.name, [])
                removed.append(vol.name)
        return (["Deleted Volumes:", *removed, ""] if removed else []), reclaimed


CONTAINERS = _ContainerPruner()
VOLUMES = _VolumePruner()
