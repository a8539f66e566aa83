"""Opening the store for a CLI command (one place, so every verb opens it alike)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from berth.store import Store


def store_of(ctx: click.Context) -> Store:
    from berth.state import open_database
    from berth.store import open_store

    settings = ctx.find_root().obj
    return open_store(settings.root, open_database(settings.root))


def confirm(question: str, force: bool) -> bool:
    """Docker's ``[y/N]`` prompt; ``force`` skips it."""
    if force:
        return True
    click.echo(question + " [y/N] ", nl=False)
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")
