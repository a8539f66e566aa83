"""``berth system prune``: reclaim space from everything unused.

Each layer contributes a pruner through ``PRUNERS`` ("module:attribute" of an object
with ``describe(all_unused) -> list[str]`` for the warning and ``run(ctx, all_unused,
filters) -> tuple[list[str], int]`` returning lines to print and bytes reclaimed).
The engine adds stopped containers and unused networks ahead of images, so that
images they held become unused first.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from berth.cli._format import human_size
from berth.cli._store import confirm, store_of
from berth.cli.image_prune import parse_prune_filters

PRUNERS: list[str] = ["berth.cli.system_engine:CONTAINERS", "berth.cli.system_prune:IMAGES"]


class _ImagePruner:
    def describe(self, all_unused: bool) -> list[str]:
        return ["all images without at least one container associated to them" if all_unused
                else "all dangling images", "unused build cache and unused layers and blobs"]

    def run(self, ctx: click.Context, all_unused: bool, filters: tuple[str, ...]) -> tuple[list[str], int]:
        from berth.store.gc import prune_images

        until, labels = parse_prune_filters(filters)
        actions, reclaimed = prune_images(store_of(ctx), all_unused=all_unused, until=until, labels=labels)
        lines = ["Deleted Images:", *(f"{a.lower()}: {s}" for a, s in actions), ""] if actions else []
        return lines, reclaimed


IMAGES = _ImagePruner()


def _pruner(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


@click.command("prune", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-a", "--all", "all_unused", is_flag=True, help="Remove all unused images, not just dangling ones.")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.option("--filter", "filters", multiple=True, metavar="FILTER",
              help="until=DURATION|TIME, label=KEY[=VALUE]. Repeatable.")
@click.option("--volumes", is_flag=True, help="Also remove anonymous volumes no container uses.")
@click.pass_context
def prune(ctx: click.Context, all_unused: bool, force: bool, filters: tuple[str, ...], volumes: bool) -> None:
    """Remove unused data: stopped containers, networks no container uses, dangling
    images (all unused ones with -a), unused build cache, and the layers and blobs no
    image or container needs; with --volumes, unused anonymous volumes. What a running
    container or an image still uses is never removed.

    \b
    Examples:
      berth system prune
      berth system prune -af --volumes
    """
    parse_prune_filters(filters)  # bad input is refused before anything is removed (and before the question)
    specs = PRUNERS + (["berth.cli.system_engine:VOLUMES"] if volumes else [])
    pruners = [_pruner(spec) for spec in specs]
    lines = [f"  - {line}" for p in pruners for line in p.describe(all_unused)]
    if not confirm("WARNING! This will remove:\n" + "\n".join(lines) + "\n\nAre you sure you want to continue?",
                   force):
        return
    total = 0
    for p in pruners:
        out, reclaimed = p.run(ctx, all_unused, filters)
        for line in out:
            click.echo(line)
        total += reclaimed
    click.echo(f"Total reclaimed space: {human_size(total)}")
