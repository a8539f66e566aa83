"""``berth builder``: the build cache (``builder prune``), and its ``system df`` row."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass

import click

from berth.cli._format import human_size
from berth.cli._store import confirm, store_of

CTX = {"help_option_names": ["-h", "--help"]}


@click.group("builder", context_settings=CTX)
def builder() -> None:
    """Manage the build cache.

    \b
    Examples:
      berth builder prune -f
    """


@builder.command("prune", context_settings=CTX)
@click.option("-a", "--all", "all_", is_flag=True, help="Accepted for compatibility: all build cache is removed.")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_context
def prune(ctx: click.Context, all_: bool, force: bool) -> None:
    """Remove the build cache: the cached step images no tag or container uses,
    and the RUN --mount=type=cache folders; then the layers nothing needs any more.
    """
    from berth.builder.cache import BuildCache
    from berth.builder.steps import walk_cache_folders
    from berth.errors import Conflict, NotFound
    from berth.oci.digest import Digest

    if not confirm("WARNING! This will remove all build cache.\nAre you sure you want to continue?", force):
        return
    store = store_of(ctx)
    settings = ctx.find_root().obj
    reclaimed = 0
    removed = 0
    for image_id in BuildCache(store.db).clear():
        try:
            image = store.images.get(image_id)
        except NotFound:
            continue
        if image.repo_tags or image.repo_digests or store.images.users(image.id):
            continue
        try:
            store.images.remove(str(Digest.parse(image_id)), force=True, prune=False)
            removed += 1
        except (NotFound, Conflict):
            continue
    for folder in walk_cache_folders(settings.root):
        reclaimed += _size(folder)
        shutil.rmtree(folder, ignore_errors=True)
    result = store.gc()
    reclaimed += result.reclaimed
    for name in ("parsed", "contexts"):
        shutil.rmtree(os.path.join(settings.root, "build", name), ignore_errors=True)
    click.echo(f"Deleted build cache objects: {removed}")
    click.echo(f"Total reclaimed space: {human_size(reclaimed)}")


def _size(folder: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


@dataclass(frozen=True)
class CacheRow:
    type: str
    total: int
    active: int
    size: int
    reclaimable: int


def df_rows(ctx: click.Context) -> Iterable[CacheRow]:
    """The ``Build Cache`` row of ``berth system df``: cached step images and cache mounts."""
    from berth.builder.cache import intermediate_ids
    from berth.builder.steps import walk_cache_folders
    from berth.errors import NotFound
    from berth.store.store import LAYER_BYTES

    store = store_of(ctx)
    ids = intermediate_ids(store.db)
    chains: dict[str, set[str]] = {}
    for image_id, chain in store.db.conn.execute("SELECT image_id, chain_id FROM image_layers"):
        chains.setdefault(chain, set()).add(image_id)
    size = 0
    for chain, users in chains.items():
        if users <= ids:  # only cached steps need this layer
            try:
                size += int(store.snapshots.stat(chain).labels.get(LAYER_BYTES, "0"))
            except NotFound:
                continue
    folders = list(walk_cache_folders(ctx.find_root().obj.root))
    size += sum(_size(f) for f in folders)
    yield CacheRow("Build Cache", len(ids) + len(folders), 0, size, size)
