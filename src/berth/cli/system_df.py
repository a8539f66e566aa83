"""``berth system df``: disk usage by kind, with what is reclaimable.

Each layer that keeps data on disk contributes rows through ``DF_SOURCES``: a callable
taking the click context and returning objects with ``type``, ``total``, ``active``,
``size`` and ``reclaimable`` (berth.store.usage.UsageRow has that shape). The engine adds
Containers, Local Volumes and Logs.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import click

from berth.cli._format import ago, echo_table, human_size, render
from berth.cli._store import store_of

DF_SOURCES: list[str] = ["berth.cli.system_df:store_rows", "berth.cli.builder:df_rows",
                         "berth.cli.system_engine:df_rows"]
ROW_ORDER = ("Images", "Containers", "Local Volumes", "Build Cache", "Logs")


def store_rows(ctx: click.Context) -> Iterable[Any]:
    return store_of(ctx).disk_usage()


def _source(spec: str) -> Callable[[click.Context], Iterable[Any]]:
    module, _, attr = spec.partition(":")
    fn: Callable[[click.Context], Iterable[Any]] = getattr(importlib.import_module(module), attr)
    return fn


@dataclass(frozen=True)
class _Row:
    type: str
    total: int
    active: int
    size: int
    reclaimable: int


def _merged(rows: list[Any]) -> list[Any]:
    """One row per type: several layers may report the same kind (the store's empty
    Build Cache row, and the build system's)."""
    by_type: dict[str, Any] = {}
    for row in rows:
        old = by_type.get(row.type)
        by_type[row.type] = row if old is None else _Row(row.type, old.total + row.total, old.active + row.active,
                                                          old.size + row.size, old.reclaimable + row.reclaimable)
    return list(by_type.values())


def _reclaimable(row: Any) -> str:
    if row.size <= 0:
        return human_size(row.reclaimable, 4)
    return f"{human_size(row.reclaimable, 4)} ({int(100 * row.reclaimable / row.size)}%)"


@click.command("df", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show per-image usage as well.")
@click.option("--format", "fmt", metavar="FORMAT", help="'json' or a Go-style template, e.g. '{{.Type}} {{.Size}}'.")
@click.pass_context
def df(ctx: click.Context, verbose: bool, fmt: str | None) -> None:
    """Show disk usage: images (blobs and unpacked layers, each shared one counted once)
    and build cache, with how much `berth system prune` could reclaim.

    \b
    Examples:
      berth system df
      berth system df -v
      berth system df --format '{{.Type}}: {{.Size}}'
    """
    rows = _merged([row for spec in DF_SOURCES for row in _source(spec)(ctx)])
    rows.sort(key=lambda r: ROW_ORDER.index(r.type) if r.type in ROW_ORDER else len(ROW_ORDER))
    items = [{"Type": r.type, "TotalCount": str(r.total), "Active": str(r.active),
              "Size": human_size(r.size, 4), "Reclaimable": _reclaimable(r)} for r in rows]
    if fmt == "json":
        for item in items:
            click.echo(json.dumps(item, separators=(",", ":")))
        return
    if fmt:
        for item in items:
            click.echo(render(fmt, item))
        return
    if not verbose:
        echo_table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
                   [[i["Type"], i["TotalCount"], i["Active"], i["Size"], i["Reclaimable"]] for i in items])
        return
    from berth.store.inspect import parse_time
    from berth.store.usage import image_usage

    click.echo("Images space usage:\n")
    table = []
    for usage in image_usage(store_of(ctx)):
        names = [n.rsplit(":", 1) for n in usage.names] or [["<none>", "<none>"]]
        for repo, tag in names:
            table.append([repo, tag, usage.image_id.short, ago(parse_time(usage.created)), human_size(usage.size, 4),
                          human_size(usage.shared, 4), human_size(usage.size - usage.shared, 4),
                          str(usage.containers)])
    echo_table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"],
               table)
    for item in items:
        if item["Type"] != "Images":
            click.echo(f"\n{item['Type']}: {item['TotalCount']} ({item['Size']}, {item['Reclaimable']} reclaimable)")
