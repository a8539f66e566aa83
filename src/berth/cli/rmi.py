"""``berth rmi`` (also ``berth image rm``): remove images."""

from __future__ import annotations

import sys

import click

from berth.cli._store import store_of
from berth.errors import BerthError


@click.command("rmi", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("-f", "--force", is_flag=True,
              help="Remove even when the image has several names or a container uses it (the container "
                   "keeps its layers; only the image and its names go).")
@click.option("--no-prune", is_flag=True, help="Keep the layers and blobs no image needs any more.")
@click.pass_context
def rmi(ctx: click.Context, images: tuple[str, ...], force: bool, no_prune: bool) -> None:
    """Remove images. A name removes that name, and the image with its last name; an ID
    removes the image with all its names. Prints what was untagged and deleted.

    \b
    Examples:
      berth rmi busybox:latest
      berth rmi -f 3f2a9c1b2d4e
    """
    store = store_of(ctx)
    failed = False
    for ref in images:
        try:
            for action, subject in store.images.remove(ref, force=force, prune=not no_prune):
                click.echo(f"{action}: {subject}")
        except BerthError as err:
            click.echo(f"berth: {err}", err=True)
            failed = True
    if failed:
        sys.exit(1)
